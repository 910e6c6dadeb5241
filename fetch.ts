/**
 * Bridges between WSGI and the Fetch API (beyond wsgiref).
 *
 * {@linkcode toFetchHandler} turns a WSGI application into a
 * `(request, info?) => Response | Promise<Response>` handler (the shape of
 * a `Deno.serve` handler), so it runs on
 * `Deno.serve`, on `deno serve` (with `--parallel` for every core) or on any
 * Fetch-API host. {@linkcode fromFetchHandler} goes the other way: a Fetch
 * handler (a Hono or Oak app, say) becomes a WSGI application, to run
 * behind `CGIHandler` or `makeServer`.
 *
 * @example A WSGI app on Deno.serve
 * ```ts ignore
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 * Deno.serve({ port: 8000 }, toFetchHandler(app));
 * ```
 *
 * @module
 */

import { STATUS_TEXT } from "@std/http/status";
import { AssertionError, checkStatus } from "./_errors.ts";
import { okResponse, requestHeaderList } from "./_fetch_internals.ts";
import { BytesIO, FileWrapper, isHopByHop, requestUri } from "./util.ts";
import type {
  ErrorStream,
  FileLike,
  InputStream,
  ResponseBody,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";

const reasons: Readonly<Record<number, string>> = STATUS_TEXT;

/**
 * A Fetch-API handler: takes a `Request`, gives a `Response`. `Deno.serve`
 * handlers, `app.fetch` of Hono and most edge frameworks have this shape.
 *
 * @example
 * ```ts
 * import type { FetchHandler } from "@wsgiref/wsgiref/fetch";
 *
 * const handler: FetchHandler = (request) =>
 *   new Response(`you asked for ${new URL(request.url).pathname}`);
 * ```
 */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * What a Fetch host may pass beside the request: `Deno.serve` and
 * `deno serve` pass a `Deno.ServeHandlerInfo`, whose `remoteAddr` becomes
 * `REMOTE_ADDR`.
 *
 * @example
 * ```ts
 * import type { ServeInfo } from "@wsgiref/wsgiref/fetch";
 *
 * const info: ServeInfo = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 * };
 * ```
 */
export interface ServeInfo {
  /** The client's address. */
  readonly remoteAddr?: Deno.Addr;
}

/**
 * Options of {@linkcode toFetchHandler}.
 *
 * @example Mounted under a prefix, with a 1 MiB body limit
 * ```ts
 * import type { ToFetchHandlerOptions } from "@wsgiref/wsgiref/fetch";
 *
 * const options: ToFetchHandlerOptions = {
 *   scriptName: "/app",
 *   maxRequestBody: 1024 * 1024,
 * };
 * ```
 */
export interface ToFetchHandlerOptions {
  /**
   * Largest request body in bytes. A larger `Content-Length` is answered
   * with 413 before the body is read; a streamed (chunked) body is read
   * until it passes the limit, then 413. Default: 10 MiB, as `makeServer`.
   */
  maxRequestBody?: number;
  /**
   * The `wsgi.errors` stream, where app errors are logged too. Default: a
   * stream that writes UTF-8 to `Deno.stderr`.
   */
  errors?: ErrorStream;
  /**
   * `wsgi.multithread`. Default `true`: `Deno.serve` runs requests
   * concurrently (interleaved at every `await` on one thread), which is
   * what the flag warns an app about.
   */
  multithread?: boolean;
  /**
   * `wsgi.multiprocess`. Default `false`; pass `true` under
   * `deno serve --parallel`, where several workers run the app at once.
   */
  multiprocess?: boolean;
  /**
   * Mounts the app under this path prefix (no trailing `/`): it becomes
   * `SCRIPT_NAME`, the rest of the path `PATH_INFO`. A request outside the
   * prefix is answered 404 without calling the app. Default: `""`.
   */
  scriptName?: string;
  /** `SERVER_SOFTWARE`. Default: `"WSGIServer/0.2 Deno/<version>"`. */
  serverSoftware?: string;
}

const MiB = 1024 * 1024;
const EMPTY = new Uint8Array(0);
const VERSION: readonly [number, number] = Object.freeze([1, 0] as const);
const DEFAULT_SOFTWARE = `WSGIServer/0.2 Deno/${
  typeof Deno !== "undefined" ? Deno.version.deno : "unknown"
}`;
const ERROR_BODY = new TextEncoder().encode(
  "A server error occurred.  Please contact the administrator.",
);
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** The default `wsgi.errors`: UTF-8 text to `Deno.stderr`, unbuffered. */
const stderrStream: ErrorStream = {
  write(s: string): void {
    let bytes = new TextEncoder().encode(String(s));
    while (bytes.length) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
  },
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  },
  flush(): void {},
};

