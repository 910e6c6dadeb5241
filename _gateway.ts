// The rules of the gateway side of PEP 3333, in one place for both
// gateways: BaseHandler (handlers.ts), which pushes a response out, and the
// Fetch bridge's Exchange (fetch.ts), whose Response pulls it. Each rule is
// one function, and each mistake has one message that names it and says the
// fix (wsgiref's wording kept where it was clear). Beside them, what both
// gateways share: the error page, the server's name, and small helpers for
// promises, messages, errors and bytes.
//
// Error classes: a WSGI rule broken (status format, hop-by-hop header,
// second startResponse, body shape, order) is an AssertionError, as
// wsgiref's asserts; a value of the wrong type, or one that cannot go on
// the wire (see _field.ts), is a TypeError.

import { checkHeader, checkHeaderValue } from "./_field.ts";
import { isHopByHop } from "./util.ts";
import type { HeaderList, ResponseBody } from "./types.ts";

/**
 * The error wsgiref raises for a broken WSGI rule (Python's `AssertionError`):
 * an `Error` whose `name` is `"AssertionError"`. The handlers and the Fetch
 * bridge throw it for a bad status line, a second `startResponse`, a body
 * of the wrong shape; `validator` for every rule.
 *
 * @example Telling a broken WSGI rule from other errors
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { AssertionError, validator } from "@wsgiref/wsgiref/validate";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app = validator((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new Uint8Array(0)];
 * });
 * let caught: unknown;
 * try {
 *   app({} as WSGIEnvironment, () => () => {});
 * } catch (e) {
 *   caught = e;
 * }
 * assertEquals(caught instanceof AssertionError, true); // the environ is empty
 * ```
 */
export class AssertionError extends Error {
  /** Makes an error with `message`; `options.cause` is kept. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionError";
  }
}

/** Throws an {@linkcode AssertionError} with `message` unless `cond` holds. */
export function check(
  cond: unknown,
  message: string | (() => string),
): asserts cond {
  if (!cond) {
    throw new AssertionError(
      typeof message === "function" ? message() : message,
    );
  }
}

// ---------------------------------------------------------------- shared

/** wsgiref's `simple_server.server_version`: the default `SERVER_SOFTWARE`. */
export const SERVER_VERSION = "WSGIServer/0.2";

/** The status of wsgiref's error page. */
export const ERROR_STATUS = "500 Internal Server Error";

/**
 * The body of wsgiref's error page: one array for every handler, never
 * written to.
 */
export const ERROR_BODY: Uint8Array = new TextEncoder().encode(
  "A server error occurred.  Please contact the administrator.",
);

/** `wsgi.version`. */
export const WSGI_VERSION: readonly [number, number] = Object.freeze(
  [1, 0] as const,
);

/** An empty body chunk. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** True for a promise or any thenable. */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * A value as a message shows it: `the string "abc"`, `the number 5`,
 * `undefined`, `null`, `an array of length 2`, `an object (Map)`.
 */
export function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "string") {
    const s = value.length > 60 ? value.slice(0, 57) + "..." : value;
    return `the string ${JSON.stringify(s)}`;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "object") {
    return `an object (${value.constructor?.name ?? "no prototype"})`;
  }
  return `the ${typeof value} ${String(value)}`;
}

/**
 * Formats a thrown value for the error log, as Python's traceback does:
 * `Name: message`, the stack, then each `cause` in turn. Ends in a newline.
 */
export function formatError(error: unknown): string {
  let out = "";
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (true) {
    seen.add(current);
    out += formatOne(current);
    if (!(current instanceof Error) || current.cause === undefined) break;
    if (seen.has(current.cause)) break;
    out += "\nCaused by: ";
    current = current.cause;
  }
  return out.endsWith("\n") ? out : out + "\n";
}

function formatOne(error: unknown): string {
  if (!(error instanceof Error)) {
    return `Uncaught ${Deno.inspect(error)}`;
  }
  const header = `${error.name}: ${error.message}`;
  const stack = typeof error.stack === "string" ? error.stack : "";
  if (stack.startsWith(header)) return stack;
  // The stack's first lines were written under another name: keep the frames.
  const frames = stack.split("\n").filter((l) => /^\s+at /.test(l));
  return frames.length ? `${header}\n${frames.join("\n")}` : header;
}

