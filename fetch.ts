/**
 * Bridges between WSGI and the Fetch API (beyond wsgiref).
 *
 * {@linkcode toFetchHandler} turns a WSGI application into a
 * `(request, info?) => Response | Promise<Response>` handler (the shape of
 * a `Deno.serve` handler), so it runs on
 * `Deno.serve`, on `deno serve` (with `--parallel` for every core) or on any
 * Fetch-API host. {@linkcode fromFetchHandler} goes the other way: a Fetch
 * handler (a Hono app, say) becomes a WSGI application, to run
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

import {
  bodyBeforeStart,
  callClose,
  checkBody,
  checkChunk,
  checkHead,
  checkNoHopByHop,
  checkRestart,
  checkStartResponse,
  checkWriteData,
  concat,
  describe,
  EMPTY,
  ERROR_BODY,
  ERROR_STATUS,
  formatError,
  isPromiseLike,
  noStartResponse,
  SERVER_VERSION,
  WSGI_VERSION,
} from "./_gateway.ts";
import {
  addHeaderField,
  fileWrapperFactory,
  unquoteNative,
} from "./_environ.ts";
import { reasonPhrase } from "./_status.ts";
import {
  type BodySpool,
  DEFAULT_MAX_REQUEST_BODY,
  DEFAULT_SPOOL_THRESHOLD,
  Spooler,
  SpoolError,
} from "./_spool.ts";
import { requestHeaderList } from "./_fetch_internals.ts";
import { BytesIO, FileWrapper, isHopByHop, requestUri } from "./util.ts";
import type {
  ErrorStream,
  HeaderList,
  InputStream,
  ResponseBody,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";

/**
 * A Fetch-API handler: takes a `Request`, gives a `Response`. `Deno.serve`
 * handlers, `app.fetch` of Hono and most edge frameworks have this shape.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { FetchHandler } from "@wsgiref/wsgiref/fetch";
 *
 * const handler: FetchHandler = (request) =>
 *   new Response(`you asked for ${new URL(request.url).pathname}`);
 *
 * const response = await handler(new Request("http://localhost/spam"));
 * assertEquals(await response.text(), "you asked for /spam");
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
 * import { assertEquals } from "@std/assert";
 * import { type ServeInfo, toFetchHandler } from "@wsgiref/wsgiref/fetch";
 *
 * const info: ServeInfo = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 * };
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(String(environ.REMOTE_ADDR))];
 * });
 * const response = await handler(new Request("http://localhost/"), info);
 * assertEquals(await response.text(), "127.0.0.1");
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
 * import { assertEquals } from "@std/assert";
 * import {
 *   toFetchHandler,
 *   type ToFetchHandlerOptions,
 * } from "@wsgiref/wsgiref/fetch";
 *
 * const options: ToFetchHandlerOptions = {
 *   scriptName: "/app",
 *   maxRequestBody: 1024 * 1024,
 * };
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.SCRIPT_NAME} ${environ.PATH_INFO}`)];
 * }, options);
 * const inside = await handler(new Request("http://localhost/app/x"));
 * assertEquals(await inside.text(), "/app /x");
 * const outside = await handler(new Request("http://localhost/other"));
 * assertEquals(outside.status, 404);
 * await outside.body?.cancel();
 * ```
 */