function makeFileWrapper(
  filelike: FileLike | Deno.FsFile,
  blksize?: number,
): FileWrapper {
  return new FileWrapper(filelike, blksize);
}

// --- the environ --------------------------------------------------------

const HEX: Readonly<Record<string, number>> = (() => {
  const t: Record<string, number> = {};
  for (let i = 0; i < 16; i++) {
    t[i.toString(16)] = i;
    t[i.toString(16).toUpperCase()] = i;
  }
  return t;
})();

/**
 * Percent-decodes a raw URL path to bytes and reads them as ISO-8859-1
 * (`%2F` included). A code unit above 0x7F in the input (not produced by
 * Deno.serve, which refuses raw non-ASCII targets) is taken as UTF-8 text.
 */
function decodePath(raw: string): string {
  let plain = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 || c > 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = HEX[raw[i + 1]];
      const lo = HEX[raw[i + 2]];
      if (hi !== undefined && lo !== undefined) {
        out += String.fromCharCode(hi * 16 + lo);
        i += 2;
        continue;
      }
      out += ch;
    } else if (c > 0x7f) {
      const cp = raw.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of new TextEncoder().encode(String.fromCodePoint(cp))) {
        out += String.fromCharCode(b);
      }
    } else {
      out += ch;
    }
  }
  return out;
}

// "content-type" -> "HTTP_CONTENT_TYPE" is cached: the same few names come
// with every request.
const keyCache = new Map<string, string>();
function environKey(name: string): string {
  let key = keyCache.get(name);
  if (key === undefined) {
    key = "HTTP_" + name.toUpperCase().replaceAll("-", "_");
    if (keyCache.size < 1024) keyCache.set(name, key);
  }
  return key;
}

/**
 * Adds one header field to the environ: `CONTENT_TYPE`, `CONTENT_LENGTH`,
 * or `HTTP_*` with repeats joined by "," (wsgiref's simple_server).
 * `HTTP_HOST` comes from the URL.
 */
function putHeader(
  environ: WSGIEnvironment,
  name: string,
  value: string,
): void {
  const key = environKey(name);
  if (key === "HTTP_CONTENT_TYPE") environ.CONTENT_TYPE = value;
  else if (key === "HTTP_CONTENT_LENGTH") environ.CONTENT_LENGTH = value;
  else if (key !== "HTTP_HOST") {
    const prev = environ[key];
    environ[key] = prev === undefined ? value : prev + "," + value;
  }
}

/** `Headers.forEach` callback, `this` being the environ. */
function addHeader(this: WSGIEnvironment, value: string, name: string): void {
  putHeader(this, name, value);
}

/**
 * Adds the request's headers to the environ: field by field as received
 * where Deno exposes that, else as `Headers` gives them (repeats already
 * combined with ", ").
 */
function addHeaders(environ: WSGIEnvironment, request: Request): void {
  const list = requestHeaderList(request);
  if (list === null) {
    request.headers.forEach(addHeader, environ);
    return;
  }
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    // Host, in every request, is taken from the URL: skipped at once.
    if (name === "Host" || name === "host") continue;
    putHeader(environ, name, list[i][1]);
  }
}

/** The scheme and authority of a URL, parsed for the environ. */
interface Origin {
  /** `wsgi.url_scheme`. */
  scheme: string;
  /** `HTTP_HOST`: the authority without user info or a default port. */
  host: string;
  /** `SERVER_NAME`. */
  name: string;
  /** `SERVER_PORT`, defaulted by scheme. */
  port: string;
}

function parseOrigin(origin: string): Origin {
  const colon = origin.indexOf(":");
  const scheme = origin.slice(0, colon).toLowerCase();
  let host = origin.startsWith("//", colon + 1) ? origin.slice(colon + 3) : "";
  const at = host.lastIndexOf("@");
  if (at !== -1) host = host.slice(at + 1);
  let name = host;
  let port = "";
  const pc = host.lastIndexOf(":");
  if (pc > host.lastIndexOf("]")) {
    name = host.slice(0, pc);
    port = host.slice(pc + 1);
  }
  if (!port) {
    port = scheme === "https" || scheme === "wss" ? "443" : "80";
    host = name;
  }
  return { scheme, host, name, port };
}

// Requests to one server share their origin: the last one is kept parsed.
let lastOrigin = "";
let lastParsed: Origin = parseOrigin("http:");

/**
 * Where the path starts in `url` (after the scheme and authority); leaves
 * the origin parsed in `lastParsed`.
 */
function splitOrigin(url: string): number {
  const n = lastOrigin.length;
  if (n !== 0) {
    const c = url.charCodeAt(n);
    // "/", "?", "#" or the end, after the same origin (slice and === is
    // several times faster than startsWith on a fresh string)
    if (
      (c === 0x2f || c === 0x3f || c === 0x23 || c !== c) &&
      url.slice(0, n) === lastOrigin
    ) return n;
  }
  let i = url.indexOf(":") + 1;
  if (url.startsWith("//", i)) {
    for (i += 2; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) break;
    }
  }
  lastOrigin = url.slice(0, i);
  lastParsed = parseOrigin(lastOrigin);
  return i;
}