/** The chunks as one array: the chunk itself when there is one, else a copy. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Calls `body.close()` if the body has one, and returns what it returns (a
 * promise when it is async). The caller makes sure it runs once.
 */
export function callClose(body: unknown): unknown {
  if (body === null || typeof body !== "object") return undefined;
  const close = (body as { close?: unknown }).close;
  if (typeof close === "function") return close.call(body);
  return undefined;
}

// ---------------------------------------------------------------- startResponse

/** A `TypeError` unless `value` is a string; `what` names it. */
export function checkString(
  value: unknown,
  what: string,
): asserts value is string {
  if (typeof value !== "string") {
    throw new TypeError(
      `${what} must be of type string (got ${describe(value)})`,
    );
  }
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/**
 * The status line rule, as wsgiref's `_validate_status` (at least 4
 * characters, 3 digits, then a space), after the type; then the characters,
 * as any value in a response head (no CR, LF or other control character,
 * ISO-8859-1).
 */
export function checkStatus(status: unknown): asserts status is string {
  if (typeof status !== "string") {
    throw new TypeError(
      `Status must be of type string (got ${describe(status)}): ` +
        'pass the status line, such as "200 OK"',
    );
  }
  if (status.length < 4) {
    throw badStatus(status, "Status must be at least 4 characters");
  }
  if (!isDigit(status, 0) || !isDigit(status, 1) || !isDigit(status, 2)) {
    throw badStatus(status, "Status message must begin w/3-digit code");
  }
  if (status.charCodeAt(3) !== 0x20) {
    throw badStatus(status, "Status message must have a space after code");
  }
  checkHeaderValue(status, "Status");
}

/** wsgiref's message for a status line of the wrong form, and the form. */
function badStatus(status: string, message: string): AssertionError {
  return new AssertionError(
    `${message} (got ${JSON.stringify(status)}): a status is a 3-digit ` +
      'code, a space and a reason, such as "200 OK" or "404 Not Found"',
  );
}

/**
 * The shape of a header list: an array of `[name, value]` string pairs,
 * each a valid field (see {@linkcode checkHeader}). `TypeError`s.
 */
export function checkHeaderList(
  headers: unknown,
): asserts headers is HeaderList {
  if (!Array.isArray(headers)) {
    throw new TypeError(
      `Headers must be an array of [name, value] pairs (got ${
        describe(headers)
      })`,
    );
  }
  for (let i = 0; i < headers.length; i++) checkPair(headers[i], i);
}

/** The `i`th header: a `[name, value]` pair of strings that make a valid field. */
function checkPair(pair: unknown, i: number): void {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new TypeError(
      `Each header must be a [name, value] pair (got ${
        describe(pair)
      } at index ${i})`,
    );
  }
  const name: unknown = pair[0];
  const value: unknown = pair[1];
  checkString(name, "Header name");
  checkString(value, "Header value");
  checkHeader(name, value);
}

/**
 * What `startResponse` checks, in wsgiref's order: the status (see
 * {@linkcode checkStatus}), then the headers (see
 * {@linkcode checkResponseHeaders}).
 */
export function checkStartResponse(
  status: unknown,
  headers: unknown,
): asserts headers is HeaderList {
  checkStatus(status);
  checkResponseHeaders(headers);
}

/**
 * The headers `startResponse` takes: the list's shape and each field (see
 * {@linkcode checkHeaderList}), and no hop-by-hop header (the server owns
 * the connection and the framing).
 */
export function checkResponseHeaders(
  headers: unknown,
): asserts headers is HeaderList {
  checkHeaderList(headers);
  checkNoHopByHop(headers);
}

/**
 * No hop-by-hop header (`Connection`, `Transfer-Encoding`, …) in the app's
 * list: the server owns the connection and the framing. Checked at
 * `startResponse`, and again before the head is framed, since the app may
 * have pushed one onto its list since.
 */
export function checkNoHopByHop(headers: Iterable<readonly string[]>): void {
  for (const [name, value] of headers) {
    if (isHopByHop(name)) {
      throw new AssertionError(
        `Hop-by-hop header, '${name}: ${value}', not allowed: the server ` +
          "manages the connection and the framing; leave it out",
      );
    }
  }
}

