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
 * It also listens on a Unix socket (option `path`, for nginx in front),
 * serves HTTPS (options `cert` and `key`), and stops gracefully when the
 * `signal` option is aborted.
 *
 * From the command line (`--help` says more: `--host`, `--port`, `--cert`,
 * `--key`, `--unix`):
 *
 * ```sh
 * deno run --allow-net simple_server.ts     # demoApp on port 8000
 * deno run --allow-net --allow-read=./app.ts simple_server.ts ./app.ts[:name]
 * # from JSR, no clone needed:
 * deno run --allow-net --allow-read=./app.ts jsr:@wsgiref/wsgiref/simple_server ./app.ts
 * ```
 *
 * The first signal (SIGINT, SIGTERM) shuts down gracefully; a second one
 * exits at once.
 *
 * @example Serving an app
 * ```ts
 * import { makeServer } from "@wsgiref/wsgiref/simple_server";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 * import { assertEquals } from "@std/assert";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 *
 * await using server = makeServer("127.0.0.1", 0, app, { logRequests: false });
 * const served = server.serveForever();
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * assertEquals(await res.text(), "Hello world!");
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
  InputStream,
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
  type BodySpool,
  DEFAULT_MAX_REQUEST_BODY,
  DEFAULT_SPOOL_THRESHOLD,
  Spooler,
  SpoolError,
} from "./_spool.ts";
import { BufferPool } from "./_buffer_pool.ts";
import { StringTable } from "./_string_table.ts";
import { type LinkedNode, LinkedSet } from "./_linked_set.ts";
import {
  type ConnectionLimits,
  Event,
  ServerConnection,
} from "./_connection.ts";
import { Framing } from "./_framing.ts";
import {
  DEFAULT_HEAD_LIMITS,
  HeadParsers,
  type RequestHead,
} from "./_head_parser.ts";
import { formatDateTime, PerSecond } from "./_date.ts";
import { repr } from "./_repr.ts";
import { checkHead, SERVER_VERSION } from "./_gateway.ts";
import {
  envKeys,
  fileWrapperFactory,
  putHeaderField,
  unquoteNative,
} from "./_environ.ts";
import {
  CONTINUE_RESPONSE,
  errorResponse,
  ResponseWriter,
  writeAll,
} from "./_response_writer.ts";
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
/** A request's body as the app runs: a spool, or {@linkcode NO_BODY}. */
type RequestBody = Pick<BodySpool, "length" | "input" | "close">;
/** The body of a request that has none (no spool is made for it). */
const NO_BODY: RequestBody = Object.freeze({
  length: 0,
  input: (): InputStream => new BytesIO(EMPTY),
  close() {},
});
const FILE_BLOCK = 1024 * 1024;
/** Most bytes read and dropped after a refused request, before closing. */
const LINGER_BYTES = 16 * 1024 * 1024;
/** Longest wait for the client to stop sending after a refused request (ms). */
const LINGER_MS = 2000;
/** Most header names whose environ keys a server remembers. */
const MAX_KEYS = 1024;
/** Size of the reads that drop what a refused client still sends. */
const LINGER_BLOCK = 16 * 1024;

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
  /**
   * Largest request body in bytes; past it, 413 (before the body is read
   * when its Content-Length says so, else as soon as a chunked body passes
   * it). Default 1 GiB, as Apache httpd's `LimitRequestBody`: a body over
   * `spoolThreshold` waits in a temporary file, not in memory.
   */
  maxRequestBody?: number;
  /**
   * Request bodies larger than this many bytes are written to a temporary
   * file as they arrive (in `spoolDir`), and `wsgi.input` reads that file
   * synchronously; smaller ones stay in memory. `0` spools every body.
   * Default 1 MiB.
   */
  spoolThreshold?: number;
  /**
   * The directory of the temporary files of spooled bodies. The server
   * needs `--allow-read` and `--allow-write` for it; without them a body
   * over `spoolThreshold` is refused with 413 and the log says so (once).
   * Each file is removed from the directory as soon as it is open, and
   * closed when the response ends. Default: the system's temporary
   * directory (`TMPDIR`, else `/tmp`).
   */
  spoolDir?: string;
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
  /**
   * Shuts the server down gracefully when aborted, as
   * {@linkcode WSGIServer.shutdown} (and as `Deno.serve`'s `signal`): a
   * signal aborted already stops the server before it serves anything.
   */
  signal?: AbortSignal;
  /**
   * A certificate chain in PEM, with {@linkcode ServerOptions.key}: serve
   * HTTPS (`Deno.listenTls`). `HTTPS` is then `on` in the environ and
   * `wsgi.url_scheme` is `https`.
   */
  cert?: string;
  /** The private key in PEM of {@linkcode ServerOptions.cert}. */
  key?: string;
  /**
   * A Unix domain socket to listen on instead of a host and port (as
   * gunicorn's `--bind unix:PATH`, for a proxy such as nginx in front).
   * A socket file already there (left by a server that was killed) is
   * replaced; any other file there is an error. The socket file is removed
   * when the server closes. Needs `--allow-read` and `--allow-write` for the
   * path. The environ then has `SERVER_NAME` `localhost`, `SERVER_PORT`
   * `80` (the port a URL without one means: the client's `Host` header is
   * what names the site behind a proxy), and `REMOTE_ADDR` the client
   * socket's path, which is `""` for a client that bound none (curl,
   * nginx), as gunicorn has it.
   */
  path?: string;
}

function resolveOptions(options: ServerOptions): WSGIServer["options"] {
  const positive = (name: keyof ServerOptions, fallback: number): number => {
    const v = options[name] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) {
      throw new RangeError(
        `makeServer option ${name} must be a positive number, got ${String(v)}`,
      );
    }
    return v;
  };
  const atLeastZero = (name: keyof ServerOptions, fallback: number) => {
    const v = options[name] ?? fallback;
    if (typeof v !== "number" || !(v >= 0)) {
      throw new RangeError(
        `makeServer option ${name} must be a number >= 0, got ${String(v)}`,
      );
    }
    return v;
  };
  if (options.spoolDir !== undefined && typeof options.spoolDir !== "string") {
    throw new TypeError("makeServer option spoolDir must be a directory path");
  }
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
  const { signal, cert, key, path } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("makeServer option signal must be an AbortSignal");
  }
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw new TypeError("makeServer option path must be a non-empty string");
  }
  for (const [name, pem] of [["cert", cert], ["key", key]]) {
    if (pem !== undefined && !String(pem).includes("-----BEGIN ")) {
      throw new TypeError(
        `makeServer option ${name} must be PEM text ("-----BEGIN …"), got ${
          typeof pem === "string"
            ? "a string without it (a file name?)"
            : typeof pem
        }: pass Deno.readTextFileSync(file)`,
      );
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(
      "makeServer options cert and key (--cert, --key) go together: give " +
        "both to serve HTTPS",
    );
  }
  if (cert !== undefined && path !== undefined) {
    throw new TypeError(
      "makeServer cannot serve HTTPS on a Unix socket (Deno.listenTls is " +
        "TCP only): give either cert and key (--cert, --key) or path (--unix)",
    );
  }
  return {
    maxRequestBody: positive("maxRequestBody", DEFAULT_MAX_REQUEST_BODY),
    spoolThreshold: atLeastZero("spoolThreshold", DEFAULT_SPOOL_THRESHOLD),
    spoolDir: options.spoolDir,
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

/** What is at `path`, not following a symlink: nothing, a socket, or another file. */
function fileAt(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Listens on the Unix socket `path`, replacing a socket file left there
 * (by a server that was killed), never another kind of file.
 */
function listenUnix(path: string): Deno.UnixListener {
  const there = fileAt(path);
  if (there !== undefined) {
    if (!there.isSocket) {
      throw new Deno.errors.AlreadyExists(
        `${path} exists and is not a socket: the server does not remove it; ` +
          `choose another path, or remove it yourself`,
      );
    }
    Deno.removeSync(path);
  }
  return Deno.listen({ transport: "unix", path });
}

/**
 * What a server's connections share: their limits, its buffer pool, its
 * head parsers and their string table, its request-body spooling, the
 * environ keys of the header names seen (see `envKeys`), and the current
 * second as a `Date:` value and as the log writes it.
 */
interface Shared {
  readonly limits: Readonly<ConnectionLimits>;
  readonly dates: PerSecond;
  readonly logDates: PerSecond;
  readonly buffers: BufferPool;
  /** Where request bodies over the threshold go. */
  readonly spooler: Spooler;
  /** The head parsers, with the server's string table. */
  readonly parsers: HeadParsers;
  readonly keys: Map<string, [string, string] | null>;
}

/** The {@linkcode Shared} of a server, for its connections (set once, below). */
let sharedOf: (server: WSGIServer) => Shared;

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
 * import { assert } from "@std/assert";
 *
 * const server = new WSGIServer({ hostname: "127.0.0.1", port: 0 });
 * server.setApp(demoApp);
 * assert(server.port > 0); // port 0 picked a free port
 * server.close();
 * ```
 */