// --- the exchange: one request's startResponse, write and body ----------

/**
 * The app's headers for a `Response`, hop-by-hop ones left out. A record
 * when every name is distinct (the common case: Deno converts a record
 * faster than a list of pairs), else a list of pairs (repeated
 * `Set-Cookie`).
 */
function buildHeadersInit(headers: [string, string][]): HeadersInit {
  const record: Record<string, string> = {};
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    if (hopByHop(name)) continue;
    const key = name.toLowerCase();
    if (Object.hasOwn(record, key) || key === "__proto__") {
      // Copies of the pairs: the result may be reused for a later request,
      // after the app changed its own pairs.
      return headers.filter(([n]) => !hopByHop(n)).map(([n, v]) => [n, v]);
    }
    record[key] = headers[i][1];
  }
  return record;
}

// An app tends to answer with the same headers again and again: the last
// list is kept, flattened (names and values are strings, checked by
// startResponse), with what it became. Deno only reads a HeadersInit.
let lastHeaders: string[] = [];
let lastInit: HeadersInit = {};
/** Whether the last headers name a Content-Type (see `textBody`). */
let lastTyped = false;

// The last status line, split into code and reason.
let lastStatus = "200 OK";
let lastCode = 200;
let lastReason = "OK";

/** {@linkcode buildHeadersInit}, reusing the last result for equal headers. */
function headersInit(headers: [string, string][]): HeadersInit {
  const n = headers.length;
  const last = lastHeaders;
  if (last.length === 2 * n) {
    let i = 0;
    while (
      i < n && headers[i][0] === last[2 * i] &&
      headers[i][1] === last[2 * i + 1]
    ) i++;
    if (i === n) return lastInit;
  }
  const init = buildHeadersInit(headers);
  const flat: string[] = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    flat[2 * i] = headers[i][0];
    flat[2 * i + 1] = headers[i][1];
  }
  lastHeaders = flat;
  lastInit = init;
  lastTyped = headers.some(([name]) =>
    name.length === 12 && name.toLowerCase() === "content-type"
  );
  return init;
}

// Deno's Response copies a byte body into a new ArrayBuffer, which costs
// about a microsecond even for a few bytes (more than the rest of a small
// response), but keeps a string body as it is and sends its UTF-8. A body
// that is valid UTF-8 decodes to a string whose UTF-8 is the same bytes, so
// a small text body goes to Deno as a string: the bytes on the wire, and
// what response.arrayBuffer() gives, do not change.
const TEXT_BODY_MAX = 16 * 1024;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
let lastBody: Uint8Array | null = null;
let lastText = "";

/**
 * `body` as a string when that is the same bytes in UTF-8, else `body`.
 * Only for a response whose headers name a Content-Type: for a string body
 * without one, Response would add `text/plain;charset=UTF-8`.
 */
function textBody(body: Uint8Array<ArrayBuffer>): BodyInit {
  const n = body.length;
  if (body === lastBody && n === lastText.length) {
    // The same small array again (an app's constant answer): compared, as
    // the app may have changed its bytes, instead of decoded.
    let i = 0;
    while (i < n && body[i] === lastText.charCodeAt(i)) i++;
    if (i === n) return lastText;
  }
  if (n > TEXT_BODY_MAX) return body;
  // Most binary formats start with a byte past ASCII: not decoded in vain.
  for (let i = 0; i < n && i < 16; i++) {
    if (body[i] > 0x7f) return body;
  }
  const text = utf8.decode(body);
  // Invalid UTF-8 decodes with U+FFFD (as does a real U+FFFD: rare, and
  // sent as bytes too).
  if (text.indexOf("\ufffd") !== -1) return body;
  if (
    n <= 64 && text.length === n && body.byteLength === body.buffer.byteLength
  ) {
    // ASCII, one char per byte: kept for the comparison above.
    lastBody = body;
    lastText = text;
  }
  return text;
}

/** `isHopByHop`, with a cheap length test first (this runs per header). */
function hopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
    case 7:
    case 8:
    case 10:
    case 17:
    case 18:
    case 19:
      return isHopByHop(name);
    default:
      return false;
  }
}

type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}

function concat(chunks: Uint8Array[]): Uint8Array | null {
  if (chunks.length === 0) return null;
  if (chunks.length === 1) return chunks[0].length ? chunks[0] : null;
  let n = 0;
  for (const c of chunks) n += c.length;
  if (n === 0) return null;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function checkChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) {
    throw new TypeError(
      `The response body must yield Uint8Array chunks, got ${
        typeName(chunk)
      }: encode text with TextEncoder`,
    );
  }
}

