/**
 * The gateway interface of PEP 3333, in TypeScript: the environ, the
 * `start_response` callable, the `write` callable, the application and
 * its response body, and the `wsgi.input` / `wsgi.errors` streams.
 *
 * These are types only; the concrete helpers live in `util.ts`.
 *
 * @example A typed WSGI application
 * ```ts
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`Hello ${environ.PATH_INFO}`)];
 * };
 * ```
 *
 * @module
 */

import type { FileWrapper } from "./util.ts";

/**
 * The synchronous byte stream behind `wsgi.input`: the request body.
 *
 * Servers read the whole body (up to a limit) before calling the app, so
 * every method is synchronous and returns bytes (`Uint8Array`), never
 * strings. An empty `Uint8Array` means end of input.
 *
 * @example Reading a form body
 * ```ts
 * import type { InputStream } from "@wsgiref/wsgiref/types";
 *
 * function readBody(input: InputStream, length: number): string {
 *   return new TextDecoder().decode(input.read(length));
 * }
 * ```
 */
export interface InputStream {
  /** Reads up to `size` bytes; all remaining bytes when `size` is omitted or negative. */
  read(size?: number): Uint8Array;
  /** Reads one line, up to and including `\n`, or at most `size` bytes. */
  readline(size?: number): Uint8Array;
  /** Reads lines until the end, or until about `hint` bytes were read. */
  readlines(hint?: number): Uint8Array[];
  /** Iterates over the remaining lines. */
  [Symbol.iterator](): Iterator<Uint8Array>;
  /**
   * Reads into `buffer` (as Python's `readinto`), returning how many bytes
   * were read; 0 at the end. Not in PEP 3333: the streams of this
   * library's servers have it, so that an app can read a large body
   * through one buffer of its own, where each `read()` makes a new array
   * (and the runtime frees dropped arrays only now and then).
   */
  readinto?(buffer: Uint8Array): number;
}

/**
 * The text stream behind `wsgi.errors`: where an app and a server write
 * diagnostics.
 *
 * @example Logging from an app
 * ```ts
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   environ["wsgi.errors"]?.write("handling a request\n");
 *   startResponse("204 No Content", []);
 *   return [];
 * };
 * ```
 */
export interface ErrorStream {
  /** Writes a string. */
  write(s: string): void;
  /** Writes each string in turn, adding no newlines. */
  writelines(lines: Iterable<string>): void;
  /** Flushes anything buffered. */
  flush(): void;
}

/**
 * A Python-style file-like object that {@linkcode FileWrapper} can read:
 * `read(size)` returns at most `size` bytes, and an empty array at the end.
 * `read` may also return a promise.
 *
 * @example An in-memory file-like
 * ```ts
 * import type { FileLike } from "@wsgiref/wsgiref/types";
 *
 * const data = new Uint8Array(100);
 * let pos = 0;
 * const file: FileLike = {
 *   read(size) {
 *     const chunk = data.subarray(pos, pos + size);
 *     pos += chunk.length;
 *     return chunk;
 *   },
 * };
 * ```
 */
export interface FileLike {
  /** Reads at most `size` bytes; an empty array at the end of the file. */
  read(size: number): Uint8Array | Promise<Uint8Array>;
  /** Closes the file, if it can be closed. */
  close?(): void | Promise<void>;
}

/**
 * The `wsgi.file_wrapper` callable: wraps a file-like object (or a
 * `Deno.FsFile`) as a response body that a server may send efficiently.
 *
 * @example Returning a file from an app
 * ```ts
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = async (environ, startResponse) => {
 *   const file = await Deno.open("README.md");
 *   startResponse("200 OK", [["Content-Type", "text/markdown"]]);
 *   return environ["wsgi.file_wrapper"]!(file, 65536);
 * };
 * ```
 */
export type FileWrapperFactory = (
  filelike: FileLike | Deno.FsFile,
  blksize?: number,
) => FileWrapper;

/**
 * The WSGI environ: a plain object of CGI variables and `wsgi.*` keys.
 *
 * CGI keys (`REQUEST_METHOD`, `PATH_INFO`, `HTTP_*`, …) hold *native
 * strings*: every code unit is 0–255, the request's bytes read as
 * ISO-8859-1. `PATH_INFO` is percent-decoded to bytes first. The `wsgi.*`
 * keys hold what PEP 3333 says. Every key is optional in the type so that
 * tests and helpers can build environs step by step; servers set all the
 * keys PEP 3333 requires.
 *
 * @example Reading the environ
 * ```ts
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * function describe(environ: WSGIEnvironment): string {
 *   return `${environ.REQUEST_METHOD} ${environ.PATH_INFO}?${environ.QUERY_STRING ?? ""}`;
 * }
 * ```
 */