export interface ToFetchHandlerOptions {
  /**
   * Largest request body in bytes. A larger `Content-Length` is answered
   * with 413 before the body is read; a streamed (chunked) body is read
   * until it passes the limit, then 413. Default: 1 GiB, as `makeServer`.
   */
  maxRequestBody?: number;
  /**
   * Request bodies larger than this many bytes are written to a temporary
   * file as they arrive (in `spoolDir`), and `wsgi.input` reads that file
   * synchronously; smaller ones stay in memory. `0` spools every body.
   * Default 1 MiB, as `makeServer`.
   */
  spoolThreshold?: number;
  /**
   * The directory of the temporary files of spooled bodies; it needs
   * `--allow-read` and `--allow-write` (without them a body over
   * `spoolThreshold` is answered 413, and `errors` says why, once). Each
   * file is removed from the directory as soon as it is open, and closed
   * when the response ends. Default: the system's temporary directory.
   */
  spoolDir?: string;
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

const DEFAULT_SOFTWARE = `${SERVER_VERSION} Deno/${
  typeof Deno !== "undefined" ? Deno.version.deno : "unknown"
}`;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
/** The size of the stream chunks a file wrapper's small blocks are joined into. */
const FILE_CHUNK = 64 * 1024;

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

const makeFileWrapper = fileWrapperFactory(FileWrapper);

// --- the environ --------------------------------------------------------

/**
 * Adds one request header field to the environ (see `addHeaderField`);
 * `Host` is left out, as `HTTP_HOST` comes from the URL (an HTTP/2 request
 * has no Host line).
 */
function addRequestField(
  environ: Partial<WSGIEnvironment>,
  name: string,
  value: string,
): void {
  if (name.length === 4 && name.toLowerCase() === "host") return;
  addHeaderField(environ, name, value);
}

/**
 * Adds the request's header fields to the environ: as received, repeats
 * apart (so joined with "," as wsgiref joins them), where the runtime
 * exposes them (Deno.serve's requests, Requests built from pairs); else as
 * `Headers.forEach` gives them, repeats already combined by the Fetch API
 * with ", ".
 */
function addHeaders(environ: Partial<WSGIEnvironment>, request: Request): void {
  const list = requestHeaderList(request);
  if (list === null) {
    request.headers.forEach((value, name) =>
      addRequestField(environ, name, value)
    );
    return;
  }
  for (let i = 0; i < list.length; i++) {
    addRequestField(environ, list[i][0], list[i][1]);
  }
}

/** The scheme and authority of a request URL, as the environ has them. */
interface Origin {
  /** `wsgi.url_scheme`: `"https"` over TLS, else `"http"`. */
  scheme: "http" | "https";
  /** `HTTP_HOST`: the authority without user info or a default port; `""` for none. */
  host: string;
  /** `SERVER_NAME`. */
  name: string;
  /** `SERVER_PORT`, defaulted by scheme. */
  port: string;
}

/**
 * Parses the origin of a request URL (`url.slice(0, end)`). `Deno.serve`
 * on a Unix socket gives `http+unix://<Host>`, or, for a request without a
 * Host, the socket's percent-encoded path: the scheme is then `http`, and
 * the server's name `localhost`.
 */
function parseOrigin(url: string, end: number): Origin {
  const colon = url.indexOf(":");
  const raw = url.slice(0, colon).toLowerCase();
  const scheme = raw === "https" || raw === "wss" ? "https" : "http";
  let host = url.startsWith("//", colon + 1) ? url.slice(colon + 3, end) : "";
  const at = host.lastIndexOf("@");
  if (at !== -1) host = host.slice(at + 1);
  // A Unix socket's path, not a host.
  if (raw.endsWith("+unix") && host.startsWith("%2F")) host = "";
  let name = host;
  let port = "";
  const pc = host.lastIndexOf(":");
  if (pc > host.lastIndexOf("]")) {
    name = host.slice(0, pc);
    port = host.slice(pc + 1);
  }
  if (!port) {
    port = scheme === "https" ? "443" : "80";
    host = name;
  }
  return { scheme, host, name: name || "localhost", port };
}

/** Where the path starts in `url`: after the scheme and authority. */
function pathStart(url: string): number {
  let i = url.indexOf(":") + 1;
  if (url.startsWith("//", i)) {
    for (i += 2; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) break;
    }
  }
  return i;
}

// --- the response -------------------------------------------------------

/**
 * The app's headers for a `Response`, and whether they name a
 * Content-Type. A record when every name is distinct (the common case:
 * Deno converts a record faster than a list of pairs), else a list of
 * pairs (repeated `Set-Cookie`). The list holds no hop-by-hop header
 * (`buildHead` refused it).
 */
function headersInit(
  headers: HeaderList,
): { init: HeadersInit; typed: boolean } {
  const record: Record<string, string> = {};
  let typed = false;
  for (let i = 0; i < headers.length; i++) {
    const key = headers[i][0].toLowerCase();
    if (Object.hasOwn(record, key) || key === "__proto__") {
      const pairs = headers.map(([n, v]) => [n, v] as [string, string]);
      return { init: pairs, typed: typed || hasContentType(pairs) };
    }
    if (key === "content-type") typed = true;
    record[key] = headers[i][1];
  }
  return { init: record, typed };
}

function hasContentType(headers: HeaderList): boolean {
  return headers.some(([name]) =>
    name.length === 12 && name.toLowerCase() === "content-type"
  );
}

// Deno's Response copies a byte body into a new ArrayBuffer, but keeps a
// string body as it is and sends its UTF-8 (see bench/README.md for what
// that saves). A body that is valid UTF-8 decodes to a string whose UTF-8
// is the same bytes, so a small text body goes to Deno as a string: the
// bytes on the wire, and what response.arrayBuffer() gives, do not change.
const TEXT_BODY_MAX = 16 * 1024;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `body` as a string when that is the same bytes in UTF-8, else `body`.
 * Only for a response whose headers name a Content-Type: for a string body
 * without one, Response would add `text/plain;charset=UTF-8`.
 */
