/**
 * The gateway interface of PEP 3333, in TypeScript: the environ, the
 * `start_response` callable, the `write` callable, the application and
 * its response body, and the `wsgi.input` / `wsgi.errors` streams.
 *
 * These are types only; the concrete helpers live in `util.ts`.
 *
 * @example A typed WSGI application
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`Hello ${environ.PATH_INFO}`)];
 * };
 *
 * const environ: Partial<WSGIEnvironment> = { PATH_INFO: "/world" };
 * setupTestingDefaults(environ);
 * let status = "";
 * const body = app(environ, (s) => {
 *   status = s;
 *   return () => {};
 * }) as Uint8Array[];
 * assertEquals(status, "200 OK");
 * assertEquals(new TextDecoder().decode(body[0]), "Hello /world");
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
 * import { assertEquals } from "@std/assert";
 * import { BytesIO } from "@wsgiref/wsgiref/util";
 * import type { InputStream } from "@wsgiref/wsgiref/types";
 *
 * function readBody(input: InputStream, length: number): string {
 *   return new TextDecoder().decode(input.read(length));
 * }
 *
 * const input = new BytesIO(new TextEncoder().encode("a=1&b=2"));
 * assertEquals(readBody(input, 3), "a=1");
 * assertEquals(readBody(input, 100), "&b=2");
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
 * import { assertEquals } from "@std/assert";
 * import { setupTestingDefaults, StringIO } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   environ["wsgi.errors"].write("handling a request\n");
 *   startResponse("204 No Content", []);
 *   return [];
 * };
 *
 * const errors = new StringIO();
 * const environ: Partial<WSGIEnvironment> = { "wsgi.errors": errors };
 * setupTestingDefaults(environ);
 * app(environ, () => () => {});
 * assertEquals(errors.getValue(), "handling a request\n");
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
 * import { assertEquals } from "@std/assert";
 * import { FileWrapper } from "@wsgiref/wsgiref/util";
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
 * const blocks = [...new FileWrapper(file, 64)];
 * assertEquals(blocks.map((b) => b.length), [64, 36]);
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
 * import { assertEquals } from "@std/assert";
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const path = await Deno.makeTempFile({ suffix: ".md" });
 * await Deno.writeTextFile(path, "# Notes\n");
 *
 * const app: WSGIApplication = async (environ, startResponse) => {
 *   const file = await Deno.open(path);
 *   startResponse("200 OK", [["Content-Type", "text/markdown"]]);
 *   return environ["wsgi.file_wrapper"]!(file, 65536); // optional in PEP 3333
 * };
 *
 * const response = await toFetchHandler(app)(new Request("http://localhost/"));
 * assertEquals(await response.text(), "# Notes\n");
 * await Deno.remove(path);
 * ```
 */
export type FileWrapperFactory = (
  filelike: FileLike | Deno.FsFile,
  blksize?: number,
) => FileWrapper;

/**
 * A file wrapper class: `FileWrapper` or a subclass. A handler's
 * `wsgiFileWrapper` names one; `wsgi.file_wrapper` makes its instances,
 * and those are the bodies a server may send its own way (`sendfile`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { FileWrapperClass } from "@wsgiref/wsgiref/types";
 * import { BytesIO, FileWrapper } from "@wsgiref/wsgiref/util";
 *
 * const cls: FileWrapperClass = FileWrapper;
 * assertEquals(new cls(new BytesIO()).blksize, 8192);
 * ```
 */
export type FileWrapperClass = new (
  filelike: FileLike | Deno.FsFile,
  blksize?: number,
) => FileWrapper;

/**
 * The WSGI environ as an application receives it: a plain object of CGI
 * variables and `wsgi.*` keys.
 *
 * CGI keys (`REQUEST_METHOD`, `PATH_INFO`, `HTTP_*`, …) hold *native
 * strings*: every code unit is 0–255, the request's bytes read as
 * ISO-8859-1. `PATH_INFO` is percent-decoded to bytes first. The `wsgi.*`
 * keys hold what PEP 3333 says.
 *
 * The keys PEP 3333 requires of every server are typed as present
 * (`REQUEST_METHOD`, `SERVER_NAME`, `SERVER_PORT`, and `wsgi.version`,
 * `wsgi.url_scheme`, `wsgi.input`, `wsgi.errors`, `wsgi.multithread`,
 * `wsgi.multiprocess`, `wsgi.run_once`): `environ["wsgi.input"].read()`
 * needs no `!`. The others may be absent (PEP 3333 lets a server leave out
 * `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING`, … when they are empty). To
 * build an environ step by step (in a test, say), start from a
 * `Partial<WSGIEnvironment>`; `setupTestingDefaults` completes it.
 *
 * @example Reading the environ
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * function describe(environ: WSGIEnvironment): string {
 *   const body = environ["wsgi.input"].read();
 *   return `${environ.REQUEST_METHOD} ${environ.PATH_INFO} (${body.length} bytes)`;
 * }
 *
 * const environ: Partial<WSGIEnvironment> = { PATH_INFO: "/spam" };
 * setupTestingDefaults(environ); // now a WSGIEnvironment
 * assertEquals(describe(environ), "GET /spam (0 bytes)");
 * ```
 */