/**
 * One request: holds the status and headers, buffers what is written
 * before the response is returned, then serves as the underlying source of
 * the response's `ReadableStream` (pulled as the client reads).
 */
class Exchange implements UnderlyingDefaultSource<Uint8Array> {
  readonly startResponse: StartResponse;
  readonly write: WriteFn;
  readonly errors: ErrorStream;
  readonly method: string;
  readonly path: string;
  status: string | null = null;
  headers: [string, string][] | null = null;
  /** True once the headers count as sent (wsgiref's `headers_sent`). */
  sent = false;
  /** True once the response's stream ended, failed or was cancelled. */
  ended = false;
  pending: Uint8Array[] = [];
  writes = 0;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  result: ResponseBody | null = null;
  iterator: AnyIterator | null = null;
  isAsync = false;
  error: unknown = undefined;
  #closed = false;

  constructor(errors: ErrorStream, method: string, path: string) {
    this.errors = errors;
    this.method = method;
    this.path = path;
    this.startResponse = (status, headers, excInfo) =>
      this.#startResponse(status, headers, excInfo);
    this.write = (data) => this.#write(data);
  }

  #startResponse(
    status: string,
    headers: [string, string][],
    excInfo?: unknown,
  ): WriteFn {
    if (excInfo !== undefined && excInfo !== null) {
      if (this.sent) throw excInfo;
    } else if (this.status !== null) {
      throw new AssertionError("Headers already set!");
    }
    if (typeof status !== "string") {
      throw new AssertionError(
        `Status must be of type str (got ${typeName(status)})`,
      );
    }
    checkStatus(status);
    if (!Array.isArray(headers)) {
      throw new AssertionError(
        `Headers must be of type list: ${typeName(headers)}`,
      );
    }
    for (const header of headers) {
      if (!Array.isArray(header) || header.length !== 2) {
        throw new AssertionError(
          `Header must be a [name, value] pair: ${typeName(header)}`,
        );
      }
      if (typeof header[0] !== "string") {
        throw new AssertionError(
          `Header name must be of type str (got ${typeName(header[0])})`,
        );
      }
      if (typeof header[1] !== "string") {
        throw new AssertionError(
          `Header value must be of type str (got ${typeName(header[1])})`,
        );
      }
    }
    this.status = status;
    this.headers = headers;
    return this.write;
  }

  #write(data: Uint8Array): void {
    if (this.status === null) {
      throw new AssertionError("write() before start_response()");
    }
    if (!(data instanceof Uint8Array)) {
      throw new AssertionError(
        `write() argument must be a Uint8Array, got ${typeName(data)}`,
      );
    }
    this.sent = true;
    if (data.length === 0) return;
    if (this.ended) {
      this.errors.write(
        `${this.method} ${this.path}: write() after the response ended; data dropped\n`,
      );
      return;
    }
    // The app may reuse its buffer once write() returns: keep a copy.
    this.writes++;
    if (this.controller !== null) this.controller.enqueue(data.slice());
    else this.pending.push(data.slice());
  }

  /**
   * Calls the body's `close()` once, logging what it throws; returns a
   * promise only when `close()` did.
   */
  closeBody(): Promise<void> | undefined {
    if (this.#closed) return;
    this.#closed = true;
    const result = this.result as { close?: unknown } | null;
    if (result === null || typeof result.close !== "function") return;
    let ret: unknown;
    try {
      ret = (result.close as () => unknown)();
    } catch (e) {
      this.log("the response body's close() failed", e);
      return;
    }
    if (ret instanceof Promise) {
      return ret.then(
        () => {},
        (e) => this.log("the response body's close() failed", e),
      );
    }
  }

  /** Stops the body's iterator early (`return()`), then closes the body. */
  async abandon(): Promise<void> {
    const it = this.iterator;
    this.iterator = null;
    if (it !== null && typeof it.return === "function" && !this.#closed) {
      try {
        await it.return();
      } catch (e) {
        this.log("stopping the response body failed", e);
      }
    }
    await this.closeBody();
  }

  log(what: string, e: unknown): void {
    const detail = e instanceof Error ? e.stack ?? String(e) : String(e);
    try {
      this.errors.write(`${this.method} ${this.path}: ${what}:\n${detail}\n`);
    } catch {
      // nowhere left to report
    }
  }

  /** The response for the status and headers set, with `body`. */
  response(body: BodyInit | null): Response {
    const status = this.status;
    if (status === null) {
      throw new AssertionError("start_response() was not called");
    }
    if (status !== lastStatus) {
      lastCode = +status.slice(0, 3);
      lastReason = status.slice(4);
      lastStatus = status;
    }
    if (body !== null && NULL_BODY_STATUS.has(lastCode)) body = null;
    const headers = headersInit(this.headers!);
    if (lastTyped && body instanceof Uint8Array) {
      body = textBody(body as Uint8Array<ArrayBuffer>);
    }
    if (lastCode === 200) return okResponse(body, lastReason, headers);
    return new Response(body, {
      status: lastCode,
      statusText: lastReason,
      headers,
    });
  }

  /** wsgiref's `handle_error`: a 500 before headers, an abort after. */
  async fail(e: unknown): Promise<Response> {
    this.log("the application failed", e);
    await this.abandon();
    this.ended = true;
    if (this.sent && this.status !== null) {
      // Headers count as sent: send them and what was written, then abort.
      try {
        const chunks = this.pending;
        this.pending = [];
        return this.response(
          new ReadableStream<Uint8Array>({
            pull(c) {
              const chunk = chunks.shift();
              if (chunk !== undefined) c.enqueue(chunk);
              else c.error(e);
            },
          }, { highWaterMark: 0 }),
        );
      } catch (e2) {
        this.log("the response could not be built", e2);
      }
    }
    return new Response(ERROR_BODY, {
      status: 500,
      statusText: "Internal Server Error",
      headers: { "Content-Type": "text/plain" },
    });
  }

  /**
   * The response once the whole body is known; `null` if it cannot be
   * built (then {@linkcode Exchange.fail} answers).
   */
  completeSync(): Response | null {
    return this.completeWith(concat(this.pending));
  }

  /**
   * The response with `body` as the whole body; `null` if it cannot be
   * built (the error kept in {@linkcode Exchange.error}).
   */
  completeWith(body: Uint8Array | null): Response | null {
    let response: Response;
    try {
      response = this.response(body as Uint8Array<ArrayBuffer> | null);
    } catch (e) {
      this.error = e;
      return null;
    }
    this.ended = true;
    if (this.pending.length !== 0) this.pending = [];
    return response;
  }

  /** The response once the whole body is known, the body closed. */
  async complete(): Promise<Response> {
    const response = this.completeSync();
    if (response === null) return await this.fail(this.error);
    await this.closeBody();
    return response;
  }

  /**
   * The fast path for an array body: everything is in memory, so the
   * response is one block, built without awaiting. `null` when the array
   * is broken or the response cannot be built: then
   * {@linkcode Exchange.run} takes over (and reports it).
   */
  arrayResponse(result: unknown[]): Response | null {
    this.result = result as ResponseBody;
    if (result.length === 1 && this.pending.length === 0) {
      // One block, nothing written (the common case): sent as it is.
      const chunk = result[0];
      if (!(chunk instanceof Uint8Array)) return null;
      return this.completeWith(chunk.length ? chunk : null);
    }
    const mark = this.pending.length;
    for (let i = 0; i < result.length; i++) {
      const chunk = result[i];
      if (!(chunk instanceof Uint8Array)) {
        this.pending.length = mark;
        return null;
      }
      if (chunk.length) this.pending.push(chunk);
    }
    const response = this.completeSync();
    if (response === null) this.pending.length = mark;
    return response;
  }

  /** Takes the app's result: a response, whole or streamed. */
  async run(result: ResponseBody): Promise<Response> {
    this.result = result;
    if (Array.isArray(result)) {
      // All in memory already: one block, no stream.
      try {
        for (const chunk of result) {
          checkChunk(chunk);
          if (chunk.length) this.pending.push(chunk);
        }
      } catch (e) {
        return await this.fail(e);
      }
      return await this.complete();
    }
    try {
      if (
        result !== null && typeof result === "object" &&
        typeof (result as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] ===
          "function"
      ) {
        this.iterator = (result as AsyncIterable<Uint8Array>)
          [Symbol.asyncIterator]();
        this.isAsync = true;
      } else if (
        result !== null && typeof result === "object" &&
        typeof (result as Iterable<Uint8Array>)[Symbol.iterator] === "function"
      ) {
        this.iterator = (result as Iterable<Uint8Array>)[Symbol.iterator]();
      } else {
        throw new TypeError(
          `The application must return an iterable of Uint8Array (an array, ` +
            `a generator or a ReadableStream), got ${typeName(result)}`,
        );
      }
      // As wsgiref: the headers go out with the first block (or a write()),
      // so a generator may still call startResponse before it yields.
      while (!this.sent) {
        const step = this.isAsync
          ? await (this.iterator as AsyncIterator<Uint8Array>).next()
          : (this.iterator as Iterator<Uint8Array>).next();
        if (step.done) {
          this.iterator = null;
          return await this.complete();
        }
        checkChunk(step.value);
        if (this.status === null) {
          throw new AssertionError("write() before start_response()");
        }
        this.sent = true;
        if (step.value.length) this.pending.push(step.value);
      }
    } catch (e) {
      return await this.fail(e);
    }
    let response: Response;
    try {
      response = this.response(
        new ReadableStream<Uint8Array>(this, { highWaterMark: 0 }),
      );
    } catch (e) {
      return await this.fail(e);
    }
    if (response.body === null) {
      // A status without a body (204, 304): nothing more to pull.
      this.ended = true;
      await this.abandon();
    }
    return response;
  }

  // UnderlyingDefaultSource: the response body, pulled as the client reads.

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    for (const chunk of this.pending) controller.enqueue(chunk);
    this.pending = [];
    this.controller = controller;
  }

  async pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    const it = this.iterator;
    if (it === null) return;
    const writes = this.writes;
    try {
      for (;;) {
        const step = this.isAsync
          ? await (it as AsyncIterator<Uint8Array>).next()
          : (it as Iterator<Uint8Array>).next();
        if (this.ended) return; // cancelled meanwhile
        if (step.done) {
          this.iterator = null;
          this.ended = true;
          this.controller = null;
          controller.close();
          await this.closeBody();
          return;
        }
        checkChunk(step.value);
        if (step.value.length) {
          controller.enqueue(step.value);
          return;
        }
        if (this.writes !== writes) return;
      }
    } catch (e) {
      if (this.ended) return;
      this.ended = true;
      this.controller = null;
      this.log("the response body failed after the headers were sent", e);
      controller.error(e);
      await this.abandon();
    }
  }

  async cancel(): Promise<void> {
    this.ended = true;
    this.controller = null;
    await this.abandon();
  }
}

