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