/**
 * The head as it is about to be sent: the status and every header checked
 * again as values fit for the wire, since the app may have changed its
 * list (or a handler its status) after `startResponse`. `TypeError`s.
 */
export function checkHead(status: unknown, headers: Iterable<unknown>): void {
  checkString(status, "Status");
  checkHeaderValue(status, "Status");
  let i = 0;
  for (const pair of headers) checkPair(pair, i++);
}

/**
 * wsgiref's rule for a second `startResponse`: allowed only with `excInfo`
 * (to replace the status after a failure), and then only while the headers
 * are not sent; after that, `excInfo` is rethrown.
 *
 * @param started a previous call was accepted
 * @param headersSent the head went out (or counts as sent)
 * @param excInfo the third argument of this call
 */
export function checkRestart(
  started: boolean,
  headersSent: boolean,
  excInfo: unknown,
): void {
  if (excInfo !== undefined && excInfo !== null) {
    if (headersSent) throw excInfo;
  } else if (started) {
    throw new AssertionError(
      "Headers already set! startResponse() may be called again only " +
        "with the caught error as its third argument (excInfo), to replace " +
        "the status after a failure",
    );
  }
}

/**
 * The app's header list, to be wrapped in place (the handlers add
 * `Content-Length` to it, as wsgiref does), or a copy when it cannot be
 * changed (a frozen or sealed list).
 */
export function ownHeaderList(headers: HeaderList): [string, string][] {
  if (Object.isExtensible(headers)) return headers as [string, string][];
  return headers.map((pair) => [pair[0], pair[1]]);
}

// ---------------------------------------------------------------- the body

/**
 * The body an app returns: an iterable (sync or async) of chunks, with a
 * message naming what came back otherwise.
 */
export function checkBody(body: unknown): asserts body is ResponseBody {
  if (body === undefined || body === null) {
    throw new AssertionError(
      `The application returned ${describe(body)}: return an iterable of ` +
        "Uint8Array chunks, such as [new TextEncoder().encode(text)], or [] " +
        "for no body (did a return statement go missing?)",
    );
  }
  if (typeof body === "string") {
    throw new AssertionError(
      "The application returned a string: a body is Uint8Array chunks; " +
        "return [new TextEncoder().encode(text)] instead",
    );
  }
  if (body instanceof Uint8Array) {
    throw new AssertionError(
      "The application returned a bare Uint8Array: return [body] instead",
    );
  }
  if (
    typeof body !== "object" ||
    (typeof (body as Iterable<unknown>)[Symbol.iterator] !== "function" &&
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !==
        "function")
  ) {
    throw new AssertionError(
      `The application returned ${describe(body)}, which is not iterable: ` +
        "return an iterable of Uint8Array chunks (an array, a generator, " +
        "a ReadableStream)",
    );
  }
}

/** A chunk of the body: a `Uint8Array`. */
export function checkChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) {
    throw new AssertionError(
      `The response body yielded ${describe(chunk)}: body chunks must be ` +
        "Uint8Array; encode text with new TextEncoder().encode(text)",
    );
  }
}

/** The argument of `write()`: a `Uint8Array`. */
export function checkWriteData(data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new AssertionError(
      `write() argument must be a Uint8Array (got ${describe(data)}): ` +
        "encode text with new TextEncoder().encode(text)",
    );
  }
}

/** A chunk of the body came before `startResponse`. */
export function bodyBeforeStart(): AssertionError {
  return new AssertionError(
    "The response body yielded data before startResponse() was called: " +
      "call startResponse(status, headers) before the first chunk",
  );
}

/** The app (and its body) ended without calling `startResponse`. */
export function noStartResponse(): AssertionError {
  return new AssertionError(
    "The application returned without calling startResponse(): call " +
      "startResponse(status, headers) before returning the body",
  );
}

/** `write()` called when no response is under way. */
export function writeOutsideResponse(ended: boolean): AssertionError {
  return new AssertionError(
    ended
      ? "write() called after the response ended: the write() callable " +
        "is only valid until the application's body is closed"
      : "write() before startResponse(): call startResponse(status, " +
        "headers) first; it returns the write() callable",
  );
}