function textBody(body: Uint8Array): BodyInit {
  const n = body.length;
  if (n > TEXT_BODY_MAX) return body as Uint8Array<ArrayBuffer>;
  // Most binary formats start with a byte past ASCII: not decoded in vain.
  for (let i = 0; i < n && i < 16; i++) {
    if (body[i] > 0x7f) return body as Uint8Array<ArrayBuffer>;
  }
  const text = utf8.decode(body);
  // Invalid UTF-8 decodes with U+FFFD (as does a real U+FFFD: rare, and
  // sent as bytes too).
  if (text.indexOf("\ufffd") !== -1) return body as Uint8Array<ArrayBuffer>;
  return text;
}

/**
 * A body the bridge may hand to the `Response` as the file's own stream
 * (wsgiref's `sendfile` hook): the library's own `FileWrapper` (not a
 * subclass, whose iteration or `close()` may do more) over a
 * `Deno.FsFile`. Its `close()` only closes the file, which the stream does
 * when it ends, fails or is cancelled.
 */
function sendableFile(result: unknown): Deno.FsFile | null {
  if (
    result instanceof FileWrapper &&
    Object.getPrototypeOf(result) === FileWrapper.prototype &&
    !Object.hasOwn(result, "close") &&
    typeof Deno !== "undefined" && result.filelike instanceof Deno.FsFile
  ) {
    return result.filelike;
  }
  return null;
}

/**
 * The blocks of a file wrapper joined into stream chunks of at least
 * `size` bytes (the last one may be smaller): a Fetch host moves few large
 * chunks much faster than many small ones.
 */
async function* coalesce(
  it: AsyncIterator<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  let done = false;
  try {
    let parts: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const step = await it.next();
      if (step.done) break;
      checkChunk(step.value);
      parts.push(step.value);
      n += step.value.length;
      if (n >= size) {
        yield concat(parts);
        parts = [];
        n = 0;
      }
    }
    done = true;
    if (n) yield concat(parts);
  } finally {
    if (!done) await it.return?.();
  }
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

/** A response head, checked and converted for `new Response`. */
interface Head {
  init: ResponseInit;
  /** The headers name a Content-Type (see `textBody`). */
  typed: boolean;
  /** The status takes no body (204, 304, ...). */
  bodyless: boolean;
}

/**
 * Checks a response head again (the app may have changed its list since
 * `startResponse`) and converts it for `new Response`.
 */
function buildHead(status: string, headers: HeaderList): Head {
  checkHead(status, headers);
  checkNoHopByHop(headers);
  const code = +status.slice(0, 3);
  if (code < 200 || code > 599) {
    throw new RangeError(
      `Status ${JSON.stringify(status)} cannot be sent through the Fetch ` +
        "API, whose responses are 200-599 (the Fetch host sends 1xx itself)",
    );
  }
  const { init, typed } = headersInit(headers);
  return {
    init: { status: code, statusText: status.slice(4), headers: init },
    typed,
    bodyless: NULL_BODY_STATUS.has(code),
  };
}

/**
 * What one `toFetchHandler` keeps of its last request, since its requests
 * tend to come to the same origin and its app to answer with the same head
 * and often the same small body: the origin parsed, the head checked and
 * converted, the text a body decoded to. Each is reused only for an equal
 * input (the same strings, the same bytes), so a request never sees
 * another's data; each handler has its own (bench/README.md says what it
 * saves).
 */
class Memory {
  #origin = "";
  /** The origin parsed by the last {@linkcode Memory.split}. */
  parsed: Origin = parseOrigin("http:", 5);
  #status = "";
  #flat: string[] = [];
  #head: Head | null = null;
  #body: Uint8Array | null = null;
  #text = "";

  /**
   * Where the path starts in `url`; leaves the URL's origin parsed in
   * {@linkcode Memory.parsed}.
   */
  split(url: string): number {
    const n = this.#origin.length;
    if (n !== 0) {
      const c = url.charCodeAt(n);
      // "/", "?", "#" or the end, after the same origin.
      if (
        (c === 0x2f || c === 0x3f || c === 0x23 || c !== c) &&
        url.slice(0, n) === this.#origin
      ) return n;
    }
    const at = pathStart(url);
    this.#origin = url.slice(0, at);
    this.parsed = parseOrigin(url, at);
    return at;
  }

  /** {@linkcode buildHead}, or the last head when status and headers are equal. */
  head(status: string, headers: HeaderList): Head {
    const flat = this.#flat;
    const n = headers.length;
    if (status === this.#status && flat.length === 2 * n) {
      let i = 0;
      for (; i < n; i++) {
        const pair = headers[i];
        if (
          !Array.isArray(pair) || pair[0] !== flat[2 * i] ||
          pair[1] !== flat[2 * i + 1]
        ) break;
      }
      if (i === n) return this.#head!;
    }
    const head = buildHead(status, headers);
    const copy: string[] = new Array(2 * n);
    for (let i = 0; i < n; i++) {
      copy[2 * i] = headers[i][0];
      copy[2 * i + 1] = headers[i][1];
    }
    this.#status = status;
    this.#flat = copy;
    this.#head = head;
    return head;
  }