export class WSGIServer implements AsyncDisposable {
  /** The listening socket: TCP, TLS over TCP, or a Unix socket. */
  readonly listener: Deno.TcpListener | Deno.TlsListener | Deno.UnixListener;
  /** The options with defaults, filled in (how to listen and when to stop are not kept). */
  readonly options: Readonly<
    & Required<
      Omit<ServerOptions, "signal" | "cert" | "key" | "path" | "spoolDir">
    >
    & { spoolDir: string | undefined }
  >;
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

  #handlers = new LinkedSet<WSGIRequestHandler>();
  /** What this server's connections share: buffers and head strings. */
  readonly #shared: Shared;
  static {
    sharedOf = (server) => server.#shared;
  }
  #shuttingDown = false;
  #closed = false;
  #serving: Promise<void> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #users = 0;
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;
  #tls: boolean;
  #signal: AbortSignal | undefined;
  #onAbort = (): void => {
    this.shutdown().catch(() => {});
  };
  /** The Unix socket file this server made, and its inode. */
  #socket: { path: string; ino: number | null } | undefined;

  /**
   * Listens on `address` (`hostname` `""` means every interface; port `0`
   * picks a free port), or on the Unix socket `options.path`; over TLS
   * with `options.cert` and `options.key`.
   *
   * @param address where to listen (unused with `options.path`)
   * @param options limits, timeouts, logging, the handler class, TLS, a
   * Unix socket, a signal to stop
   */
  constructor(
    address: { hostname?: string; port: number },
    options: ServerOptions = {},
  ) {
    this.options = Object.freeze(resolveOptions(options));
    const o = this.options;
    const limits = Object.freeze({
      maxRequestLine: o.maxRequestLine,
      maxHeaderBytes: o.maxHeaderBytes,
      maxHeaders: o.maxHeaders,
      maxRequestBody: o.maxRequestBody,
    });
    this.#shared = {
      limits,
      dates: new PerSecond(formatDateTime),
      logDates: new PerSecond(logDateTimeString),
      spooler: new Spooler({
        threshold: this.options.spoolThreshold,
        dir: this.options.spoolDir,
      }),
      buffers: new BufferPool(),
      parsers: new HeadParsers(limits, new StringTable()),
      keys: new Map(),
    };
    const { signal, cert, key, path } = options;
    this.#tls = cert !== undefined;
    if (path !== undefined) {
      this.listener = listenUnix(path);
      this.#socket = { path, ino: Deno.lstatSync(path).ino };
      this.serverName = "localhost";
      this.serverPort = 80;
    } else {
      const host = address.hostname ?? "";
      const at = {
        hostname: host === "" ? "0.0.0.0" : host,
        port: address.port,
        transport: "tcp",
      } as const;
      this.listener = cert === undefined
        ? Deno.listen(at)
        : Deno.listenTls({ ...at, cert, key: key! });
      this.serverName = serverNameFor(host);
      this.serverPort = this.listener.addr.port;
    }
    this.setupEnviron();
    if (signal !== undefined) {
      this.#signal = signal;
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The port listened on; 0 on a Unix socket. */
  get port(): number {
    const addr = this.listener.addr;
    return "port" in addr ? addr.port : 0;
  }

  /** The address listened on: a host and port, or a Unix socket's path. */
  get addr(): Deno.NetAddr | Deno.UnixAddr {
    return this.listener.addr;
  }

  /** True once {@linkcode WSGIServer.shutdown} or {@linkcode WSGIServer.close} was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Sets {@linkcode WSGIServer.baseEnviron}, as wsgiref's `setup_environ`;
   * with `HTTPS` `on` over TLS (as a CGI server sets it), which makes
   * `wsgi.url_scheme` `https`.
   */
  setupEnviron(): void {
    this.baseEnviron = {
      SERVER_NAME: this.serverName,
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PORT: String(this.serverPort),
      REMOTE_HOST: "",
      CONTENT_LENGTH: "",
      SCRIPT_NAME: "",
    };
    if (this.#tls) this.baseEnviron.HTTPS = "on";
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
        let conn: Deno.Conn;
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
  #serve(conn: Deno.Conn, oneRequest: boolean): Promise<void> {
    const addr = conn.remoteAddr;
    const handler = new this.options.handlerClass(
      conn,
      // A Unix socket's client: its socket's path ("" if unnamed), no port.
      "hostname" in addr
        ? [addr.hostname, addr.port]
        : [(addr as Deno.UnixAddr).path ?? "", 0],
      this,
    );
    if (oneRequest) handler.closeAfterResponse();
    const node = this.#handlers.add(handler);
    return handler.handle().finally(() => this.#release(node));
  }

  #release(node: LinkedNode<WSGIRequestHandler>): void {
    this.#handlers.delete(node);
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
    this.#signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.listener.close();
    } catch { /* already closed */ }
    const socket = this.#socket;
    if (socket !== undefined) {
      // Deno removes it on close; older versions leave it. Only ours.
      const there = fileAt(socket.path);
      if (there?.isSocket && there.ino === socket.ino) {
        Deno.removeSync(socket.path);
      }
    }
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

/** The code of a status line that `startResponse` validated ("NNN reason"). */
function statusCode(status: string): number {
  return (status.charCodeAt(0) - 48) * 100 +
    (status.charCodeAt(1) - 48) * 10 + (status.charCodeAt(2) - 48);
}

/**
 * The handler that runs the app for one request, as wsgiref's
 * `ServerHandler`: a {@linkcode SimpleHandler} writing to the connection.
 * The connection core frames the response (keep-alive, chunked, HEAD);
 * this handler asks it, and writes what it says.
 */
class ServerHandler extends SimpleHandler {
  override serverSoftware: string | undefined = SOFTWARE_VERSION;
  /** The connection's handler (wsgiref's `request_handler` back-pointer). */
  readonly requestHandler: WSGIRequestHandler;
  readonly writer: ResponseWriter;
  readonly #connection: ServerConnection;
  /** True once the response ended normally (close() was reached). */
  completed = false;
  /** The status code of the response that ended normally, for the log. */
  code = "-";
  /** The body bytes of the response that ended normally, for the log. */
  size = 0;

  constructor(
    requestHandler: WSGIRequestHandler,
    connection: ServerConnection,
    writer: ResponseWriter,
    input: InputStream,
    environ: Partial<WSGIEnvironment>,
  ) {
    super(input, writer, requestHandler.getStderr(), environ, {
      multithread: true,
      multiprocess: false,
    });
    this.requestHandler = requestHandler;
    this.#connection = connection;
    this.writer = writer;
    this.httpVersion = connection.head!.minor >= 1 ? "1.1" : "1.0";
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
   * After wsgiref's cleanup (Content-Length for a one-block body), asks the
   * connection core how the response is framed and whether the connection
   * persists, and adds the headers that say so.
   */
  override cleanupHeaders(): void {
    super.cleanupHeaders();
    const headers = this.headers!;
    const conn = this.#connection;
    const framing = conn.respond(
      statusCode(this.status!),
      headers.get("Content-Length"),
      this.requestHandler.closing,
    );
    if (framing === Framing.Chunked) {
      headers.set("Transfer-Encoding", "chunked");
    }
    if (conn.connection !== undefined) {
      headers.set("Connection", conn.connection);
    }
    this.writer.begin(framing, conn.length);
  }

  /**
   * Writes the head as `BaseHandler.buildPreamble` builds it (status line,
   * `Date` and `Server` unless the app gave them, the headers, a blank
   * line), encoded straight into the connection's output buffer, with a
   * count of its line ends that refuses a header the app changed to hold
   * a line break.
   */
  override sendPreamble(): void | Promise<void> {
    try {
      checkHead(this.status, this.headers!);
    } catch (error) {
      this.headersSent = false; // nothing was sent: the error page may go out
      throw error;
    }
    let head = `HTTP/${this.httpVersion} ${this.status}\r\n`;
    let fields = "";
    let hasDate = false;
    let hasServer = false;
    for (const [name, value] of this.headers!) {
      if (name.length === 4) {
        if (!hasDate && name.toLowerCase() === "date") hasDate = true;
      } else if (name.length === 6) {
        if (!hasServer && name.toLowerCase() === "server") hasServer = true;
      }
      fields += `${name}: ${value}\r\n`;
    }
    if (!hasDate) {
      head += `Date: ${sharedOf(this.requestHandler.server).dates.at()}\r\n`;
    }
    if (!hasServer && this.serverSoftware) {
      head += `Server: ${this.serverSoftware}\r\n`;
    }
    this.writer.queueHead(`${head}${fields}\r\n`);
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
    if (writer.framing !== Framing.None) {
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

  /**
   * Notes the status and size for the log, then closes. (wsgiref logs the
   * request here; this server logs it once the response has left the
   * server, which is after the handler is done.)
   */
  override close(): void | Promise<void> {
    if (this.status !== undefined) {
      this.code = this.status.slice(0, 3); // split(" ", 1)[0]: "NNN "
    }
    this.size = this.bytesSent;
    this.completed = true;
    return super.close();
  }
}

// ---------------------------------------------------------------------------
// The per-connection request handler

/**
 * Serves one connection, as wsgiref's `WSGIRequestHandler` (a
 * `BaseHTTPRequestHandler`): feeds the bytes it reads to the connection
 * core, which parses each request head and body; builds the environ
 * ({@linkcode WSGIRequestHandler.getEnviron}); runs the app through a
 * handler from `handlers.ts`; writes what the core says; and logs the
 * request. Subclass it and pass it as `handlerClass` to change the
 * environ, the log or `wsgi.errors`.
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
  // The request being served: set from its head, and emptied once it is
  // answered (between requests, a connection keeps nothing of the last).
  /** The request's header fields in order, as received (Python's `headers`). */
  headers: [string, string][] = [];
  /** The request method (Python's `command`). */
  command = "";
  /**
   * The request target in origin-form (an absolute-form target's path
   * and query), `//` at its start reduced to `/` (Python's `path`).
   */
  path = "";
  /** The request's version as sent, such as `"HTTP/1.1"` (Python's `request_version`). */
  requestVersion = "";

  #head: RequestHead | undefined;
  readonly #keys: Map<string, [string, string] | null>;
  readonly #connection: ServerConnection;
  readonly #writer: ResponseWriter;
  #requestline: string | undefined;
  #deadline = Infinity;
  /** True while the deadline is the one of a started head (headerTimeout). */
  #headTimed = false;
  #idle = false;
  #lastRequest = false;
  #aborted = false;
  /** Ends handle() when the connection is dropped (see abort()). */
  #cut: (() => void) | undefined;
  /** The handler answering the request in flight, until it is logged. */
  #answering: ServerHandler | undefined;

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
    const { limits, buffers, parsers, keys } = sharedOf(server);
    this.#keys = keys;
    this.#connection = new ServerConnection(limits, buffers, parsers);
    this.#writer = new ResponseWriter(conn, buffers);
  }

  /** The request line as received (Python's `requestline`). */
  get requestline(): string {
    if (this.#requestline !== undefined) return this.#requestline;
    const h = this.#head;
    return h === undefined ? "" : `${h.method} ${h.target} ${h.version}`;
  }

  /** When the connection is dropped unless something happens (ms since the epoch); the server's sweeper watches it. */
  get deadline(): number {
    return this.#deadline;
  }

  /** True while waiting for a new request with nothing of it received: `shutdown()` drops such a connection. */
  get idle(): boolean {
    return this.#idle;
  }

  /**
   * True when the server takes no other request on this connection after
   * the current one: it is shutting down, or was asked to by
   * {@linkcode WSGIRequestHandler.closeAfterResponse}.
   */
  get closing(): boolean {
    return this.#lastRequest || this.server.shuttingDown;
  }

  /**
   * Asks for the connection to close after its next response, as
   * `handleRequest()` (one request per call) does.
   */
  closeAfterResponse(): void {
    this.#lastRequest = true;
  }

  /**
   * The CGI variables of the current request, as wsgiref's `get_environ`:
   * the server's `baseEnviron`, then `SERVER_PROTOCOL`, `SERVER_SOFTWARE`,
   * `REQUEST_METHOD`, `PATH_INFO` (percent-decoded, read as ISO-8859-1),
   * `QUERY_STRING` (raw), `REMOTE_ADDR`, `CONTENT_TYPE` (`text/plain` when
   * absent, as Python's `get_content_type()`), `CONTENT_LENGTH`, then one
   * `HTTP_*` per header name (`-` read as `_`, repeats joined with `,`, a
   * name that maps onto a variable already set skipped). A header whose
   * name holds `_` is left out (it could pose as one with `-`, as nginx,
   * Apache httpd and gunicorn see it). For an absolute-form target
   * (`GET http://host/path`), `PATH_INFO` comes from its path and
   * `HTTP_HOST` from its host, which RFC 9112 puts before the Host field.
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
    // A copy of the server's variables, then the request's, in one object
    // literal (as wsgiref copies base_environ, then sets them).
    const env: Partial<WSGIEnvironment> = {
      ...base,
      SERVER_PROTOCOL: head.version,
      SERVER_SOFTWARE: this.serverVersion,
      REQUEST_METHOD: head.method,
      PATH_INFO: unquoteNative(q === -1 ? path : path.slice(0, q)),
      QUERY_STRING: q === -1 ? "" : path.slice(q + 1),
      REMOTE_ADDR: this.clientAddress[0],
      CONTENT_TYPE: contentType ?? "text/plain",
    };
    if (head.contentLength >= 0) {
      env.CONTENT_LENGTH = String(head.contentLength);
    }
    for (let i = 0; i < headers.length; i++) {
      const keys = this.#envKeys(headers[i][0]);
      if (keys !== null) putHeaderField(env, keys, headers[i][1]);
    }
    if (head.authority !== "") env.HTTP_HOST = head.authority;
    return env;
  }

  /**
   * The environ keys of a header name, remembered by the server for its
   * next requests (clients send the same names each time).
   */
  #envKeys(name: string): [string, string] | null {
    const seen = this.#keys;
    let keys = seen.get(name);
    if (keys === undefined) {
      keys = envKeys(name);
      if (seen.size < MAX_KEYS) seen.set(name, keys);
    }
    return keys;
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
    // A dropped connection ends handle() at once, whether or not its
    // pending read or write fails then (on some Deno versions a write
    // waiting on a client that reads nothing outlives conn.close()).
    const cut = Promise.withResolvers<void>();
    this.#cut = cut.resolve;
    await Promise.race([this.#serveRequests(), cut.promise]);
    if (this.#aborted) this.#logAnswer(false);
  }

  /** The requests of the connection, one after another; never rejects. */
  async #serveRequests(): Promise<void> {
    try {
      while (await this.handleOneRequest());
    } catch (e) {
      if (!this.#aborted && !isConnectionError(e)) {
        this.logError(`error on the connection: ${e}`);
      }
    } finally {
      // Buffers go back to the pools only here, once no read or write of
      // this connection is pending.
      this.#closeConn();
      this.#connection.close();
      this.#writer.release();
    }
  }

  /**
   * Reads and answers one request: its head, its body, then the app.
   * Resolves to true if the connection may carry another one.
   */
  async handleOneRequest(): Promise<boolean> {
    const core = this.#connection;
    let event = core.next();
    while (event === Event.NeedData) {
      if (!this.#timeHeadRead()) return false;
      // The one wait of an idle connection: nothing else is pending.
      const n = await this.conn.read(core.readRegion());
      this.#idle = false;
      if (n === null) core.receivedEof();
      else core.received(n);
      event = core.next();
    }
    if (event !== Event.Request) {
      if (event === Event.Refuse) await this.#refuse();
      return false; // Closed
    }
    const head = core.head!;
    this.#deadline = Infinity;
    this.#headTimed = false;
    this.#startRequest(head);
    let body = this.#readBody();
    if (body instanceof Promise) body = await body;
    if (body === null) return false;
    try {
      return await this.#runApp(head, body);
    } finally {
      // The spooled body, if any, is closed (and its file gone) once the
      // response ended, however it ended.
      body.close();
      this.#endRequest();
    }
  }

  /**
   * Sets the deadline of the read a head waits for: keepAliveTimeout while
   * no byte of it has come (and false, no wait at all, once the server
   * shuts down); from its first bytes on, headerTimeout bounds the whole
   * head.
   */
  #timeHeadRead(): boolean {
    const { keepAliveTimeout, headerTimeout } = this.server.options;
    if (this.#connection.idle) {
      if (this.server.shuttingDown) return false;
      this.#idle = true;
      this.#headTimed = false;
      this.#deadline = Date.now() + keepAliveTimeout;
    } else if (!this.#headTimed) {
      this.#headTimed = true;
      this.#deadline = Date.now() + headerTimeout;
    }
    return true;
  }

  /**
   * The body of the request: {@linkcode NO_BODY} at once when there is
   * none, else a promise of its spool (memory up to `spoolThreshold`, then
   * a temporary file); null when the connection ends instead (refused, cut
   * off by the client, or its spool failed).
   */
  #readBody(): RequestBody | null | Promise<RequestBody | null> {
    const event = this.#connection.next();
    return event === Event.EndOfMessage ? NO_BODY : this.#readBodyFrom(event);
  }

  /** Reads the body into a spool, from the core's `event` on. */
  async #readBodyFrom(event: Event): Promise<BodySpool | null> {
    const core = this.#connection;
    const { headerTimeout, bodyTimeout } = this.server.options;
    const spooler = sharedOf(this.server).spooler;
    const spool = spooler.open(core.head!.contentLength);
    let until = 0;
    try {
      for (;; event = core.next()) {
        switch (event) {
          case Event.Data: {
            const r = spool.append(core.data);
            if (r) await r;
            break;
          }
          case Event.NeedData: {
            const now = Date.now();
            if (until === 0) until = now + bodyTimeout;
            this.#deadline = Math.min(now + headerTimeout, until);
            const n = await this.conn.read(core.readRegion());
            if (n === null) core.receivedEof();
            else core.received(n);
            break;
          }
          case Event.Continue:
            await writeAll(this.conn, CONTINUE_RESPONSE);
            break;
          case Event.EndOfMessage: {
            this.#deadline = Infinity;
            const r = spool.end();
            if (r) await r;
            return spool;
          }
          case Event.Refuse:
            spool.close();
            await this.#refuse();
            return null;
          default: // Closed
            spool.close();
            return null;
        }
      }
    } catch (e) {
      spool.close();
      if (!(e instanceof SpoolError)) throw e;
      // The server cannot take the body: 413 for a permission it lacks,
      // 507 for a disk that failed; the connection then closes.
      const { status, log } = spooler.answer(e);
      if (log !== null) this.logError(log);
      core.refuse(
        status,
        status === 413
          ? "request body too large for this server"
          : "the server could not store the request body",
      );
      await this.#refuse();
      return null;
    }
  }

  /**
   * Runs the app on the request, writes its response, and logs it.
   * Resolves to true if the connection may carry another request.
   */
  async #runApp(
    head: RequestHead,
    body: RequestBody,
  ): Promise<boolean> {
    const writer = this.#writer;
    writer.reset();
    const environ = this.getEnviron();
    if (head.chunked) environ.CONTENT_LENGTH = String(body.length);
    // One handler per request, as wsgiref: a startResponse or write kept
    // by an app past its response cannot reach the next one.
    const handler = new ServerHandler(
      this,
      this.#connection,
      writer,
      body.input(),
      environ,
    );
    this.#answering = handler;
    let sent = true;
    try {
      await handler.run(this.server.application!);
    } catch (e) {
      // An error while handling an error: the handler gave up.
      this.logError(`error while handling an error: ${e}`);
      sent = false;
    }
    try {
      const rest = writer.flush();
      if (rest) await rest;
    } catch (e) {
      if (!isConnectionError(e)) throw e;
      sent = false; // the client went away, or the server dropped it
    } finally {
      writer.release(); // an idle connection holds no staging buffer
    }
    const complete = sent && handler.completed && writer.complete;
    this.#logAnswer(complete);
    return this.#connection.responseDone(complete) &&
      !this.server.shuttingDown;
  }

  /**
   * Logs the request in flight, once: with its status if the response went
   * out `complete`, else with "-" (cut short). Nothing if none is waiting.
   */
  #logAnswer(complete: boolean): void {
    const handler = this.#answering;
    if (handler === undefined) return;
    this.#answering = undefined;
    this.logRequest(
      complete ? handler.code : "-",
      handler.completed ? handler.size : handler.bytesSent,
    );
  }

  /**
   * Forgets the request once it is answered: a connection waiting for the
   * next one keeps nothing of it (a value sliced from the head would keep
   * the whole head).
   */
  #endRequest(): void {
    this.#answering = undefined;
    this.#head = undefined;
    this.#requestline = undefined;
    this.headers = [];
    this.command = this.path = this.requestVersion = "";
  }

  /** Notes the request the core read, as http.server's `parse_request` does. */
  #startRequest(head: RequestHead): void {
    this.#head = head;
    this.headers = head.headers;
    this.#requestline = undefined;
    this.command = head.method;
    this.requestVersion = head.version;
    const path = head.path;
    this.path = path.charCodeAt(0) === 47 && path.charCodeAt(1) === 47
      ? "/" + path.replace(/^\/+/, "")
      : path;
  }

  /** Answers the request the core refused, logs it; the connection then closes. */
  async #refuse(): Promise<void> {
    const core = this.#connection;
    const { status, message } = core;
    const head = core.head;
    if (head === null) {
      // Python logs the raw request line ('' for 414).
      this.#head = undefined;
      this.headers = [];
      this.#requestline = status === 414
        ? ""
        : core.firstLine(this.server.options.maxRequestLine);
    } else if (head !== this.#head) {
      this.#startRequest(head);
    }
    // As the request's version when known (http.server always says 1.0).
    const http11 = head !== null
      ? head.minor >= 1
      : this.#requestline!.endsWith(" HTTP/1.1");
    this.logError(`code ${status}, message ${message}`);
    this.logRequest(status);
    const bytes = errorResponse(
      status,
      message,
      http11 ? "HTTP/1.1" : "HTTP/1.0",
      [
        ["Server", this.versionString()],
        ["Date", sharedOf(this.server).dates.at()],
      ],
    );
    try {
      await writeAll(this.conn, bytes);
      if (core.linger) await this.#linger();
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
    this.#idle = true;
    this.#deadline = Date.now() +
      Math.min(LINGER_MS, this.server.options.headerTimeout);
    const buf = new Uint8Array(LINGER_BLOCK);
    for (let left = LINGER_BYTES; left > 0;) {
      const n = await this.conn.read(buf);
      if (n === null) break;
      left -= n;
    }
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
      `${this.addressString()} - - [${sharedOf(this.server).logDates.at()}] ${
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

  // The writes completed at the last sweep, and since when that count has
  // not moved (-1: the first sweep notes both).
  #sendSeen = -1;
  #sendSince = 0;

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
    if (this.#aborted) return;
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
    if (this.#aborted) return;
    if (!this.#idle) this.logError("Request timed out");
    this.abort();
  }

  /** Drops the connection at once (pending reads and writes fail). */
  abort(): void {
    this.#aborted = true;
    this.#deadline = Infinity;
    this.#closeConn();
    this.#cut?.();
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
 * With the option `path`, it listens on that Unix socket instead (`host`
 * and `port` are not used); with `cert` and `key`, it serves HTTPS.
 *
 * @example
 * ```ts
 * import { demoApp, makeServer } from "@wsgiref/wsgiref/simple_server";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = makeServer("127.0.0.1", 0, demoApp, {
 *   logRequests: false,
 * });
 * const served = server.serveForever();
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * assertEquals((await res.text()).split("\n")[0], "Hello world!");
 * await server.shutdown();
 * await served;
 * ```
 *
 * @example Stopping with an AbortSignal
 * ```ts
 * import { demoApp, makeServer } from "@wsgiref/wsgiref/simple_server";
 * import { assertEquals } from "@std/assert";
 *
 * const stop = new AbortController();
 * const server = makeServer("127.0.0.1", 0, demoApp, {
 *   signal: stop.signal,
 *   logRequests: false,
 * });
 * const served = server.serveForever();
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * assertEquals(res.status, 200);
 * await res.body?.cancel();
 * stop.abort(); // as server.shutdown(): requests in flight finish
 * await served;
 * ```
 *
 * @example On a Unix socket (nginx: `proxy_pass http://unix:/run/app.sock;`)
 * ```ts
 * import { demoApp, makeServer } from "@wsgiref/wsgiref/simple_server";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/app.sock`;
 * const server = makeServer("", 0, demoApp, { path, logRequests: false });
 * const served = server.serveForever();
 * const conn = await Deno.connect({ transport: "unix", path });
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * const reply = await new Response(conn.readable).text();
 * assertEquals(reply.split("\r\n")[0], "HTTP/1.0 200 OK");
 * await server.shutdown();
 * await served;
 * server.close(); // removes the socket file
 * await Deno.remove(dir);
 * ```
 *
 * @example HTTPS
 * ```ts ignore
 * import { demoApp, makeServer } from "@wsgiref/wsgiref/simple_server";
 *
 * await using server = makeServer("", 8443, demoApp, {
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 * });
 * await server.serveForever(); // wsgi.url_scheme is "https"
 * ```
 *
 * @param host the address to listen on (unused with `options.path`)
 * @param port the port (0: any free port; unused with `options.path`)
 * @param app the WSGI application
 * @param options limits, timeouts, logging, the handler class, TLS, a
 * Unix socket, a signal to stop
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
 * import { assertEquals } from "@std/assert";
 *
 * const environ: Partial<WSGIEnvironment> = {};
 * setupTestingDefaults(environ);
 * const [body] = demoApp(environ, () => () => {});
 * assertEquals(new TextDecoder().decode(body).split("\n")[0], "Hello world!");
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

/** The command line from JSR, with the permissions it needs (see USAGE). */
const JSR_COMMAND =
  "deno run --allow-net --allow-read=./app.ts jsr:@wsgiref/wsgiref/simple_server ./app.ts";

const USAGE =
  `Usage: deno run --allow-net [--allow-read=APP] simple_server.ts [APP[:name]] [options]
       ${JSR_COMMAND}

Serves a WSGI application over HTTP, as python -m wsgiref.simple_server.
Without APP, serves demoApp. With one, imports it (relative to the current
directory) and serves its default export, or its export named "app", or the
export given after ":". The second line runs it from JSR, no clone needed.

Permissions: --allow-net; --allow-read for APP and the local files it
imports, and for --cert and --key; --allow-read and --allow-write for
--unix PATH. Request bodies over 1 MiB wait in a temporary file in TMPDIR
(else /tmp): that needs --allow-read and --allow-write for it (e.g.
--allow-read=/tmp --allow-write=/tmp); without them such a body is
answered 413, and the log says why.

SIGINT (Ctrl-C) or SIGTERM shuts down gracefully: no new connections,
requests in flight finish, exit status 0. A second signal exits at once
(status 130 for SIGINT, 143 for SIGTERM), dropping what is in flight.

Options:
  --host H       address to listen on (default: every interface, 0.0.0.0)
  --port P       port to listen on (default: 8000; 0 picks a free port)
  --cert FILE    serve HTTPS: the certificate chain, PEM (with --key)
  --key FILE     the private key of --cert, PEM
  --unix PATH    listen on a Unix socket instead of a host and port
  --help         show this help`;

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

/** The exit status after a second signal: 128 + its number, as a shell reports it. */
const SIGNAL_EXIT: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGINT: 130,
  SIGTERM: 143,
};

/** Parses the command line, serves until interrupted; returns the exit code. */
async function main(args: string[]): Promise<number> {
  let host: string | undefined;
  let port: number | undefined;
  let certFile: string | undefined;
  let keyFile: string | undefined;
  let unixPath: string | undefined;
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
      } else if (flag === "--cert") {
        certFile = value();
      } else if (flag === "--key") {
        keyFile = value();
      } else if (flag === "--unix") {
        unixPath = value();
      } else if (arg.startsWith("-")) {
        throw new UsageError(`unknown option ${arg}`);
      } else if (spec === undefined) {
        spec = arg;
      } else {
        throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
      }
    }
    if (unixPath !== undefined && (host !== undefined || port !== undefined)) {
      throw new UsageError("--unix listens instead of --host and --port");
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }

  const stop = new AbortController();
  let app: WSGIApplication = demoApp;
  let server: WSGIServer;
  try {
    if (spec !== undefined) app = await loadApp(spec);
    const read = (file: string | undefined) =>
      file === undefined ? undefined : Deno.readTextFileSync(file);
    server = makeServer(host ?? "", port ?? 8000, app, {
      signal: stop.signal,
      cert: read(certFile),
      key: read(keyFile),
      path: unixPath,
    });
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const addr = server.addr;
  console.log(
    "path" in addr
      ? `Serving HTTP on unix:${addr.path} ...`
      : `Serving ${
        certFile === undefined ? "HTTP" : "HTTPS"
      } on ${addr.hostname} port ${addr.port} ...`,
  );

  // The first signal shuts down gracefully; a second one ends the process
  // at once, even while an app awaits something that takes its time.
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  const listeners = signals.map((signal) => {
    const listener = () => {
      if (!stop.signal.aborted) {
        console.error(
          `\n${signal} received, shutting down (again to stop at once).`,
        );
        stop.abort();
      } else {
        server.close(); // drops every connection, flushes the log
        Deno.exit(SIGNAL_EXIT[signal]);
      }
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  try {
    await server.serveForever();
  } finally {
    server.close();
    for (const remove of listeners) remove();
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