export interface WSGIEnvironment {
  /** Any other CGI variable (`HTTP_*`) or server extension. */
  [key: string]: unknown;
  /** The request method, such as `"GET"`. */
  REQUEST_METHOD?: string;
  /** The part of the path that leads to the application; may be empty. */
  SCRIPT_NAME?: string;
  /** The rest of the path, percent-decoded, read as ISO-8859-1. */
  PATH_INFO?: string;
  /** The raw query string, without `?`; may be empty. */
  QUERY_STRING?: string;
  /** The request's `Content-Type`, if any. */
  CONTENT_TYPE?: string;
  /** The request body's length in decimal, if known. */
  CONTENT_LENGTH?: string;
  /** The server's host name. */
  SERVER_NAME?: string;
  /** The server's port, as a string. */
  SERVER_PORT?: string;
  /** The request's protocol, such as `"HTTP/1.1"`. */
  SERVER_PROTOCOL?: string;
  /** The server's name and version. */
  SERVER_SOFTWARE?: string;
  /** `"CGI/1.1"` under CGI-style servers. */
  GATEWAY_INTERFACE?: string;
  /** The client's address. */
  REMOTE_ADDR?: string;
  /** The client's host name, or its address. */
  REMOTE_HOST?: string;
  /** The request's `Host` header. */
  HTTP_HOST?: string;
  /** `"on"`, `"yes"` or `"1"` when the request came over TLS (CGI). */
  HTTPS?: string;
  /** The WSGI version: `[1, 0]`. */
  "wsgi.version"?: readonly [number, number];
  /** `"http"` or `"https"`. */
  "wsgi.url_scheme"?: string;
  /** The request body. */
  "wsgi.input"?: InputStream;
  /** Where diagnostics go. */
  "wsgi.errors"?: ErrorStream;
  /** True if the app may be run concurrently in one process. */
  "wsgi.multithread"?: boolean;
  /** True if the app may be run in several processes at once. */
  "wsgi.multiprocess"?: boolean;
  /** True if the app will run once in this process (CGI). */
  "wsgi.run_once"?: boolean;
  /** Wraps a file as an efficiently sent response body. */
  "wsgi.file_wrapper"?: FileWrapperFactory;
}

/**
 * The `write()` callable returned by `startResponse`: writes body bytes
 * straight out, before or between the chunks of the returned body.
 *
 * @example
 * ```ts
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   write(new TextEncoder().encode("written, "));
 *   return [new TextEncoder().encode("then returned")];
 * };
 * ```
 */
export type WriteFn = (data: Uint8Array) => void;

/**
 * The `start_response` callable: begins the response with a status line
 * such as `"200 OK"` and a list of `[name, value]` headers.
 *
 * `excInfo` is the thrown value when an app calls it again from an error
 * handler; if headers were already sent, the server rethrows it.
 *
 * @example
 * ```ts
 * import type { StartResponse } from "@wsgiref/wsgiref/types";
 *
 * function notFound(startResponse: StartResponse): Uint8Array[] {
 *   startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("not found")];
 * }
 * ```
 */
export type StartResponse = (
  status: string,
  headers: [string, string][],
  excInfo?: unknown,
) => WriteFn;

/**
 * The chunks of a response body: any sync or async iterable of
 * `Uint8Array`, or a Web `ReadableStream` of them.
 *
 * @example
 * ```ts
 * import type { ResponseChunks } from "@wsgiref/wsgiref/types";
 *
 * async function* slow(): AsyncGenerator<Uint8Array> {
 *   yield new TextEncoder().encode("one ");
 *   yield new TextEncoder().encode("two");
 * }
 * const body: ResponseChunks = slow();
 * ```
 */
export type ResponseChunks =
  | Iterable<Uint8Array>
  | AsyncIterable<Uint8Array>
  | ReadableStream<Uint8Array>;

/**
 * What an application returns: the body's chunks, which may carry a
 * `close()` method (sync or async). The server calls `close()` exactly once,
 * whether the response completed or failed.
 *
 * @example A body with close()
 * ```ts
 * import type { ResponseBody } from "@wsgiref/wsgiref/types";
 *
 * const body: ResponseBody = Object.assign([new Uint8Array([104, 105])], {
 *   close() {
 *     console.log("released");
 *   },
 * });
 * ```
 */
export type ResponseBody = ResponseChunks & {
  /** Releases the body's resources; called exactly once by the server. */
  close?(): void | Promise<void>;
};

/**
 * A WSGI application: called once per request with the environ and
 * `startResponse`, it returns (or resolves to) the response body.
 *
 * @example
 * ```ts
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 * ```
 */
export type WSGIApplication = (
  environ: WSGIEnvironment,
  startResponse: StartResponse,
) => ResponseBody | Promise<ResponseBody>;