  /** {@linkcode textBody}, comparing an app's constant ASCII answer instead of decoding it again. */
  text(body: Uint8Array): BodyInit {
    const n = body.length;
    if (body === this.#body && n === this.#text.length) {
      // The same small array again: compared, as the app may have
      // changed its bytes.
      let i = 0;
      while (i < n && body[i] === this.#text.charCodeAt(i)) i++;
      if (i === n) return this.#text;
    }
    const text = textBody(body);
    if (typeof text === "string" && n <= 64 && text.length === n) {
      this.#body = body;
      this.#text = text;
    }
    return text;
  }
}

/**
 * One request: holds the status and headers, buffers what is written
 * before the response is returned, then serves as the underlying source of
 * the response's `ReadableStream` (pulled as the client reads). The rules
 * it enforces are the handlers' (`_gateway.ts`); the control flow is its
 * own, since a `Response` pulls where `BaseHandler` pushes.
 */
class Exchange implements UnderlyingDefaultSource<Uint8Array> {
  readonly startResponse: StartResponse;
  readonly write: WriteFn;
  readonly errors: ErrorStream;
  readonly method: string;
  readonly path: string;
  status: string | null = null;
  headers: HeaderList | null = null;
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
  /** The request body's spool, closed with the response's body. */
  spool: BodySpool | null = null;
  #closed = false;

  readonly memory: Memory;

  constructor(
    memory: Memory,
    errors: ErrorStream,
    method: string,
    path: string,
  ) {
    this.memory = memory;
    this.errors = errors;
    this.method = method;
    this.path = path;
    this.startResponse = (status, headers, excInfo) =>
      this.#startResponse(status, headers, excInfo);
    this.write = (data) => this.#write(data);
  }

  #startResponse(
    status: string,
    headers: HeaderList,
    excInfo?: unknown,
  ): WriteFn {
    checkRestart(this.status !== null, this.sent, excInfo);
    checkStartResponse(status, headers);
    this.status = status;
    this.headers = headers;
    return this.write;
  }

  #write(data: Uint8Array): void {
    checkWriteData(data);
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
    let ret: unknown;
    try {
      ret = callClose(this.result);
    } catch (e) {
      this.log("the response body's close() failed", e);
      return;
    } finally {
      // The request is over: its spooled body, if any, goes with it.
      this.spool?.close();
    }
    if (isPromiseLike(ret)) {
      return Promise.resolve(ret).then(
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
    try {
      this.errors.write(
        `${this.method} ${this.path}: ${what}:\n${formatError(e)}`,
      );
    } catch {
      // nowhere left to report
    }
  }

  /** The head for the `Response` (see `buildHead`). */
  #head(): Head {
    if (this.status === null) throw noStartResponse();
    return this.memory.head(this.status, this.headers!);
  }

  /** The response for the status and headers set, with `body`. */
  response(body: BodyInit | null): Response {
    const { init, typed, bodyless } = this.#head();
    if (bodyless) body = null;
    else if (typed && body instanceof Uint8Array) body = this.memory.text(body);
    return new Response(body, init);
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
    return new Response(ERROR_BODY as Uint8Array<ArrayBuffer>, {
      status: 500,
      statusText: ERROR_STATUS.slice(4),
      headers: { "Content-Type": "text/plain" },
    });
  }