export interface WSGIEnvironment {
  /** Any other CGI variable (`HTTP_*`) or server extension. */
  [key: string]: unknown;
  /** The request method, such as `"GET"`. */
  REQUEST_METHOD: string;
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
  SERVER_NAME: string;
  /** The server's port, as a string. */
  SERVER_PORT: string;
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
  "wsgi.version": readonly [number, number];
  /** `"http"` or `"https"`. */
  "wsgi.url_scheme": string;
  /** The request body. */
  "wsgi.input": InputStream;
  /** Where diagnostics go. */
  "wsgi.errors": ErrorStream;
  /** True if the app may be run concurrently in one process. */
  "wsgi.multithread": boolean;
  /** True if the app may be run in several processes at once. */
  "wsgi.multiprocess": boolean;
  /** True if the app will run once in this process (CGI). */
  "wsgi.run_once": boolean;
  /** Wraps a file as an efficiently sent response body (optional in PEP 3333). */
  "wsgi.file_wrapper"?: FileWrapperFactory;
}

/**
 * A response header list as `startResponse` takes it: `[name, value]`
 * pairs. Readonly lists and pairs are accepted, and so is the `string[][]`
 * that TypeScript infers for a list declared apart
 * (`const headers = [["Content-Type", "text/plain"]]`); that every entry is
 * a pair of strings is checked when the app runs.
 *
 * The handlers wrap the list in place, as wsgiref does (they may add
 * `Content-Length` to it); a frozen list is copied instead, so a list
 * shared between requests should be frozen (`Object.freeze`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type {
 *   HeaderList,
 *   WSGIApplication,
 *   WSGIEnvironment,
 * } from "@wsgiref/wsgiref/types";
 *
 * const TEXT: HeaderList = Object.freeze([["Content-Type", "text/plain"]] as const);
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", TEXT);
 *   return [new TextEncoder().encode("Hello")];
 * };
 *
 * // Declared apart, a list is string[][] to TypeScript: accepted too.
 * const headers = [["Content-Type", "text/html"], ["X-Frame-Options", "DENY"]];
 * const html: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", headers);
 *   return [];
 * };
 *
 * const environ: Partial<WSGIEnvironment> = {};
 * setupTestingDefaults(environ);
 * const seen: HeaderList[] = [];
 * for (const each of [app, html]) {
 *   each(environ, (_status, list) => {
 *     seen.push(list);
 *     return () => {};
 *   });
 * }
 * assertEquals(seen, [TEXT, headers]);
 * ```
 */
export type HeaderList = readonly (readonly string[])[];

/**
 * The `write()` callable returned by `startResponse`: writes body bytes
 * straight out, before or between the chunks of the returned body.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   write(new TextEncoder().encode("written, "));
 *   return [new TextEncoder().encode("then returned")];
 * };
 *
 * const response = await toFetchHandler(app)(new Request("http://localhost/"));
 * assertEquals(await response.text(), "written, then returned");
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
 * import { assertEquals } from "@std/assert";
 * import type { StartResponse } from "@wsgiref/wsgiref/types";
 *
 * function notFound(startResponse: StartResponse): Uint8Array[] {
 *   startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("not found")];
 * }
 *
 * const calls: string[] = [];
 * notFound((status, headers) => {
 *   calls.push(`${status}; ${headers.length} header`);
 *   return () => {};
 * });
 * assertEquals(calls, ["404 Not Found; 1 header"]);
 * ```
 */
export type StartResponse = (
  status: string,
  headers: HeaderList,
  excInfo?: unknown,
) => WriteFn;

/**
 * The chunks of a response body: any sync or async iterable of
 * `Uint8Array`, or a Web `ReadableStream` of them.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ResponseChunks } from "@wsgiref/wsgiref/types";
 *
 * async function* slow(): AsyncGenerator<Uint8Array> {
 *   yield new TextEncoder().encode("one ");
 *   yield new TextEncoder().encode("two");
 * }
 * const body: ResponseChunks = slow();
 *
 * const chunks = await Array.fromAsync(body as AsyncIterable<Uint8Array>);
 * assertEquals(chunks.map((c) => new TextDecoder().decode(c)), ["one ", "two"]);
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
 * import { assertEquals } from "@std/assert";
 * import type { ResponseBody } from "@wsgiref/wsgiref/types";
 *
 * let released = 0;
 * const body: ResponseBody = Object.assign([new Uint8Array([104, 105])], {
 *   close() {
 *     released++;
 *   },
 * });
 *
 * await body.close?.(); // what a server does once, whatever happens
 * assertEquals(released, 1);
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
 * import { assertEquals } from "@std/assert";
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 *
 * const response = await toFetchHandler(app)(new Request("http://localhost/"));
 * assertEquals(response.status, 200);
 * assertEquals(await response.text(), "Hello world!");
 * ```
 */
export type WSGIApplication = (
  environ: WSGIEnvironment,
  startResponse: StartResponse,
) => ResponseBody | Promise<ResponseBody>;
