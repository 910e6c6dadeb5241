// A request the server refuses: the status to answer with and why.

/**
 * A request the server must refuse: answer `status`, then close.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { HTTPError } from "./_http_error.ts";
 *
 * const e = new HTTPError(400, "bare CR in header field value");
 * assertEquals([e.status, e.message], [400, "bare CR in header field value"]);
 * ```
 */
export class HTTPError extends Error {
  /** The status to answer with (400, 413, 414, 431, 501, 505, ...). */
  readonly status: number;
  /** An error answered with `status`; `message` goes to the log and the body. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HTTPError";
    this.status = status;
  }
}

/** A 400 (Bad Request) refusal with `message`. */
export function badRequest(message: string): HTTPError {
  return new HTTPError(400, message);
}

/**
 * Reason phrases (RFC 9110 section 15) for the statuses the server itself
 * sends: interim 100, and the errors it answers without calling the app.
 */
export const STATUS_REASONS: Readonly<Record<number, string>> = Object.freeze({
  100: "Continue",
  400: "Bad Request",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
});