async function readBody(
  request: Request,
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array | null> {
  const length = request.headers.get("content-length");
  if (length !== null && /^\d+$/.test(length.trim())) {
    if (+length > max) {
      body.cancel().catch(() => {});
      return null;
    }
    return await request.bytes();
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return concat(chunks) ?? EMPTY;
}

function plain(status: number, text: string): Response {
  return new Response(text + "\n", {
    status,
    statusText: reasons[status] ?? "",
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

/**
 * Runs a WSGI application as a Fetch-API handler: on `Deno.serve`, on
 * `deno serve` (export `{ fetch: toFetchHandler(app) }`) or any host that
 * calls `(request) => Response`.
 *
 * The environ is built from the request as wsgiref's simple server builds
 * it: `REQUEST_METHOD`; `PATH_INFO` from the URL's raw path, percent-decoded
 * to bytes and read as ISO-8859-1 (`%2F` included, dot segments kept);
 * `QUERY_STRING` raw; `SERVER_NAME`, `SERVER_PORT` and `HTTP_HOST` from the
 * URL (default port by scheme); `wsgi.url_scheme` from the URL; each header
 * as `HTTP_*` (the Fetch `Headers` join repeats with `", "`, cookies with
 * `"; "`), `CONTENT_TYPE` and `CONTENT_LENGTH` unprefixed; `REMOTE_ADDR`
 * from `info.remoteAddr`; `SERVER_PROTOCOL` `"HTTP/1.1"`. The body is read
 * before the app runs (413 past `maxRequestBody`) and given as a
 * `BytesIO`; `CONTENT_LENGTH` is set to its length when the request had
 * none, and `wsgi.input_terminated` is true.
 *
 * The response keeps the status and its reason phrase (as `statusText`);
 * every header but the hop-by-hop ones (each `Set-Cookie` apart); and a
 * body that streams: the app's iterable is pulled as the client reads, and
 * its `close()` is called exactly once, when it ends, fails, or the client
 * goes away. As in wsgiref
 * the headers go out with the first non-empty block or `write()`; an app
 * error before that is a 500, after it the response is aborted. An array
 * body is sent as one block. Errors are logged to `wsgi.errors`.
 *
 * A `GET` or
 * `HEAD` has an empty `wsgi.input`: the Fetch API carries no body for them
 * (Deno.serve drops one).
 *
 * @param app the WSGI application
 * @param options body limit, `wsgi.errors`, flags, mount prefix
 * @returns a handler for `Deno.serve` and other Fetch-API hosts
 *
 * @example On Deno.serve
 * ```ts ignore
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`Hello ${environ.PATH_INFO}`)];
 * };
 * Deno.serve({ port: 8000 }, toFetchHandler(app));
 * ```
 *
 * @example Called directly
 * ```ts
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 *
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(String(environ.PATH_INFO))];
 * });
 * const response = await handler(new Request("http://localhost/caf%C3%A9"));
 * console.log(await response.text()); // "/café" (UTF-8 bytes as ISO-8859-1 in the environ)
 * ```
 */
export function toFetchHandler(
  app: WSGIApplication,
  options: ToFetchHandlerOptions = {},
): (request: Request, info?: ServeInfo) => Promise<Response> {
  if (typeof app !== "function") {
    throw new TypeError(`toFetchHandler needs a WSGI app, got ${typeof app}`);
  }
  const max = options.maxRequestBody ?? 10 * MiB;
  if (!(max >= 0)) {
    throw new RangeError(`maxRequestBody must be >= 0, got ${max}`);
  }
  const errors = options.errors ?? stderrStream;
  const multithread = options.multithread ?? true;
  const multiprocess = options.multiprocess ?? false;
  const software = options.serverSoftware ?? DEFAULT_SOFTWARE;
  let scriptName = options.scriptName ?? "";
  while (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (scriptName && !scriptName.startsWith("/")) {
    throw new TypeError(
      `scriptName must start with "/", got ${JSON.stringify(scriptName)}`,
    );
  }

  /** Runs the app on a complete environ. */
  function runApp(
    environ: WSGIEnvironment,
    method: string,
    rawPath: string,
  ): Response | Promise<Response> {
    const exchange = new Exchange(errors, method, rawPath);
    let result: ResponseBody | Promise<ResponseBody>;
    try {
      result = app(environ, exchange.startResponse);
    } catch (e) {
      return exchange.fail(e);
    }
    if (
      typeof (result as { then?: unknown } | null)?.then === "function"
    ) {
      return Promise.resolve(result).then(
        (body) => finish(exchange, body),
        (e) => exchange.fail(e),
      );
    }
    return finish(exchange, result as ResponseBody);
  }

  /** Reads the request body, then runs the app (413 past the limit). */
  async function withBody(
    request: Request,
    body: ReadableStream<Uint8Array>,
    environ: WSGIEnvironment,
    method: string,
    rawPath: string,
  ): Promise<Response> {
    const input = await readBody(request, body, max);
    if (input === null) return plain(413, "Request body too large");
    if (environ.CONTENT_LENGTH === undefined && input.length) {
      environ.CONTENT_LENGTH = String(input.length);
    }
    environ["wsgi.input"] = new BytesIO(input) as InputStream;
    return await runApp(environ, method, rawPath);
  }

  return async function wsgiFetchHandler(
    request: Request,
    info?: ServeInfo,
  ): Promise<Response> {
    const url = request.url;
    const method = request.method;
    const at = splitOrigin(url);
    const origin = lastParsed;
    let hash = url.indexOf("#", at);
    if (hash === -1) hash = url.length;
    let q = url.indexOf("?", at);
    if (q === -1 || q > hash) q = hash;
    const rawPath = url.slice(at, q);
    let pathInfo = decodePath(rawPath);
    if (scriptName) {
      if (
        pathInfo !== scriptName &&
        !(pathInfo.startsWith(scriptName) &&
          pathInfo.charCodeAt(scriptName.length) === 0x2f)
      ) {
        return plain(404, "Not Found");
      }
      pathInfo = pathInfo.slice(scriptName.length);
    }
    const environ: WSGIEnvironment = {
      REQUEST_METHOD: method,
      SCRIPT_NAME: scriptName,
      PATH_INFO: pathInfo,
      QUERY_STRING: q < hash ? url.slice(q + 1, hash) : "",
      SERVER_NAME: origin.name,
      SERVER_PORT: origin.port,
      SERVER_PROTOCOL: "HTTP/1.1",
      SERVER_SOFTWARE: software,
      GATEWAY_INTERFACE: "CGI/1.1",
      HTTP_HOST: origin.host,
      "wsgi.version": VERSION,
      "wsgi.url_scheme": origin.scheme,
      "wsgi.input": undefined,
      "wsgi.errors": errors,
      "wsgi.multithread": multithread,
      "wsgi.multiprocess": multiprocess,
      "wsgi.run_once": false,
      "wsgi.file_wrapper": makeFileWrapper,
      "wsgi.input_terminated": true,
    };
    const addr = info?.remoteAddr as { hostname?: string } | undefined;
    if (addr !== undefined && typeof addr.hostname === "string") {
      environ.REMOTE_ADDR = addr.hostname;
    }
    addHeaders(environ, request);

    // The Fetch API gives a GET or HEAD no body (Deno.serve drops one);
    // request.body, which costs Deno.serve time, is then not touched.
    if (method !== "GET" && method !== "HEAD") {
      const body = request.body;
      if (body !== null) {
        return await withBody(request, body, environ, method, rawPath);
      }
    }
    environ["wsgi.input"] = new BytesIO(EMPTY) as InputStream;
    // A Response is returned, not awaited: an await costs a microtask turn.
    const response = runApp(environ, method, rawPath);
    return response instanceof Response ? response : await response;
  };
}

/** The response for an app's result: one block for an array, else streamed. */
function finish(
  exchange: Exchange,
  result: ResponseBody,
): Response | Promise<Response> {
  if (Array.isArray(result)) {
    const response = exchange.arrayResponse(result);
    if (response !== null) {
      const closing = exchange.closeBody();
      return closing === undefined ? response : closing.then(() => response);
    }
  }
  return exchange.run(result);
}

// --- WSGI app from a Fetch handler ---------------------------------------

function toRequest(environ: WSGIEnvironment): Request {
  const method = environ.REQUEST_METHOD ?? "GET";
  const headers = new Headers();
  for (const key in environ) {
    if (!key.startsWith("HTTP_")) continue;
    const value = environ[key];
    if (typeof value !== "string") continue;
    try {
      headers.append(key.slice(5).toLowerCase().replaceAll("_", "-"), value);
    } catch {
      // not a valid header name or value: a Request cannot carry it
    }
  }
  if (environ.CONTENT_TYPE) headers.set("content-type", environ.CONTENT_TYPE);
  let body: Uint8Array | null = null;
  if (method !== "GET" && method !== "HEAD") {
    const input = environ["wsgi.input"];
    const length = environ.CONTENT_LENGTH?.trim();
    if (input !== undefined && length && /^\d+$/.test(length)) {
      body = readExactly(input, +length);
    } else if (input !== undefined && environ["wsgi.input_terminated"]) {
      body = input.read();
    }
    if (body !== null) headers.set("content-length", String(body.length));
  }
  return new Request(requestUri(environ), {
    method,
    headers,
    body: body as Uint8Array<ArrayBuffer> | null,
  });
}

function readExactly(input: InputStream, length: number): Uint8Array {
  const first = input.read(length);
  if (first.length === length || first.length === 0) return first;
  const chunks = [first];
  let got = first.length;
  while (got < length) {
    const more = input.read(length - got);
    if (more.length === 0) break;
    chunks.push(more);
    got += more.length;
  }
  return concat(chunks) ?? EMPTY;
}

/** A `Response` body as a WSGI body: async chunks, `close()` cancels. */
class FetchBody implements AsyncIterableIterator<Uint8Array> {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.#done) return { done: true, value: undefined };
    const step = await this.#reader.read();
    if (step.done) {
      this.#done = true;
      return { done: true, value: undefined };
    }
    checkChunk(step.value);
    return { done: false, value: step.value };
  }

  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Cancels the stream unless it was read to the end. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * Runs a Fetch-API handler as a WSGI application, to serve it with
 * `CGIHandler`, `makeServer` or any WSGI server.
 *
 * The `Request` is built from the environ: its URL by `requestUri`, its
 * method from `REQUEST_METHOD`, its headers from the `HTTP_*` keys and
 * `CONTENT_TYPE`/`CONTENT_LENGTH`, its body from `wsgi.input` (read up to
 * `CONTENT_LENGTH`; all of it when `wsgi.input_terminated` is set and there
 * is no length). The app answers `"<code> <reason>"` (the standard reason
 * when `statusText` is empty), the response's headers but the hop-by-hop
 * ones (each `Set-Cookie` apart) and the body streamed from
 * `response.body`; `close()` cancels it if it was not read to the end.
 *
 * `handler` may be a function or an object with a `fetch` method (a Hono
 * app, say).
 *
 * @param handler the Fetch-API handler
 * @returns a WSGI application
 *
 * @example A Hono app as a CGI program
 * ```ts ignore
 * import { Hono } from "hono";
 * import { fromFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import { CGIHandler } from "@wsgiref/wsgiref/handlers";
 *
 * const hono = new Hono().get("/", (c) => c.text("Hello from Hono"));
 * await new CGIHandler().run(fromFetchHandler(hono.fetch));
 * ```
 *
 * @example On the simple server
 * ```ts ignore
 * import { fromFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import { makeServer } from "@wsgiref/wsgiref/simple_server";
 *
 * const app = fromFetchHandler((request) => new Response(request.url));
 * await using server = makeServer("127.0.0.1", 8000, app);
 * await server.serveForever();
 * ```
 */
export function fromFetchHandler(
  handler: FetchHandler | { fetch: FetchHandler },
): WSGIApplication {
  const fetch: FetchHandler = typeof handler === "function"
    ? handler
    : handler?.fetch?.bind(handler);
  if (typeof fetch !== "function") {
    throw new TypeError(
      "fromFetchHandler needs a function (request) => Response, " +
        "or an object with such a fetch method",
    );
  }
  return async function fetchApp(environ, startResponse) {
    const response = await fetch(toRequest(environ));
    if (!(response instanceof Response)) {
      throw new TypeError(
        `The Fetch handler must return a Response, got ${typeName(response)}`,
      );
    }
    const code = response.status;
    const headers: [string, string][] = [];
    for (const [name, value] of response.headers) {
      if (!isHopByHop(name)) headers.push([name, value]);
    }
    startResponse(
      `${code} ${response.statusText || reasons[code] || "Unknown"}`,
      headers,
    );
    return response.body === null ? [] : new FetchBody(response.body);
  };
}
