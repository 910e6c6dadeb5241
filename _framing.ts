// The response-framing and persistence rules of HTTP/1.1 (RFC 9112
// sections 6.3 and 9.3), as small pure functions in the manner of h11's
// `_body_framing` and `_keep_alive`: how a response's body is delimited,
// and whether the connection carries another request after it.

/** How a response body is delimited on the wire. */
export const Framing = {
  /** By its Content-Length. */
  Length: 1,
  /** By the end of the connection (HTTP/1.0 without a length). */
  Close: 2,
  /** As HTTP/1.1 chunks. */
  Chunked: 3,
  /** No body at all: HEAD, 1xx, 204, 304; what the app writes is dropped. */
  None: 4,
} as const;
/** One of the {@linkcode Framing} values. */
export type Framing = typeof Framing[keyof typeof Framing];

/**
 * A response Content-Length as a number: 1 to 15 digits, else -1 (absent
 * or not a length the server can count).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { responseLength } from "./_framing.ts";
 *
 * assertEquals([responseLength("12"), responseLength("x")], [12, -1]);
 * ```
 */
export function responseLength(contentLength: string | undefined): number {
  if (contentLength === undefined) return -1;
  const n = contentLength.length;
  if (n === 0 || n > 15) return -1;
  for (let i = 0; i < n; i++) {
    const c = contentLength.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(contentLength);
}

/**
 * How the body of a response is framed (RFC 9112 section 6.3): none for
 * HEAD and for 1xx, 204 and 304; by its Content-Length when it has a valid
 * one; chunked for an HTTP/1.1 client; else by closing the connection.
 *
 * @param method the request method
 * @param status the response status code
 * @param contentLength the response's Content-Length value, if any
 * @param http11 true when the request was HTTP/1.1 (or a later 1.x)
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Framing, responseFraming } from "./_framing.ts";
 *
 * assertEquals(responseFraming("GET", 200, undefined, true), Framing.Chunked);
 * assertEquals(responseFraming("HEAD", 200, "5", true), Framing.None);
 * ```
 */
export function responseFraming(
  method: string,
  status: number,
  contentLength: string | undefined,
  http11: boolean,
): Framing {
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    return Framing.None;
  }
  if (contentLength !== undefined) {
    return responseLength(contentLength) >= 0 ? Framing.Length : Framing.Close;
  }
  return http11 ? Framing.Chunked : Framing.Close;
}

/**
 * True when the client lets the connection persist after its request
 * (RFC 9112 section 9.3): HTTP/1.1 unless `Connection: close`; HTTP/1.0
 * only with `Connection: keep-alive` (and no `close`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { requestKeepsAlive } from "./_framing.ts";
 *
 * assertEquals(requestKeepsAlive(1, false, false), true); // HTTP/1.1
 * assertEquals(requestKeepsAlive(0, false, false), false); // HTTP/1.0
 * ```
 */
export function requestKeepsAlive(
  minor: number,
  close: boolean,
  keepAlive: boolean,
): boolean {
  return !close && (minor >= 1 || keepAlive);
}

/**
 * True when the connection carries another request after this response:
 * the client lets it persist, the server is not closing it (shutting
 * down, or serving one request), and the body's end can be told without
 * closing.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Framing, keepsAlive } from "./_framing.ts";
 *
 * assertEquals(keepsAlive(true, Framing.Chunked, false), true);
 * assertEquals(keepsAlive(true, Framing.Close, false), false);
 * ```
 */
export function keepsAlive(
  requestKeepAlive: boolean,
  framing: Framing,
  closing: boolean,
): boolean {
  return requestKeepAlive && !closing && framing !== Framing.Close;
}

/**
 * The Connection header a response needs, if any: `close` to an HTTP/1.1
 * client when the connection ends, `keep-alive` to an HTTP/1.0 client when
 * it persists (HTTP/1.0 closes by default).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { connectionHeader } from "./_framing.ts";
 *
 * assertEquals(connectionHeader(true, false), "close");
 * assertEquals(connectionHeader(false, true), "keep-alive");
 * ```
 */
export function connectionHeader(
  http11: boolean,
  keepAlive: boolean,
): "close" | "keep-alive" | undefined {
  if (http11) return keepAlive ? undefined : "close";
  return keepAlive ? "keep-alive" : undefined;
}