  /**
   * The response with `body` as the whole body; `null` if it cannot be
   * built (the error kept in {@linkcode Exchange.error}).
   */
  completeWith(body: Uint8Array): Response | null {
    let response: Response;
    try {
      response = this.response(
        body.length ? body as Uint8Array<ArrayBuffer> : null,
      );
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
    const response = this.completeWith(concat(this.pending));
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
    if (this.status === null) return null;
    if (result.length === 1 && this.pending.length === 0) {
      // One block, nothing written (the common case): sent as it is.
      const chunk = result[0];
      if (!(chunk instanceof Uint8Array)) return null;
      return this.completeWith(chunk);
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
    const response = this.completeWith(concat(this.pending));
    if (response === null) this.pending.length = mark;
    return response;
  }

  /** Takes the app's result: a response, whole or streamed. */
  async run(result: ResponseBody): Promise<Response> {
    this.result = result;
    try {
      checkBody(result);
      if (Array.isArray(result)) {
        // All in memory already: one block, no stream.
        if (this.status === null) throw noStartResponse();
        for (const chunk of result as unknown[]) {
          checkChunk(chunk);
          if (chunk.length) this.pending.push(chunk);
        }
        return await this.complete();
      }
      const file = this.status !== null && this.pending.length === 0
        ? sendableFile(result)
        : null;
      if (file !== null) return await this.#fileResponse(file);
      if (result instanceof FileWrapper) {
        this.iterator = coalesce(
          result[Symbol.asyncIterator](),
          Math.max(result.blksize, FILE_CHUNK),
        );
        this.isAsync = true;
      } else if (Symbol.asyncIterator in result) {
        this.iterator = (result as AsyncIterable<unknown>)
          [Symbol.asyncIterator]();
        this.isAsync = true;
      } else {
        this.iterator = (result as Iterable<unknown>)[Symbol.iterator]();
      }
      // As wsgiref: the headers go out with the first block (or a write()),
      // so a generator may still call startResponse before it yields.
      while (!this.sent) {
        const step = this.isAsync
          ? await (this.iterator as AsyncIterator<unknown>).next()
          : (this.iterator as Iterator<unknown>).next();
        if (step.done) {
          this.iterator = null;
          return await this.complete();
        }
        checkChunk(step.value);
        if (this.status === null) throw bodyBeforeStart();
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

  /**
   * A file wrapper's file as the response body: its own stream, which the
   * Fetch host reads without a JavaScript step per block, and which closes
   * the file when it ends, fails or is cancelled (all the wrapper's
   * `close()` does, so that counts as its one call).
   */
  async #fileResponse(file: Deno.FsFile): Promise<Response> {
    const { init, bodyless } = this.#head();
    this.sent = true;
    this.ended = true;
    if (bodyless) {
      await this.closeBody();
      return new Response(null, init);
    }
    this.#closed = true;
    return new Response(file.readable, init);
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
          ? await (it as AsyncIterator<unknown>).next()
          : (it as Iterator<unknown>).next();
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

/** Bytes read from a request body at a time (into one buffer, when the stream allows). */
const BODY_READ = 64 * 1024;

/** Reads a request body chunk by chunk; see {@linkcode bodyReader}. */
interface BodyReader {
  /** The next chunk (valid until the next call), or null at the end. */
  next(): Promise<Uint8Array | null>;
  /** Stops reading: the rest of the body is not wanted. */
  cancel(): void;
}

/**
 * Reads `body` into one buffer of its own when the stream is a byte stream
 * (Deno.serve's are), so that a large body leaves no garbage behind; chunk
 * by chunk as the stream gives them otherwise.
 */
function bodyReader(body: ReadableStream<Uint8Array>): BodyReader {
  let reader:
    | ReadableStreamBYOBReader
    | ReadableStreamDefaultReader<Uint8Array>;
  let buf: Uint8Array | null = null;
  try {
    reader = body.getReader({ mode: "byob" });
    buf = new Uint8Array(BODY_READ);
  } catch {
    reader = body.getReader();
  }
  return {
    async next() {
      if (buf === null) {
        const step = await (reader as ReadableStreamDefaultReader<Uint8Array>)
          .read();
        return step.done ? null : step.value;
      }
      const step = await (reader as ReadableStreamBYOBReader).read(buf);
      if (step.done || step.value === undefined) return null;
      buf = new Uint8Array(step.value.buffer); // the same memory, handed back
      return step.value;
    },
    cancel() {
      reader.cancel().catch(() => {});
    },
  };
}

function plain(status: number, text: string): Response {
  return new Response(text + "\n", {
    status,
    statusText: reasonPhrase(status),
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
 * URL (default port by scheme); `wsgi.url_scheme` `https` over TLS, else
 * `http` (a Unix socket too); each header as `HTTP_*`, `CONTENT_TYPE` and
 * `CONTENT_LENGTH` unprefixed, a name holding `_` dropped (as nginx and
 * Apache httpd drop it); `REMOTE_ADDR` from `info.remoteAddr`;
 * `SERVER_PROTOCOL` `"HTTP/1.1"`. Repeated header lines are joined with
 * `","`, as wsgiref joins them: on `Deno.serve` the fields are read as they
 * came in; only a request whose headers the runtime has combined already (a
 * `Request` built from a `Headers` object, another host's request) arrives
 * joined with the Fetch API's `", "`. The body is read before the app runs
 * (413 past `maxRequestBody`): in memory up to `spoolThreshold`, past it
 * into a temporary file in `spoolDir` (closed and gone when the response
 * ends), and `wsgi.input` reads it synchronously; `CONTENT_LENGTH` is set
 * to its length when the request had none, and `wsgi.input_terminated` is
 * true.
 *
 * The app is held to the rules the handlers enforce (`startResponse`'s
 * checks, the body's shape), with the same messages. The response keeps
 * the status and its reason phrase (as `statusText`); every header (each
 * `Set-Cookie` apart); and a body that streams: the app's iterable is
 * pulled as the client reads, and its `close()` is called exactly once,
 * when it ends, fails, or the client goes away. As in wsgiref the headers
 * go out with the first non-empty block or `write()`; an app error before
 * that is a 500, after it the response is aborted. An array body is sent
 * as one block. A `FileWrapper` over a `Deno.FsFile` is sent as the file's
 * own stream (wsgiref's `sendfile`), which closes the file when it ends;
 * other file wrappers are sent in chunks of 64 KiB or more. Errors are
 * logged to `wsgi.errors`.
 *
 * A `GET` or
 * `HEAD` has an empty `wsgi.input`: the Fetch API carries no body for them
 * (Deno.serve drops one).
 *
 * @param app the WSGI application
 * @param options body limit and spooling, `wsgi.errors`, flags, mount prefix
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
 * @example Called directly: PATH_INFO is a native string
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { toFetchHandler } from "@wsgiref/wsgiref/fetch";
 *
 * let pathInfo: string | undefined;
 * const handler = toFetchHandler((environ, startResponse) => {
 *   pathInfo = environ.PATH_INFO; // a native string: one code unit per byte
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [Uint8Array.from(pathInfo ?? "", (c) => c.charCodeAt(0))];
 * });
 * const response = await handler(new Request("http://localhost/caf%C3%A9"));
 * assertEquals(pathInfo, "/caf\xc3\xa9"); // the UTF-8 bytes of "é", as ISO-8859-1
 * assertEquals(await response.text(), "/café"); // the same bytes, read as UTF-8
 * ```
 */
export function toFetchHandler(
  app: WSGIApplication,
  options: ToFetchHandlerOptions = {},
): (request: Request, info?: ServeInfo) => Promise<Response> {
  if (typeof app !== "function") {
    throw new TypeError(
      `toFetchHandler needs a WSGI app, got ${describe(app)}`,
    );
  }
  const max = options.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY;
  if (!(max >= 0)) {
    throw new RangeError(`maxRequestBody must be >= 0, got ${max}`);
  }
  const threshold = options.spoolThreshold ?? DEFAULT_SPOOL_THRESHOLD;
  if (!(threshold >= 0)) {
    throw new RangeError(`spoolThreshold must be >= 0, got ${threshold}`);
  }
  const spooler = new Spooler({ threshold, dir: options.spoolDir });
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

  const memory = new Memory();

  /** Runs the app on a complete environ. */
  function runApp(
    environ: WSGIEnvironment,
    method: string,
    rawPath: string,
    spool: BodySpool | null = null,
  ): Response | Promise<Response> {
    const exchange = new Exchange(memory, errors, method, rawPath);
    exchange.spool = spool;
    let result: ResponseBody | Promise<ResponseBody>;
    try {
      result = app(environ, exchange.startResponse);
    } catch (e) {
      return exchange.fail(e);
    }
    if (isPromiseLike<ResponseBody>(result)) {
      return Promise.resolve(result).then(
        (body) => finish(exchange, body),
        (e) => exchange.fail(e),
      );
    }
    return finish(exchange, result);
  }

  /**
   * Reads the request body, then runs the app: a body of known length up
   * to the threshold in one piece, any other into a spool (memory, then a
   * temporary file); 413 past `maxRequestBody`.
   */
  async function withBody(
    request: Request,
    body: ReadableStream<Uint8Array>,
    environ: WSGIEnvironment,
    method: string,
    rawPath: string,
  ): Promise<Response> {
    const header = environ.CONTENT_LENGTH;
    const length = header !== undefined && /^\d{1,15}$/.test(header)
      ? Number(header)
      : -1;
    if (length > max) {
      body.cancel().catch(() => {});
      return plain(413, `Request body of ${length} bytes is over the limit`);
    }
    if (length >= 0 && length <= threshold) {
      // Small and known: one read, held in memory.
      let bytes: Uint8Array;
      try {
        bytes = await request.bytes();
      } catch {
        return plain(400, "Request body cut off"); // the client went away
      }
      environ["wsgi.input"] = new BytesIO(bytes);
      return await runApp(environ, method, rawPath);
    }
    const spool = spooler.open(length);
    let response: Response | Promise<Response>;
    try {
      const refused = await spoolBody(body, spool);
      if (refused !== null) {
        spool.close();
        return refused;
      }
      if (environ.CONTENT_LENGTH === undefined && spool.length) {
        environ.CONTENT_LENGTH = String(spool.length);
      }
      environ["wsgi.input"] = spool.input();
      // From here the exchange closes the spool when the response ends.
      response = runApp(environ, method, rawPath, spool);
    } catch (e) {
      spool.close();
      throw e;
    }
    return await response;
  }

  /**
   * Reads `body` into `spool`; null once it is all in, else the response
   * that refuses it (413 past the limit or without permission to spool,
   * 507 for a failed disk, 400 for a body cut off by the client).
   */
  async function spoolBody(
    body: ReadableStream<Uint8Array>,
    spool: BodySpool,
  ): Promise<Response | null> {
    const reader = bodyReader(body);
    try {
      for (
        let chunk = await reader.next();
        chunk !== null;
        chunk = await reader.next()
      ) {
        if (spool.length + chunk.length > max) {
          reader.cancel();
          return plain(413, "Request body too large");
        }
        const r = spool.append(chunk);
        if (r) await r;
      }
      const r = spool.end();
      if (r) await r;
      return null;
    } catch (e) {
      reader.cancel();
      if (e instanceof SpoolError) {
        const { status, log } = spooler.answer(e);
        if (log !== null) errors.write(`${log}\n`);
        return plain(
          status,
          status === 413
            ? "Request body too large for this server"
            : "The server could not store the request body",
        );
      }
      // The stream failed: the client went away, or sent a broken body.
      return plain(400, "Request body cut off");
    }
  }

  return async function wsgiFetchHandler(
    request: Request,
    info?: ServeInfo,
  ): Promise<Response> {
    const url = request.url;
    const method = request.method;
    const at = memory.split(url);
    const origin = memory.parsed;
    let hash = url.indexOf("#", at);
    if (hash === -1) hash = url.length;
    let q = url.indexOf("?", at);
    if (q === -1 || q > hash) q = hash;
    const rawPath = url.slice(at, q);
    let pathInfo = unquoteNative(rawPath);
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
    // One object literal: V8 gives it a fixed shape at once.
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
      "wsgi.version": WSGI_VERSION,
      "wsgi.url_scheme": origin.scheme,
      "wsgi.input": NO_INPUT,
      "wsgi.errors": errors,
      "wsgi.multithread": multithread,
      "wsgi.multiprocess": multiprocess,
      "wsgi.run_once": false,
      "wsgi.file_wrapper": makeFileWrapper,
      "wsgi.input_terminated": true,
    };
    if (origin.host) environ.HTTP_HOST = origin.host;
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
    environ["wsgi.input"] = new BytesIO(EMPTY);
    // A Response is returned, not awaited: an await costs a microtask turn.
    const response = runApp(environ, method, rawPath);
    return response instanceof Response ? response : await response;
  };
}

/** Stands in for `wsgi.input` until the request body is read. */
const NO_INPUT: InputStream = new BytesIO(EMPTY);

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

/**
 * The URL of the `Request` a Fetch handler gets: `requestUri`'s, with
 * `SCRIPT_NAME` left out unless `keepScriptName` (the handler then sees
 * itself at the root, as on `Deno.serve`), and `localhost` as the host when
 * the environ names none (a CGI program run from a shell).
 */
function requestUrl(environ: WSGIEnvironment, keepScriptName: boolean): string {
  return requestUri({
    "wsgi.url_scheme": environ["wsgi.url_scheme"] ?? "http",
    HTTP_HOST: environ.HTTP_HOST,
    SERVER_NAME: environ.SERVER_NAME || "localhost",
    SERVER_PORT: environ.SERVER_PORT ||
      (environ["wsgi.url_scheme"] === "https" ? "443" : "80"),
    SCRIPT_NAME: keepScriptName ? environ.SCRIPT_NAME : "",
    PATH_INFO: environ.PATH_INFO || "/",
    QUERY_STRING: environ.QUERY_STRING,
  });
}

function toRequest(environ: WSGIEnvironment, keepScriptName: boolean): Request {
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
    const input = environ["wsgi.input"] as InputStream | undefined;
    const length = environ.CONTENT_LENGTH?.trim();
    if (input !== undefined && length && /^\d+$/.test(length)) {
      body = readExactly(input, +length);
    } else if (input !== undefined && environ["wsgi.input_terminated"]) {
      body = input.read();
    }
    if (body !== null) headers.set("content-length", String(body.length));
  }
  return new Request(requestUrl(environ, keepScriptName), {
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
  return concat(chunks);
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
 * Options of {@linkcode fromFetchHandler}.
 *
 * @example Giving the Fetch app the whole path, mount point included
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { fromFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app = fromFetchHandler(
 *   (request) => new Response(new URL(request.url).pathname),
 *   { keepScriptName: true },
 * );
 * const environ: Partial<WSGIEnvironment> = {
 *   SCRIPT_NAME: "/cgi-bin/app",
 *   PATH_INFO: "/hello",
 * };
 * setupTestingDefaults(environ);
 * const body = await app(environ, () => () => {});
 * const chunks = await Array.fromAsync(body as AsyncIterable<Uint8Array>);
 * assertEquals(new TextDecoder().decode(chunks[0]), "/cgi-bin/app/hello");
 * ```
 */
export interface FromFetchHandlerOptions {
  /**
   * Keep `SCRIPT_NAME` in the `Request`'s URL. By default it is left out:
   * the Fetch app sees the URL as if it ran at the site's root (its routes
   * answer wherever a web server mounts the program), as it would on
   * `Deno.serve`. With `true` it sees the whole path, and must route under
   * its mount point itself (Hono's `basePath(SCRIPT_NAME)`, say).
   */
  keepScriptName?: boolean;
}

/**
 * What `fromFetchHandler` reads of a handler's answer: a `Response`, or one
 * of another realm's Fetch implementation (npm packages running in Deno's
 * Node mode answer with undici's), which is not `instanceof Response`.
 */
interface ResponseLike {
  readonly status: number;
  readonly statusText?: string;
  readonly headers: Iterable<[string, string]>;
  readonly body: ReadableStream<Uint8Array> | null;
}

function isResponseLike(value: unknown): value is ResponseLike {
  if (value instanceof Response) return true;
  if (value === null || typeof value !== "object") return false;
  const r = value as Record<string, unknown>;
  const headers = r.headers as Record<symbol, unknown> | null | undefined;
  const body = r.body as Record<string, unknown> | null | undefined;
  return typeof r.status === "number" &&
    headers !== null && typeof headers === "object" &&
    typeof headers[Symbol.iterator] === "function" &&
    (body === null ||
      (typeof body === "object" && typeof body.getReader === "function"));
}

/**
 * Runs a Fetch-API handler as a WSGI application, to serve it with
 * `CGIHandler`, `makeServer` or any WSGI server.
 *
 * The `Request` is built from the environ: its URL by `requestUri`, but
 * without `SCRIPT_NAME` (unless `options.keepScriptName`), so that the
 * Fetch app's routes answer wherever a web server mounts the program, as
 * on `Deno.serve` at the root; the host is `localhost` when the environ
 * names none (a CGI program run by hand). Its method comes from
 * `REQUEST_METHOD`, its headers from the `HTTP_*` keys and
 * `CONTENT_TYPE`/`CONTENT_LENGTH`, its body from `wsgi.input` (read up to
 * `CONTENT_LENGTH`; all of it when `wsgi.input_terminated` is set and there
 * is no length). The app answers `"<code> <reason>"` (the registered
 * reason when `statusText` is empty), the response's headers but the
 * hop-by-hop ones (each `Set-Cookie` apart) and the body streamed from
 * `response.body`; `close()` cancels it if it was not read to the end.
 *
 * `handler` may be a function or an object with a `fetch` method (a Hono
 * app, say).
 *
 * @param handler the Fetch-API handler
 * @param options whether the URL keeps `SCRIPT_NAME`
 * @returns a WSGI application
 *
 * @example A Hono app as a CGI program (routes as on Deno.serve)
 * ```ts ignore
 * import { Hono } from "hono";
 * import { fromFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import { CGIHandler } from "@wsgiref/wsgiref/handlers";
 *
 * const hono = new Hono().get("/", (c) => c.text("Hello from Hono"));
 * await new CGIHandler().run(fromFetchHandler(hono));
 * ```
 *
 * @example Called directly, as a CGI program mounted at /cgi-bin/app
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { fromFetchHandler } from "@wsgiref/wsgiref/fetch";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app = fromFetchHandler((request) => new Response(request.url));
 * const environ: Partial<WSGIEnvironment> = {
 *   SCRIPT_NAME: "/cgi-bin/app",
 *   PATH_INFO: "/hello",
 *   QUERY_STRING: "a=1",
 * };
 * setupTestingDefaults(environ);
 * let status = "";
 * const body = await app(environ, (s) => {
 *   status = s;
 *   return () => {};
 * });
 * const chunks = await Array.fromAsync(body as AsyncIterable<Uint8Array>);
 * assertEquals(status, "200 OK");
 * assertEquals(new TextDecoder().decode(chunks[0]), "http://127.0.0.1/hello?a=1");
 * ```
 */
export function fromFetchHandler(
  handler: FetchHandler | { fetch: FetchHandler },
  options: FromFetchHandlerOptions = {},
): WSGIApplication {
  const fetch: FetchHandler = typeof handler === "function"
    ? handler
    : handler?.fetch?.bind(handler);
  if (typeof fetch !== "function") {
    throw new TypeError(
      "fromFetchHandler needs a function (request) => Response, " +
        `or an object with such a fetch method (got ${describe(handler)})`,
    );
  }
  const keepScriptName = options.keepScriptName ?? false;
  return async function fetchApp(environ, startResponse) {
    const response: unknown = await fetch(toRequest(environ, keepScriptName));
    if (!isResponseLike(response)) {
      throw new TypeError(
        `The Fetch handler must return a Response (got ${
          describe(response)
        }): an object with a numeric status, iterable headers and a body ` +
          "that is a ReadableStream or null",
      );
    }
    const code = response.status;
    const headers: [string, string][] = [];
    for (const [name, value] of response.headers) {
      if (!isHopByHop(name)) headers.push([name, value]);
    }
    startResponse(
      `${code} ${response.statusText || reasonPhrase(code)}`,
      headers,
    );
    return response.body === null ? [] : new FetchBody(response.body);
  };
}
