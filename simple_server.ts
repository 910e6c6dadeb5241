/**
 * A simple HTTP server for WSGI applications, as Python's
 * `wsgiref.simple_server`: {@linkcode makeServer}, {@linkcode WSGIServer},
 * {@linkcode WSGIRequestHandler} and {@linkcode demoApp}.
 *
 * Built on raw `Deno.listen` TCP, it answers an HTTP/1.0 request byte for
 * byte as wsgiref does, and goes past wsgiref for HTTP/1.1 clients:
 * persistent connections, pipelining, chunked bodies both ways, `HEAD`,
 * `Expect: 100-continue`, and many connections at once.
 *
 * From the command line:
 *
 * ```sh
 * deno run --allow-net simple_server.ts                  # demoApp on port 8000
 * deno run -A simple_server.ts ./app.ts[:name] [--host H] [--port P]
 * ```
 *
 * @example Serving an app
 * ```ts
 * import { makeServer } from "@wsgiref/wsgiref/simple_server";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 *
 * await using server = makeServer("127.0.0.1", 0, app, { logRequests: false });
 * const served = server.serveForever();
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.log(await res.text()); // "Hello world!"
 * await server.shutdown();
 * await served;
 * ```
 *
 * @module
 */

import { SimpleHandler } from "./handlers.ts";
import { BytesIO, type FileWrapper } from "./util.ts";
import type {
  ErrorStream,
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";

export type {
  ErrorStream,
  FileLike,
  FileWrapperFactory,
  InputStream,
  ResponseBody,
  ResponseChunks,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";
export type { FileWrapper } from "./util.ts";
import {
  ChunkedDecoder,
  CONTINUE_RESPONSE,
  DEFAULT_HEAD_LIMITS,
  errorResponse,
  HeadParser,
  HTTPError,
  type RequestHead,
} from "./_http.ts";
import { httpDate } from "./_date.ts";
import { repr } from "./_repr.ts";
import { checkHead, SERVER_VERSION } from "./_gateway.ts";
import {
  addHeaderField,
  fileWrapperFactory,
  unquoteNative,
} from "./_environ.ts";
import {
  Framing,
  giveBuffer,
  ResponseWriter,
  takeBuffer,
  writeAll,
} from "./_server_conn.ts";
import {
  BatchedWriter,
  escapeControl,
  logDateTimeString,
} from "./_server_log.ts";

/** `sys_version`. */
const SYS_VERSION = `Deno/${Deno.version.deno}`;
/** `software_version`: the `Server:` header. */
const SOFTWARE_VERSION = `${SERVER_VERSION} ${SYS_VERSION}`;

const EMPTY = new Uint8Array(0);
// What ends a request head cut off by the end of the stream (#headAtEof).
const EOF_AFTER_LF = new Uint8Array([13, 10]);
const EOF_AFTER_CR = new Uint8Array([10, 13, 10]);
const EOF_MID_LINE = new Uint8Array([13, 10, 13, 10]);
const NO_INPUT = new BytesIO(EMPTY);
const FILE_BLOCK = 1024 * 1024;
/** Most bytes read and dropped after a refused request, before closing. */
const LINGER_BYTES = 16 * 1024 * 1024;
/** Longest wait for the client to stop sending after a refused request (ms). */
const LINGER_MS = 2000;

/**
 * Options of {@linkcode makeServer} and {@linkcode WSGIServer}.
 *
 * @example
 * ```ts
 * import type { ServerOptions } from "@wsgiref/wsgiref/simple_server";
 *
 * const options: ServerOptions = {
 *   maxRequestBody: 1024 * 1024,
 *   keepAliveTimeout: 2000,
 *   logRequests: false,
 * };
 * ```
 */
export interface ServerOptions {
  /** Largest request body in bytes; past it, 413 before the body is read. Default 10 MiB. */
  maxRequestBody?: number;
  /** Milliseconds a client may take to send a whole request head (and between reads of a body); then the connection is dropped. Default 30 000. */
  headerTimeout?: number;
  /** Milliseconds an idle persistent connection is kept. Default 5 000. */
  keepAliveTimeout?: number;
  /**
   * Milliseconds a response write may wait with the client reading
   * nothing at all; then the connection is dropped (nginx's
   * `send_timeout`). A slow reader that takes some bytes now and then is
   * not affected. Default 60 000.
   */
  sendTimeout?: number;
  /**
   * Milliseconds a client may take to send a whole request body, however
   * steadily it trickles (headerTimeout still bounds each wait between
   * reads); then the connection is dropped. Default 300 000 (Node's
   * `requestTimeout`).
   */
  bodyTimeout?: number;
  /** One access-log line per request on stderr, as wsgiref writes it. Default `true`. */
  logRequests?: boolean;
  /** The class that serves each connection. Default {@linkcode WSGIRequestHandler}. */
  handlerClass?: typeof WSGIRequestHandler;
  /** Most connections served at once; more wait in the listen backlog. Default 10 000. */
  maxConnections?: number;
  /** Longest request line in bytes; past it, 414. Default 65 536 (wsgiref's). */
  maxRequestLine?: number;
  /** Largest header section in bytes; past it, 431. Default 65 536. */
  maxHeaderBytes?: number;
  /** Most header fields; past it, 431. Default 100 (http.server's). */
  maxHeaders?: number;
  /**
   * Variables put in every environ under the CGI variables. wsgiref copies
   * the whole process environment there (`BaseHandler.os_environ`); this
   * server does not unless asked, e.g. `osEnviron: Deno.env.toObject()`:
   * `demoApp` would show it to every client. Default `{}`.
   */
  osEnviron?: Readonly<Record<string, string>>;
}

function resolveOptions(options: ServerOptions): Required<ServerOptions> {
  const positive = (name: keyof ServerOptions, fallback: number): number => {
    const v = options[name] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) {
      throw new RangeError(
        `makeServer option ${name} must be a positive number, got ${String(v)}`,
      );
    }
    return v;
  };
  const handlerClass = options.handlerClass ?? WSGIRequestHandler;
  if (
    typeof handlerClass !== "function" ||
    !(handlerClass === WSGIRequestHandler ||
      handlerClass.prototype instanceof WSGIRequestHandler)
  ) {
    throw new TypeError(
      "makeServer option handlerClass must be WSGIRequestHandler or a subclass",
    );
  }
  return {
    maxRequestBody: positive("maxRequestBody", 10 * 1024 * 1024),
    headerTimeout: positive("headerTimeout", 30_000),
    keepAliveTimeout: positive("keepAliveTimeout", 5_000),
    sendTimeout: positive("sendTimeout", 60_000),
    bodyTimeout: positive("bodyTimeout", 300_000),
    logRequests: options.logRequests ?? true,
    handlerClass,
    maxConnections: positive("maxConnections", 10_000),
    maxRequestLine: positive(
      "maxRequestLine",
      DEFAULT_HEAD_LIMITS.maxRequestLine,
    ),
    maxHeaderBytes: positive(
      "maxHeaderBytes",
      DEFAULT_HEAD_LIMITS.maxHeaderBytes,
    ),
    maxHeaders: positive("maxHeaders", DEFAULT_HEAD_LIMITS.maxHeaders),
    osEnviron: options.osEnviron ?? {},
  };
}

/** Python's `socket.getfqdn(host)`, without a DNS lookup. */
function serverNameFor(host: string): string {
  if (host === "" || host === "0.0.0.0" || host === "::") {
    try {
      if (
        Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
          "granted"
      ) return Deno.hostname();
    } catch { /* fall through */ }
    return host === "" ? "0.0.0.0" : host;
  }
  if (host === "127.0.0.1" || host === "::1") return "localhost";
  return host;
}

/**
 * An HTTP server for one WSGI application, as wsgiref's `WSGIServer`:
 * listening from construction, serving with
 * {@linkcode WSGIServer.serveForever} or one request at a time with
 * {@linkcode WSGIServer.handleRequest}. Usually made by
 * {@linkcode makeServer}.
 *
 * @example
 * ```ts
 * import { demoApp, WSGIServer } from "@wsgiref/wsgiref/simple_server";
 *
 * const server = new WSGIServer({ hostname: "127.0.0.1", port: 0 });
 * server.setApp(demoApp);
 * console.log(server.port > 0); // true
 * server.close();
 * ```
 */
export class WSGIServer implements AsyncDisposable {
  /** The listening socket. */
  readonly listener: Deno.TcpListener;
  /** The options, defaults filled in. */
  readonly options: Readonly<Required<ServerOptions>>;
  /** The host name in `SERVER_NAME` (Python's `server_name`). */
  serverName: string;
  /** The port in `SERVER_PORT` (Python's `server_port`). */
  serverPort: number;
  /** The CGI variables common to every request (Python's `base_environ`). */
  baseEnviron: Partial<WSGIEnvironment> = {};
  /** The application (Python's `application`). */
  application: WSGIApplication | undefined = undefined;
  /** Where the server's log lines go by default: stderr, written in order and in batches. */
  readonly errors: ErrorStream = new BatchedWriter();

  #handlers = new Set<WSGIRequestHandler>();
  #shuttingDown = false;
  #closed = false;
  #serving: Promise<void> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #users = 0;
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;

  /**
   * Listens on `address` (`hostname` `""` means every interface; port `0`
   * picks a free port).
   *
   * @param address where to listen
   * @param options limits, timeouts, logging and the handler class
   */
  constructor(
    address: { hostname?: string; port: number },
    options: ServerOptions = {},
  ) {
    this.options = Object.freeze(resolveOptions(options));
    const host = address.hostname ?? "";
    this.listener = Deno.listen({
      hostname: host === "" ? "0.0.0.0" : host,
      port: address.port,
      transport: "tcp",
    });
    this.serverName = serverNameFor(host);
    this.serverPort = this.listener.addr.port;
    this.setupEnviron();
  }

  /** The port listened on. */
  get port(): number {
    return this.listener.addr.port;
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.listener.addr;
  }

  /** True once {@linkcode WSGIServer.shutdown} or {@linkcode WSGIServer.close} was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Sets {@linkcode WSGIServer.baseEnviron}, as wsgiref's `setup_environ`. */
  setupEnviron(): void {
    this.baseEnviron = {
      SERVER_NAME: this.serverName,
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PORT: String(this.serverPort),
      REMOTE_HOST: "",
      CONTENT_LENGTH: "",
      SCRIPT_NAME: "",
    };
  }

  /** The application served. */
  getApp(): WSGIApplication | undefined {
    return this.application;
  }

  /** Sets the application served. */
  setApp(application: WSGIApplication): void {
    this.application = application;
  }

  /**
   * Accepts and serves connections until {@linkcode WSGIServer.shutdown}
   * (or {@linkcode WSGIServer.close}); resolves once every connection is
   * closed. Each connection runs on its own; the accept loop never waits
   * for a request.
   */
  serveForever(): Promise<void> {
    if (this.#serving) {
      return Promise.reject(new Error("serveForever() is already running"));
    }
    const p = this.#acceptLoop();
    this.#serving = p;
    return p;
  }

  async #acceptLoop(): Promise<void> {
    this.#startSweeper();
    try {
      while (!this.#shuttingDown) {
        if (this.#handlers.size >= this.options.maxConnections) {
          await new Promise<void>((r) => (this.#slotWaiter = r));
          this.#slotWaiter = undefined;
          continue;
        }
        let conn: Deno.TcpConn;
        try {
          conn = await this.listener.accept();
        } catch (e) {
          if (this.#shuttingDown || e instanceof Deno.errors.BadResource) break;
          // Out of file descriptors and the like: wait, then go on.
          this.errors.write(`accept() failed: ${e}\n`);
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        this.#serve(conn, false);
      }
    } finally {
      await this.#drain();
      this.#stopSweeper();
      this.#serving = undefined;
    }
  }

  /**
   * Accepts one connection, serves exactly one request on it, and closes
   * it, as wsgiref's `handle_request()`.
   */
  async handleRequest(): Promise<void> {
    const conn = await this.listener.accept();
    this.#startSweeper();
    try {
      await this.#serve(conn, true);
    } finally {
      this.#stopSweeper();
    }
  }

  /** Runs a handler for `conn`; resolves when the connection is closed. */
  #serve(conn: Deno.TcpConn, oneRequest: boolean): Promise<void> {
    const addr = conn.remoteAddr;
    const handler = new this.options.handlerClass(
      conn,
      [addr.hostname, addr.port],
      this,
    );
    if (oneRequest) handler.closeConnection = true;
    this.#handlers.add(handler);
    return handler.handle().finally(() => this.#release(handler));
  }

  #release(handler: WSGIRequestHandler): void {
    this.#handlers.delete(handler);
    this.#slotWaiter?.();
    if (this.#handlers.size === 0) this.#drainWaiter?.();
  }

  async #drain(): Promise<void> {
    while (this.#handlers.size > 0) {
      await new Promise<void>((r) => (this.#drainWaiter = r));
      this.#drainWaiter = undefined;
    }
  }

  #startSweeper(): void {
    if (this.#users++ > 0) return;
    const o = this.options;
    const shortest = Math.min(
      o.headerTimeout,
      o.keepAliveTimeout,
      o.sendTimeout,
      o.bodyTimeout,
    );
    const every = Math.min(1000, Math.max(10, shortest / 10));
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const h of this.#handlers) {
        if (h.deadline <= now) h.timedOut();
        else h.checkSend(now);
      }
    }, every);
  }

  #stopSweeper(): void {
    if (--this.#users > 0) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /**
   * Stops serving gracefully: stops accepting, closes idle persistent
   * connections, lets requests in flight finish (their connections close
   * after the response), and resolves once
   * {@linkcode WSGIServer.serveForever} has returned.
   */
  async shutdown(): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#closeListener();
      for (const h of this.#handlers) {
        if (h.idle) h.abort();
      }
      this.#slotWaiter?.();
    }
    if (this.#serving) await this.#serving.catch(() => {});
    await this.#drain();
    this.errors.flush();
  }

  #closeListener(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.listener.close();
    } catch { /* already closed */ }
  }

  /**
   * Releases the listener at once, as wsgiref's `server_close()`, and drops
   * every open connection (in flight or not). Use
   * {@linkcode WSGIServer.shutdown} first to finish requests in flight.
   */
  close(): void {
    this.#shuttingDown = true;
    this.#closeListener();
    for (const h of this.#handlers) h.abort();
    this.#slotWaiter?.();
    this.errors.flush();
  }

  /** Shuts down gracefully, then closes: `await using server = makeServer(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
    this.close();
  }
}

// ---------------------------------------------------------------------------
// The environ

// ---------------------------------------------------------------------------
// The per-request handler

/**
 * The handler that runs the app for one request, as wsgiref's
 * `ServerHandler`: a {@linkcode SimpleHandler} writing to the connection,
 * with the HTTP/1.1 framing (keep-alive, chunked, HEAD) added.
 */
class ServerHandler extends SimpleHandler {
  override serverSoftware: string | undefined = SOFTWARE_VERSION;
  /** The connection's handler (wsgiref's `request_handler` back-pointer). */
  readonly requestHandler: WSGIRequestHandler;
  readonly writer: ResponseWriter;
  /** True once the response ended normally (close() was reached). */
  completed = false;
  #framing: Framing = Framing.Plain;

  constructor(writer: ResponseWriter, requestHandler: WSGIRequestHandler) {
    super(NO_INPUT, writer, requestHandler.getStderr(), {}, {
      multithread: true,
      multiprocess: false,
    });
    this.writer = writer;
    this.requestHandler = requestHandler;
  }

  /** Readies the handler for its request. */
  prepare(
    body: Uint8Array,
    environ: Partial<WSGIEnvironment>,
    http11: boolean,
  ): void {
    this.stdin = new BytesIO(body);
    this.baseEnv = environ;
    this.httpVersion = http11 ? "1.1" : "1.0";
    this.completed = false;
  }

  /**
   * Completes the environ from {@linkcode WSGIRequestHandler.getEnviron} in
   * place, as `BaseHandler.setupEnviron` does on a copy: `osEnviron` (the
   * server's `osEnviron` option) under the CGI variables, then the `wsgi.*`
   * keys.
   */
  override setupEnviron(): void {
    const cgi = this.baseEnv;
    let env = cgi;
    const os = this.requestHandler.server.options.osEnviron;
    for (const _ in os) {
      env = Object.assign({}, os, cgi);
      break;
    }
    this.environ = env as WSGIEnvironment; // completed below
    env["wsgi.input"] = this.stdin;
    env["wsgi.errors"] = this.stderr;
    env["wsgi.version"] = this.wsgiVersion;
    env["wsgi.run_once"] = this.wsgiRunOnce;
    env["wsgi.url_scheme"] = this.getScheme();
    env["wsgi.multithread"] = this.wsgiMultithread;
    env["wsgi.multiprocess"] = this.wsgiMultiprocess;
    if (this.wsgiFileWrapper !== undefined) {
      env["wsgi.file_wrapper"] = fileWrapperFactory(this.wsgiFileWrapper);
    }
  }

  /**
   * After wsgiref's cleanup (Content-Length for a one-block body): choose
   * the framing, and say whether the connection stays open.
   */
  override cleanupHeaders(): void {
    // BaseHandler.cleanupHeaders: Content-Length for a one-block body.
    const headers = this.headers!;
    let cl = headers.get("Content-Length");
    if (cl === undefined) {
      this.setContentLength();
      cl = headers.get("Content-Length");
    }
    const rh = this.requestHandler;
    const status = this.status!;
    const code = (status.charCodeAt(0) - 48) * 100 +
      (status.charCodeAt(1) - 48) * 10 + (status.charCodeAt(2) - 48);
    let keepAlive = !rh.closeConnection && !rh.server.shuttingDown;
    const http11 = this.httpVersion === "1.1";
    this.writer.remaining = -1;
    if (rh.command === "HEAD" || code < 200 || code === 204 || code === 304) {
      this.#framing = Framing.Discard;
    } else if (cl !== undefined) {
      this.#framing = Framing.Plain;
      if (/^[0-9]{1,15}$/.test(cl)) this.writer.remaining = Number(cl);
      else keepAlive = false;
    } else if (http11) {
      headers.set("Transfer-Encoding", "chunked");
      this.#framing = Framing.Chunked;
    } else {
      this.#framing = Framing.Plain; // ends when the connection closes
      keepAlive = false;
    }
    if (http11) {
      if (!keepAlive) headers.set("Connection", "close");
    } else if (keepAlive) {
      headers.set("Connection", "keep-alive");
    }
    rh.closeConnection = !keepAlive;
  }

  /**
   * Writes the head as `BaseHandler.buildPreamble` builds it (status line,
   * `Date` and `Server` unless the app gave them, the headers, a blank
   * line), encoded straight into the connection's output buffer; then
   * switches the writer to the body's framing.
   */
  override sendPreamble(): void | Promise<void> {
    try {
      checkHead(this.status, this.headers!);
    } catch (error) {
      this.headersSent = false; // nothing was sent: the error page may go out
      throw error;
    }
    const writer = this.writer;
    writer.framing = Framing.Head;
    let head = `HTTP/${this.httpVersion} ${this.status}\r\n`;
    let fields = "";
    let hasDate = false;
    let hasServer = false;
    let lines = 2;
    for (const [name, value] of this.headers!) {
      if (name.length === 4) {
        if (!hasDate && name.toLowerCase() === "date") hasDate = true;
      } else if (name.length === 6) {
        if (!hasServer && name.toLowerCase() === "server") hasServer = true;
      }
      fields += `${name}: ${value}\r\n`;
      lines++;
    }
    if (!hasDate) {
      head += `Date: ${httpDate()}\r\n`;
      lines++;
    }
    if (!hasServer && this.serverSoftware) {
      head += `Server: ${this.serverSoftware}\r\n`;
      lines++;
    }
    if (!writer.queueHead(`${head}${fields}\r\n`, lines)) {
      // A forbidden character somewhere: nothing was sent, so the error
      // page can still go out (as BaseHandler.sendPreamble); let
      // buildPreamble name the character.
      this.headersSent = false;
      this.buildPreamble();
      throw new TypeError("invalid response head");
    }
    writer.framing = this.#framing;
  }

  /** Streams a `FileWrapper` over a `Deno.FsFile` block by block. */
  override sendfile(): boolean | Promise<boolean> {
    const wrapper = this.result as FileWrapper;
    const file = wrapper.filelike;
    if (!(file instanceof Deno.FsFile)) return false;
    return this.#sendFsFile(file, wrapper.blksize);
  }

  async #sendFsFile(file: Deno.FsFile, blksize: number): Promise<true> {
    if (!this.headersSent) {
      const r = this.sendHeaders();
      if (r) await r;
    }
    const writer = this.writer;
    if (writer.framing !== Framing.Discard) {
      const size = Math.min(Math.max(blksize, FILE_BLOCK), 4 * 1024 * 1024);
      let buf = new Uint8Array(size);
      let spare = new Uint8Array(size);
      // Read the next block while the current one is being written.
      let n = await file.read(buf);
      while (n !== null && n > 0) {
        writer.queue(buf.subarray(0, n));
        this.bytesSent += n;
        const sending = writer.flush();
        const next = file.read(spare);
        if (sending) await sending;
        n = await next;
        [buf, spare] = [spare, buf];
      }
    }
    const r = this.finishContent();
    if (r) await r;
    return true;
  }

  /**
   * Sends what was written, as wsgiref's `_flush` after each `write()`;
   * but a body held in an array is all in memory already, so what of it
   * fits in the staging buffer waits for the end of the response and goes
   * out in one write with the head.
   */
  override rawFlush(): void | Promise<void> {
    if (Array.isArray(this.result) && this.writer.staged) return;
    return this.writer.flush();
  }

  /**
   * Queues the last chunk of a chunked body; else as wsgiref. (The
   * connection's handler flushes once the response ends.)
   */
  override finishContent(): void | Promise<void> {
    if (this.headersSent) {
      this.writer.endChunked();
      return;
    }
    return super.finishContent();
  }

  /**
   * As wsgiref, except once the server itself dropped the connection (a
   * timeout, `close()`): the write that it cut short is not the app's
   * error.
   */
  override logException(error: unknown): void {
    if (this.requestHandler.aborted) return;
    super.logException(error);
  }

  /** Logs the request (as wsgiref's `ServerHandler.close`), then closes. */
  override async close(): Promise<void> {
    try {
      if (this.status !== undefined) {
        this.requestHandler.logRequest(
          this.status.slice(0, 3), // split(" ", 1)[0]: validated "NNN "
          this.bytesSent,
        );
      }
    } finally {
      this.completed = true;
      await super.close();
    }
  }
}

// ---------------------------------------------------------------------------
// The per-connection request handler

/**
 * Serves one connection, as wsgiref's `WSGIRequestHandler` (a
 * `BaseHTTPRequestHandler`): reads each request head and body, builds the
 * environ ({@linkcode WSGIRequestHandler.getEnviron}), runs the app through
 * a handler from `handlers.ts`, and logs the request. Subclass it and pass
 * it as `handlerClass` to change the environ, the log or `wsgi.errors`.
 *
 * @example Logging somewhere else
 * ```ts
 * import { makeServer, WSGIRequestHandler } from "@wsgiref/wsgiref/simple_server";
 * import { StringIO } from "@wsgiref/wsgiref/util";
 * import type { ErrorStream } from "@wsgiref/wsgiref/types";
 *
 * const log = new StringIO();
 * class QuietHandler extends WSGIRequestHandler {
 *   override getStderr(): ErrorStream {
 *     return log;
 *   }
 * }
 * await using server = makeServer("127.0.0.1", 0, (_e, startResponse) => {
 *   startResponse("204 No Content", []);
 *   return [];
 * }, { handlerClass: QuietHandler });
 * ```
 */
export class WSGIRequestHandler {
  /** `server_version`: `SERVER_SOFTWARE` in the environ. */
  serverVersion: string = SERVER_VERSION;
  /** `sys_version`, after the server version in the `Server:` header. */
  sysVersion: string = SYS_VERSION;
  /** The client's connection. */
  readonly conn: Deno.Conn;
  /** The client's address and port (Python's `client_address`). */
  readonly clientAddress: [string, number];
  /** The server. */
  readonly server: WSGIServer;
  /** The request's header fields in order, as received (Python's `headers`). */
  headers: [string, string][] = [];
  /** The request method (Python's `command`). */
  command = "";
  /** The request target, `//` at its start reduced to `/` (Python's `path`). */
  path = "";
  /** The request's version as sent, such as `"HTTP/1.1"` (Python's `request_version`). */
  requestVersion = "";
  /** True when the connection closes after the current response. */
  closeConnection = false;
  /** When the connection is dropped unless something happens (ms since the epoch). */
  deadline: number = Infinity;
  /** True while waiting for a new request with nothing of it received. */
  idle = false;

  #head: RequestHead | undefined;
  #buf: Uint8Array = takeBuffer();
  #start = 0;
  #end = 0;
  #parser: HeadParser;
  #writer: ResponseWriter;
  #requestline: string | undefined;
  #aborted = false;
  #headerTimedOut = false;

  /**
   * Prepares to serve `conn`; {@linkcode WSGIRequestHandler.handle} serves it.
   *
   * @param conn the accepted connection
   * @param clientAddress the client's address and port
   * @param server the server that accepted it
   */
  constructor(
    conn: Deno.Conn,
    clientAddress: [string, number],
    server: WSGIServer,
  ) {
    this.conn = conn;
    this.clientAddress = clientAddress;
    this.server = server;
    const o = server.options;
    this.#parser = new HeadParser({
      maxRequestLine: o.maxRequestLine,
      maxHeaderBytes: o.maxHeaderBytes,
      maxHeaders: o.maxHeaders,
    });
    this.#writer = new ResponseWriter(conn);
  }

  /** The request line as received (Python's `requestline`). */
  get requestline(): string {
    if (this.#requestline !== undefined) return this.#requestline;
    const h = this.#head;
    return h === undefined ? "" : `${h.method} ${h.target} ${h.version}`;
  }

  /**
   * The CGI variables of the current request, as wsgiref's `get_environ`:
   * the server's `baseEnviron`, then `SERVER_PROTOCOL`, `SERVER_SOFTWARE`,
   * `REQUEST_METHOD`, `PATH_INFO` (percent-decoded, read as ISO-8859-1),
   * `QUERY_STRING` (raw), `REMOTE_ADDR`, `CONTENT_TYPE` (`text/plain` when
   * absent, as Python's `get_content_type()`), `CONTENT_LENGTH`, then one
   * `HTTP_*` per header name (`-` read as `_`, repeats joined with `,`, a
   * name that maps onto a variable already set skipped).
   */
  getEnviron(): Partial<WSGIEnvironment> {
    const head = this.#head!;
    const path = this.path;
    const q = path.indexOf("?");
    const headers = head.headers;
    let contentType: string | undefined;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      if (name.length === 12 && name.toLowerCase() === "content-type") {
        contentType = headers[i][1];
        break;
      }
    }
    const base = this.server.baseEnviron;
    // One object literal: V8 gives it a fixed shape at once, where adding
    // twenty-odd keys one by one would turn it into a slow dictionary.
    const env: Partial<WSGIEnvironment> = {
      SERVER_NAME: base.SERVER_NAME,
      GATEWAY_INTERFACE: base.GATEWAY_INTERFACE,
      SERVER_PORT: base.SERVER_PORT,
      REMOTE_HOST: base.REMOTE_HOST,
      CONTENT_LENGTH: head.contentLength >= 0
        ? String(head.contentLength)
        : base.CONTENT_LENGTH,
      SCRIPT_NAME: base.SCRIPT_NAME,
      SERVER_PROTOCOL: head.version,
      SERVER_SOFTWARE: this.serverVersion,
      REQUEST_METHOD: head.method,
      PATH_INFO: unquoteNative(q === -1 ? path : path.slice(0, q)),
      QUERY_STRING: q === -1 ? "" : path.slice(q + 1),
      REMOTE_ADDR: this.clientAddress[0],
      CONTENT_TYPE: contentType ?? "text/plain",
    };
    for (const k in base) {
      // Variables a subclass or a user added to baseEnviron.
      if (!(k in env)) env[k] = base[k];
    }
    for (let i = 0; i < headers.length; i++) {
      addHeaderField(env, headers[i][0], headers[i][1]);
    }
    return env;
  }

  /** The `wsgi.errors` stream and the log's destination: the server's stderr writer. */
  getStderr(): ErrorStream {
    return this.server.errors;
  }

  /**
   * Serves the connection: requests one after another (pipelined ones in
   * order) until either side closes it; then closes it.
   */
  async handle(): Promise<void> {
    try {
      while (await this.handleOneRequest());
    } catch (e) {
      if (!this.#aborted && !isConnectionError(e)) {
        this.logError(`error on the connection: ${e}`);
      }
    } finally {
      if (this.#headerTimedOut) this.logError("Request timed out");
      this.#closeConn();
      giveBuffer(this.#buf);
      this.#buf = EMPTY;
      this.#writer.release();
    }
  }

  /**
   * Reads and answers one request. Resolves to true if the connection may
   * carry another one.
   */
  async handleOneRequest(): Promise<boolean> {
    // The head.
    let head: RequestHead | null = null;
    const parser = this.#parser;
    let body: Uint8Array = EMPTY;
    try {
      if (this.#start < this.#end) {
        head = parser.parse(this.#buf, this.#start, this.#end);
      }
      while (head === null) {
        if (!(await this.#fill())) {
          // The client half-closed with part of a head sent: as wsgiref
          // (http.server reads lines until EOF), the end of the stream ends
          // the head. Nothing can follow it, so nothing can be smuggled.
          head = this.#headAtEof();
          if (head === null) return false;
          this.closeConnection = true;
          break;
        }
        head = parser.parse(this.#buf, this.#start, this.#end);
      }
      this.deadline = Infinity;
      this.#head = head;
      this.headers = head.headers;
      this.#requestline = undefined;
      this.#start = head.end;
      this.command = head.method;
      this.requestVersion = head.version;
      const target = head.target;
      this.path = target.charCodeAt(0) === 47 && target.charCodeAt(1) === 47
        ? "/" + target.replace(/^\/+/, "")
        : target;
      if (!head.keepAlive) this.closeConnection = true;

      // The body.
      if (head.chunked || head.contentLength > 0) {
        const max = this.server.options.maxRequestBody;
        if (head.contentLength > max) {
          throw new HTTPError(
            413,
            `request body of ${head.contentLength} bytes is over the limit of ${max}`,
          );
        }
        if (head.expectContinue && head.minor >= 1) {
          await writeAll(this.conn, CONTINUE_RESPONSE);
        }
        const got = head.chunked
          ? await this.#readChunked(max)
          : await this.#readBody(head.contentLength);
        if (got === null) return false;
        body = got;
      }
    } catch (e) {
      if (e instanceof HTTPError) {
        await this.#refuse(e, head);
        return false;
      }
      throw e;
    }

    // The app.
    const writer = this.#writer;
    writer.reset();
    const environ = this.getEnviron();
    if (head.chunked) environ.CONTENT_LENGTH = String(body.length);
    // One handler per request, as wsgiref: a startResponse or write kept
    // by an app past its response cannot reach the next one.
    const handler = new ServerHandler(writer, this);
    handler.prepare(body, environ, head.minor >= 1);
    try {
      await handler.run(this.server.application!);
    } catch (e) {
      // An error while handling an error: the handler gave up.
      this.logError(`error while handling an error: ${e}`);
      this.closeConnection = true;
    }
    const rest = writer.flush();
    if (rest) await rest;
    writer.release();
    if (
      !handler.completed || writer.overflow > 0 ||
      (writer.framing === Framing.Plain && writer.remaining > 0)
    ) {
      this.closeConnection = true;
    }
    return !this.closeConnection && !this.server.shuttingDown;
  }

  /**
   * At the end of the stream, with part of a request head buffered: ends the
   * head with the blank line the client did not send, and parses it. `null`
   * when nothing but empty lines was sent (or there is no room to end it).
   */
  #headAtEof(): RequestHead | null {
    const buf = this.#buf;
    let end = this.#end;
    let i = this.#start;
    while (i < end && (buf[i] === 13 || buf[i] === 10)) i++;
    if (i === end) return null;
    const last = buf[end - 1];
    const tail = last === 10
      ? EOF_AFTER_LF
      : last === 13
      ? EOF_AFTER_CR
      : EOF_MID_LINE;
    if (end + tail.length > buf.length) return null;
    buf.set(tail, end);
    end = this.#end = end + tail.length;
    return this.#parser.parse(buf, this.#start, end);
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    let buf = this.#buf;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.server.shuttingDown) return false;
      this.idle = true;
      this.deadline = Date.now() + this.server.options.keepAliveTimeout;
    } else if (this.#end === buf.length) {
      if (this.#start > 0) {
        buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const o = this.server.options;
        const max = o.maxRequestLine + o.maxHeaderBytes + 4096;
        if (buf.length >= max) {
          throw new HTTPError(431, "request head too large");
        }
        const bigger = new Uint8Array(Math.min(buf.length * 2, max));
        bigger.set(buf.subarray(0, this.#end));
        buf = this.#buf = bigger;
      }
    }
    const wasIdle = this.idle;
    const n = await this.conn.read(buf.subarray(this.#end));
    this.idle = false;
    if (n === null) return false;
    if (wasIdle || this.deadline === Infinity) {
      this.deadline = Date.now() + this.server.options.headerTimeout;
    }
    this.#end += n;
    return true;
  }

  /** Reads a body of `length` bytes: what is buffered, then straight from the connection. */
  async #readBody(length: number): Promise<Uint8Array | null> {
    const body = new Uint8Array(length);
    const have = Math.min(length, this.#end - this.#start);
    body.set(this.#buf.subarray(this.#start, this.#start + have));
    this.#start += have;
    const { headerTimeout, bodyTimeout } = this.server.options;
    const until = Date.now() + bodyTimeout;
    for (let off = have; off < length;) {
      this.deadline = Math.min(Date.now() + headerTimeout, until);
      const n = await this.conn.read(body.subarray(off));
      if (n === null) return null;
      off += n;
    }
    this.deadline = Infinity;
    return body;
  }

  /** Reads and decodes a chunked body. */
  async #readChunked(max: number): Promise<Uint8Array | null> {
    const o = this.server.options;
    const decoder = new ChunkedDecoder(max, o.maxHeaderBytes);
    const buf = this.#buf;
    const until = Date.now() + o.bodyTimeout;
    while (true) {
      if (this.#start < this.#end) {
        this.#start += decoder.feed(buf, this.#start, this.#end);
        if (decoder.done) break;
      }
      this.#start = this.#end = 0;
      this.deadline = Math.min(Date.now() + o.headerTimeout, until);
      const n = await this.conn.read(buf);
      if (n === null) return null;
      this.#end = n;
    }
    this.deadline = Infinity;
    return decoder.body();
  }

  /** Answers a request that cannot be served (HTTPError), logs it; the connection then closes. */
  async #refuse(e: HTTPError, head: RequestHead | null): Promise<void> {
    this.closeConnection = true;
    if (head === null) {
      // Python logs the raw request line ('' for 414).
      this.#head = undefined;
      this.headers = [];
      this.#requestline = e.status === 414 ? "" : this.#rawRequestLine();
    }
    // As the request's version when known (http.server always says 1.0).
    const http11 = head !== null
      ? head.minor >= 1
      : this.#requestline!.endsWith(" HTTP/1.1");
    const version = http11 ? "HTTP/1.1" : "HTTP/1.0";
    this.logError(`code ${e.status}, message ${e.message}`);
    this.logRequest(e.status);
    const bytes = errorResponse(e.status, e.message, version, [
      ["Server", `${this.serverVersion} ${this.sysVersion}`],
      ["Date", httpDate()],
    ]);
    try {
      await writeAll(this.conn, bytes);
      await this.#linger();
    } catch { /* the client is gone */ }
  }

  /**
   * After a refusal: half-closes (the client reads the answer, then the
   * end of the stream), then reads and drops what the client still sends,
   * at most {@linkcode LINGER_BYTES} for at most {@linkcode LINGER_MS} (or
   * headerTimeout if shorter). Closing at once with unread bytes would
   * make the kernel send a reset, which can destroy the answer before a
   * client still uploading its body reads it.
   */
  async #linger(): Promise<void> {
    if (this.server.shuttingDown) return;
    await (this.conn as Deno.TcpConn).closeWrite();
    // Waiting on nothing the app needs: shutdown() may drop it at once, and
    // the sweeper ends it at the deadline without logging a timeout.
    this.idle = true;
    this.deadline = Date.now() +
      Math.min(LINGER_MS, this.server.options.headerTimeout);
    const buf = this.#buf;
    for (let left = LINGER_BYTES; left > 0;) {
      const n = await this.conn.read(buf);
      if (n === null) break;
      left -= n;
    }
  }

  /** The first line in the buffer, without its line end, for the log. */
  #rawRequestLine(): string {
    const buf = this.#buf;
    let i = this.#start;
    while (i < this.#end && (buf[i] === 13 || buf[i] === 10)) i++;
    const from = i;
    const limit = Math.min(
      this.#end,
      from + this.server.options.maxRequestLine,
    );
    while (i < limit && buf[i] !== 10) i++;
    let to = i;
    if (to > from && buf[to - 1] === 13) to--;
    let s = "";
    for (let k = from; k < to; k++) s += String.fromCharCode(buf[k]);
    return s;
  }

  /**
   * Logs an answered request, as http.server's `log_request`:
   * `"GET / HTTP/1.0" 200 13`. Nothing when `logRequests` is off.
   */
  logRequest(code: number | string = "-", size: number | string = "-"): void {
    if (!this.server.options.logRequests) return;
    this.logMessage(`"${this.requestline}" ${code} ${size}`);
  }

  /** Logs an error (http.server's `log_error`), through {@linkcode WSGIRequestHandler.logMessage}. */
  logError(message: string): void {
    if (!this.server.options.logRequests) return;
    this.logMessage(message);
  }

  /**
   * Writes one log line to {@linkcode WSGIRequestHandler.getStderr}, as
   * http.server's `log_message`: `127.0.0.1 - - [20/Nov/2026 23:02:49] …`,
   * control characters escaped.
   */
  logMessage(message: string): void {
    this.getStderr().write(
      `${this.addressString()} - - [${logDateTimeString()}] ${
        escapeControl(message)
      }\n`,
    );
  }

  /** The client's address, for the log (no DNS lookup, as http.server). */
  addressString(): string {
    return this.clientAddress[0];
  }

  /** `server_version sys_version`: the `Server:` header. */
  versionString(): string {
    return `${this.serverVersion} ${this.sysVersion}`;
  }

  #sendSeen = 0;
  #sendSince = Date.now();

  /** True once the server dropped the connection (a timeout, `close()`). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * Called by the server's sweeper: drops the connection when a response
   * write has waited `sendTimeout` ms with the client taking no byte.
   *
   * @param now the time of the sweep (ms since the epoch)
   */
  checkSend(now: number): void {
    const w = this.#writer;
    if (w.sending === 0 || w.sent !== this.#sendSeen) {
      this.#sendSeen = w.sent;
      this.#sendSince = now;
    } else if (now - this.#sendSince >= this.server.options.sendTimeout) {
      this.logError("Response send timed out (the client read nothing)");
      this.abort();
    }
  }

  /** Called by the server when {@linkcode WSGIRequestHandler.deadline} passed: drops the connection. */
  timedOut(): void {
    if (!this.idle) this.#headerTimedOut = true;
    this.abort();
  }

  /** Drops the connection at once (pending reads and writes fail). */
  abort(): void {
    this.#aborted = true;
    this.deadline = Infinity;
    this.#closeConn();
  }

  #closed = false;
  #closeConn(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function isConnectionError(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted ||
    e instanceof Deno.errors.Interrupted ||
    e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.UnexpectedEof ||
    e instanceof Deno.errors.NotConnected;
}

/**
 * Makes a server for `app` listening on `host` and `port`, as wsgiref's
 * `make_server`. It listens when this returns; port `0` picks a free port,
 * read back from `server.port`. `host` `""` listens on every interface.
 *
 * @example
 * ```ts
 * import { demoApp, makeServer } from "@wsgiref/wsgiref/simple_server";
 *
 * await using server = makeServer("127.0.0.1", 0, demoApp);
 * console.log(`listening on port ${server.port}`);
 * // await server.serveForever();
 * ```
 *
 * @param host the address to listen on
 * @param port the port (0: any free port)
 * @param app the WSGI application
 * @param options limits, timeouts, logging and the handler class
 */
export function makeServer(
  host: string,
  port: number,
  app: WSGIApplication,
  options: ServerOptions = {},
): WSGIServer {
  const server = new WSGIServer({ hostname: host, port }, options);
  server.setApp(app);
  return server;
}

/**
 * wsgiref's `demo_app`: "Hello world!", then every environ variable,
 * sorted, one `KEY = repr(value)` per line, as `text/plain; charset=utf-8`.
 *
 * @example
 * ```ts
 * import { demoApp } from "@wsgiref/wsgiref/simple_server";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = {};
 * setupTestingDefaults(environ);
 * const [body] = demoApp(environ, () => () => {});
 * console.log(new TextDecoder().decode(body).split("\n")[0]); // "Hello world!"
 * ```
 */
export function demoApp(
  environ: WSGIEnvironment,
  startResponse: StartResponse,
): Uint8Array[] & ResponseBody {
  let out = "Hello world!\n\n";
  for (const key of Object.keys(environ).sort()) {
    out += `${key} = ${repr(environ[key])}\n`;
  }
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [new TextEncoder().encode(out)];
}

// ---------------------------------------------------------------------------
// The command line

const USAGE =
  `Usage: deno run --allow-net simple_server.ts [app.ts[:name]] [--host H] [--port P]

Serves a WSGI application over HTTP, as python -m wsgiref.simple_server.
Without a file, serves demoApp. With one, imports it (relative to the
current directory) and serves its default export, or its export named "app",
or the export given after ":". Ctrl-C shuts down gracefully.

Options:
  --host H   address to listen on (default: every interface, 0.0.0.0)
  --port P   port to listen on (default: 8000; 0 picks a free port)
  --help     show this help`;

class UsageError extends Error {}

/** Imports the app named by `spec` (`path[:name]`). */
async function loadApp(spec: string): Promise<WSGIApplication> {
  const m = /^(.+):([A-Za-z_$][\w$]*)$/.exec(spec);
  const path = m ? m[1] : spec;
  const name = m?.[2];
  let url: string;
  if (/^[a-z][a-z0-9+.-]+:/i.test(path)) {
    url = path; // file:, https:, jsr:, npm: …
  } else {
    const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
    url = "file://" + abs.split("/").map(encodeURIComponent).join("/");
  }
  const mod = await import(url) as Record<string, unknown>;
  const app = name !== undefined
    ? mod[name]
    : typeof mod.default === "function"
    ? mod.default
    : mod.app;
  if (typeof app !== "function") {
    throw new Error(
      `${path} has no WSGI application: expected ${
        name !== undefined
          ? `an export named ${name}`
          : "a default export or an export named app"
      } (a function)`,
    );
  }
  return app as WSGIApplication;
}

/** Parses the command line, serves until interrupted; returns the exit code. */
async function main(args: string[]): Promise<number> {
  let host = "";
  let port = 8000;
  let spec: string | undefined;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const eq = arg.indexOf("=");
      const flag = arg.startsWith("--") && eq !== -1 ? arg.slice(0, eq) : arg;
      const value = () => {
        if (eq !== -1 && arg.startsWith("--")) return arg.slice(eq + 1);
        if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`);
        return args[++i];
      };
      if (flag === "--help" || flag === "-h") {
        console.log(USAGE);
        return 0;
      } else if (flag === "--host") {
        host = value();
      } else if (flag === "--port") {
        const v = value();
        port = Number(v);
        if (!/^[0-9]{1,5}$/.test(v) || port > 65535) {
          throw new UsageError(`invalid port ${JSON.stringify(v)}`);
        }
      } else if (arg.startsWith("-")) {
        throw new UsageError(`unknown option ${arg}`);
      } else if (spec === undefined) {
        spec = arg;
      } else {
        throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
      }
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }

  let app: WSGIApplication = demoApp;
  let server: WSGIServer;
  try {
    if (spec !== undefined) app = await loadApp(spec);
    server = makeServer(host, port, app);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const { hostname, port: bound } = server.addr;
  console.log(`Serving HTTP on ${hostname} port ${bound} ...`);

  let interrupts = 0;
  const onSignal = () => {
    if (interrupts++ === 0) {
      console.error("\nKeyboard interrupt received, shutting down.");
      server.shutdown();
    } else {
      server.close(); // a second Ctrl-C: drop the requests in flight
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await server.serveForever();
  } finally {
    server.close();
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
