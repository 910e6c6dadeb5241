/**
 * Handlers that run a WSGI application once, as Python's `wsgiref.handlers`:
 * {@linkcode BaseHandler} (the protocol logic), {@linkcode SimpleHandler}
 * (given streams and an environ), {@linkcode BaseCGIHandler} (CGI-style
 * output), {@linkcode CGIHandler} (a CGI program on stdin/stdout),
 * {@linkcode IISCGIHandler}, and {@linkcode readEnviron}.
 *
 * @example A CGI program
 * ```ts ignore
 * #!/usr/bin/env -S deno run --no-config --no-lock --allow-env
 * import { CGIHandler } from "@wsgiref/wsgiref/handlers";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`You asked for ${environ.PATH_INFO}\n`)];
 * };
 * await new CGIHandler().run(app);
 * ```
 *
 * @module
 */

import type {
  ErrorStream,
  FileWrapperClass,
  HeaderList,
  InputStream,
  ResponseBody,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";
import { FileWrapper, guessScheme } from "./util.ts";
import { ResponseHeaders } from "./headers.ts";
import {
  bodyBeforeStart,
  callClose,
  checkBody,
  checkChunk,
  checkHead,
  checkNoHopByHop,
  checkResponseHeaders,
  checkRestart,
  checkStatus,
  checkWriteData,
  EMPTY,
  ERROR_BODY,
  ERROR_STATUS,
  formatError,
  isPromiseLike,
  noStartResponse,
  ownHeaderList,
  writeOutsideResponse,
  WSGI_VERSION,
} from "./_gateway.ts";
import { checkHeaderValue } from "./_field.ts";
import { fileWrapperFactory } from "./_environ.ts";
import { latin1Into } from "./_latin1.ts";
import { httpDate } from "./_date.ts";
import {
  bytesFromInvalidDataMessage,
  LimitedInput,
  parseContentLength,
  parseEnvironBlock,
  REQUEST_VARS,
  SyncErrorStream,
  syncSink,
  utf8AsNative,
} from "./_handlers.ts";

export type {
  ErrorStream,
  FileLike,
  FileWrapperClass,
  FileWrapperFactory,
  HeaderList,
  InputStream,
  ResponseBody,
  ResponseChunks,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";
export type { FileWrapper } from "./util.ts";
export type { ResponseHeaders } from "./headers.ts";

/**
 * Thrown by {@linkcode BaseHandler}'s abstract hooks (`rawWrite`,
 * `rawFlush`, `getStdin`, `getStderr`, `addCgiVars`), as Python's
 * `NotImplementedError`: a subclass must override them.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { BaseHandler, NotImplementedError } from "@wsgiref/wsgiref/handlers";
 *
 * assertThrows(() => new BaseHandler().getStdin(), NotImplementedError);
 * ```
 */
export class NotImplementedError extends Error {
  /**
   * Makes the error.
   *
   * @param message what to override
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { NotImplementedError } from "@wsgiref/wsgiref/handlers";
   *
   * const error = new NotImplementedError("rawWrite() must be overridden");
   * assertEquals(error.name, "NotImplementedError");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "NotImplementedError";
  }
}

/**
 * True for the errors a write raises when the client went away
 * (`Deno.errors.BrokenPipe`, `ConnectionReset`, `ConnectionAborted`):
 * {@linkcode BaseHandler.run} ends silently on those.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { isClientDisconnect } from "@wsgiref/wsgiref/handlers";
 *
 * assertEquals(isClientDisconnect(new Deno.errors.BrokenPipe()), true);
 * assertEquals(isClientDisconnect(new Error("disk full")), false);
 * ```
 */
export function isClientDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

/**
 * Where a {@linkcode SimpleHandler} writes the response: any object whose
 * `write` takes bytes and returns (or resolves to) the number written, as a
 * `Deno.Writer`. Partial writes are completed. `flush`, if present, is
 * called after each `write()` of the app.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SimpleHandler, type HandlerOutput } from "@wsgiref/wsgiref/handlers";
 * import { BytesIO, StringIO } from "@wsgiref/wsgiref/util";
 *
 * const chunks: Uint8Array[] = [];
 * const out: HandlerOutput = {
 *   write(p) {
 *     chunks.push(p.slice());
 *     return p.length;
 *   },
 * };
 *
 * const h = new SimpleHandler(new BytesIO(), out, new StringIO(), {
 *   REQUEST_METHOD: "GET",
 *   SERVER_PROTOCOL: "HTTP/1.0",
 * });
 * h.osEnviron = {};
 * await h.run((_environ, startResponse) => {
 *   startResponse("204 No Content", [["Date", "Mon, 05 Jun 2006 18:49:54 GMT"]]);
 *   return [];
 * });
 * assertEquals(
 *   new TextDecoder().decode(chunks[0]),
 *   "HTTP/1.0 204 No Content\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\n" +
 *     "Content-Length: 0\r\n\r\n",
 * );
 * ```
 */
export interface HandlerOutput {
  /** Writes some of `p`; returns how many bytes were written. */
  write(p: Uint8Array): number | Promise<number>;
  /** Pushes out anything buffered. */
  flush?(): void | Promise<void>;
}

/**
 * Options of {@linkcode SimpleHandler} and its subclasses.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import {
 *   SimpleHandler,
 *   type SimpleHandlerOptions,
 * } from "@wsgiref/wsgiref/handlers";
 * import { BytesIO, StringIO } from "@wsgiref/wsgiref/util";
 *
 * const options: SimpleHandlerOptions = { multithread: false, multiprocess: true };
 * const h = new SimpleHandler(new BytesIO(), new BytesIO(), new StringIO(), {}, options);
 * assertEquals([h.wsgiMultithread, h.wsgiMultiprocess], [false, true]);
 * ```
 */
export interface SimpleHandlerOptions {
  /** The value of `wsgi.multithread`; `true` by default. */
  multithread?: boolean;
  /** The value of `wsgi.multiprocess`; `false` by default. */
  multiprocess?: boolean;
}

/**
 * The default `osEnviron`: the process environment when `--allow-env` is
 * granted (asked without prompting), else nothing.
 */
function defaultOsEnviron(): Record<string, string> {
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") {
    return readEnviron();
  }
  return {};
}

/**
 * Runs a WSGI application once and sends its response: the protocol logic
 * of Python's `wsgiref.handlers.BaseHandler`. Subclasses supply the I/O by
 * overriding {@linkcode BaseHandler.rawWrite}, {@linkcode BaseHandler.rawFlush},
 * {@linkcode BaseHandler.getStdin}, {@linkcode BaseHandler.getStderr} and
 * {@linkcode BaseHandler.addCgiVars}; every other step is a method that may
 * be overridden too.
 *
 * Writes may be synchronous or asynchronous: a hook returns `void` or a
 * promise, and the handler awaits only the promises. The app's `write()`
 * calls are queued in order and all complete before the body is iterated
 * and before the response ends.
 *
 * @example A handler that collects the response in memory
 * ```ts
 * import { assertMatch } from "@std/assert";
 * import { BaseHandler } from "@wsgiref/wsgiref/handlers";
 * import { BytesIO, StringIO } from "@wsgiref/wsgiref/util";
 *
 * class MemoryHandler extends BaseHandler {
 *   out = new BytesIO();
 *   err = new StringIO();
 *   override rawWrite(data: Uint8Array) {
 *     this.out.write(data);
 *   }
 *   override rawFlush() {}
 *   override getStdin() {
 *     return new BytesIO();
 *   }
 *   override getStderr() {
 *     return this.err;
 *   }
 *   override addCgiVars() {
 *     Object.assign(this.environ!, { REQUEST_METHOD: "GET", SERVER_PROTOCOL: "HTTP/1.0" });
 *   }
 * }
 *
 * const h = new MemoryHandler();
 * h.osEnviron = {};
 * await h.run((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * });
 * assertMatch(
 *   new TextDecoder().decode(h.out.getValue()),
 *   /^HTTP\/1\.0 200 OK\r\nDate: .* GMT\r\nContent-Type: text\/plain\r\nContent-Length: 2\r\n\r\nhi$/,
 * );
 * ```
 */
export class BaseHandler {
  // Configuration (per subclass or per instance).

  /** The value of `wsgi.version`: `[1, 0]`. */
  wsgiVersion: readonly [number, number] = WSGI_VERSION;
  /** The value of `wsgi.multithread`. */
  wsgiMultithread = true;
  /** The value of `wsgi.multiprocess`. */
  wsgiMultiprocess = true;
  /** The value of `wsgi.run_once`. */
  wsgiRunOnce = false;

  /** True when talking HTTP to the client; false for a gateway (`Status:` line). */
  originServer = true;
  /** The HTTP version of the status line an origin server writes. */
  httpVersion = "1.0";
  /** The `Server:` header and default `SERVER_SOFTWARE`, if set. */
  serverSoftware: string | undefined = undefined;

  /**
   * The class whose instances `sendfile` may send, and whose factory is
   * `wsgi.file_wrapper`; `undefined` disables both.
   */
  wsgiFileWrapper: FileWrapperClass | undefined = FileWrapper;
  /** The class that wraps the app's header list. */
  headersClass: typeof ResponseHeaders = ResponseHeaders;

  /** The status of the error page sent when the app fails before output. */
  errorStatus: string = ERROR_STATUS;
  /** The headers of the error page. */
  errorHeaders: [string, string][] = [["Content-Type", "text/plain"]];
  /**
   * The body of the error page. The default is one array shared by every
   * handler (as wsgiref's `error_body` is a class attribute): to change
   * it, assign another array, never write into this one.
   */
  errorBody: Uint8Array = ERROR_BODY;

  // State (one request).

  /** The status the app gave, once it called `startResponse`. */
  status: string | undefined = undefined;
  /** What the app returned. */
  result: ResponseBody | undefined = undefined;
  /** True once the status line and headers went out. */
  headersSent = false;
  /** The response headers, once the app called `startResponse`. */
  headers: ResponseHeaders | undefined = undefined;
  /** Bytes of body sent so far. */
  bytesSent = 0;
  /** The environ of the request being handled. */
  environ: WSGIEnvironment | undefined = undefined;

  #osEnviron: Record<string, string> | undefined;
  /** The pending chain of the app's asynchronous write() calls. */
  #pending: Promise<void> | undefined;
  /** The first failure of a queued write, waiting to be rethrown. */
  #writeError: { error: unknown } | undefined;
  /** The body already closed, so that close() runs once. */
  #closedBody: unknown;
  /** True once the response ended (close() ran), until the next run(). */
  #ended = false;

  /** The `startResponse` callable given to the app: {@linkcode BaseHandler.startResponse}, bound. */
  protected readonly boundStartResponse: StartResponse = (
    status,
    headers,
    excInfo,
  ) => this.startResponse(status, headers, excInfo);

  /** The `write` callable returned by `startResponse`: queues async writes in order. */
  protected readonly boundWrite: WriteFn = (data) => this.#appWrite(data);

  /**
   * Variables copied into every environ before the CGI variables: by
   * default the process environment (as {@linkcode readEnviron} reads it,
   * once per handler) when `--allow-env` is granted, else none. CGI
   * handlers use none.
   */
  get osEnviron(): Record<string, string> {
    return this.#osEnviron ??= defaultOsEnviron();
  }
  set osEnviron(value: Record<string, string>) {
    this.#osEnviron = value;
  }

  /**
   * Runs `application` once: builds the environ, calls the app, sends its
   * response, and handles every error as wsgiref does. Resolves when the
   * response is finished. Client disconnects end it silently; an error
   * while handling an error is thrown.
   *
   * An app that returns its body and whose output is written synchronously
   * is served without a wait: only what returns a promise is awaited.
   */
  run(application: WSGIApplication): Promise<void> {
    this.#ended = false;
    let sent: void | Promise<void>;
    try {
      sent = this.#respond(application);
    } catch (error) {
      return this.#failed(error);
    }
    return sent === undefined
      ? Promise.resolve()
      : sent.catch((error) => this.#failed(error));
  }

  /** The environ, the app, its response: `run` short of its error handling. */
  #respond(application: WSGIApplication): void | Promise<void> {
    this.setupEnviron();
    let result: ResponseBody | Promise<ResponseBody>;
    try {
      result = application(this.environ!, this.boundStartResponse);
    } catch (error) {
      return this.#respondLater(Promise.reject(error));
    }
    if (isPromiseLike(result) || this.#pending || this.#writeError) {
      return this.#respondLater(result);
    }
    this.result = result;
    return this.finishResponse();
  }

  /** `#respond` once the app's result (a promise, or a failure) or its queued writes are awaited. */
  async #respondLater(
    result: ResponseBody | Promise<ResponseBody>,
  ): Promise<void> {
    try {
      this.result = await result;
    } finally {
      // Writes made by the app finish (or fail) before anything else.
      if (this.#pending || this.#writeError) await this.#settleWrites();
    }
    await this.finishResponse();
  }

  /** `run`'s answer to a failure: the error page, or silence for a client gone. */
  async #failed(error: unknown): Promise<void> {
    let err = error;
    try {
      // The app's body, if the failure came before finishResponse closed it.
      await this.#closeResult();
    } catch (closeError) {
      err = closeError;
    }
    if (isClientDisconnect(err)) return;
    try {
      await this.handleError(err);
    } catch (second) {
      // An error while handling an error: give up, and let the server
      // know (unless the client just went away while it was being told).
      await this.close();
      if (isClientDisconnect(second)) return;
      throw second;
    }
  }

  /** Builds {@linkcode BaseHandler.environ} for one request. */
  setupEnviron(): void {
    // Completed below: addCgiVars adds the CGI variables to this.environ.
    const env = this.environ = { ...this.osEnviron } as WSGIEnvironment;
    this.addCgiVars();
    env["wsgi.input"] = this.getStdin();
    env["wsgi.errors"] = this.getStderr();
    env["wsgi.version"] = this.wsgiVersion;
    env["wsgi.run_once"] = this.wsgiRunOnce;
    env["wsgi.url_scheme"] = this.getScheme();
    env["wsgi.multithread"] = this.wsgiMultithread;
    env["wsgi.multiprocess"] = this.wsgiMultiprocess;
    if (this.wsgiFileWrapper !== undefined) {
      env["wsgi.file_wrapper"] = fileWrapperFactory(this.wsgiFileWrapper);
    }
    if (
      this.originServer && this.serverSoftware && !("SERVER_SOFTWARE" in env)
    ) {
      env.SERVER_SOFTWARE = this.serverSoftware;
    }
  }

  /**
   * Sends the body (through {@linkcode BaseHandler.sendfile} for a file
   * wrapper, else chunk by chunk), ends the response, then
   * {@linkcode BaseHandler.close}s. On an error the body is closed and the
   * error thrown; the handler's state is kept for inspection. Returns a
   * promise only when something had to be awaited.
   */
  finishResponse(): void | Promise<void> {
    let sent: void | Promise<void>;
    try {
      sent = this.#sendResult();
    } catch (error) {
      return this.#closeAndThrow(error);
    }
    if (sent === undefined) return this.close();
    return sent.then(
      () => this.close(),
      (error) => this.#closeAndThrow(error),
    );
  }

  /** Closes the body after a failure to send it, then throws the failure. */
  async #closeAndThrow(error: unknown): Promise<never> {
    await this.#closeResult();
    throw error;
  }

  /** The body, by `sendfile` or chunk by chunk, then `finishContent`. */
  #sendResult(): void | Promise<void> {
    if (this.resultIsFile()) {
      const done = this.sendfile();
      if (done === true) return;
      if (done !== false) {
        return done.then((sent) => sent ? undefined : this.#sendChunks());
      }
    }
    return this.#sendChunks();
  }

  /** The body chunk by chunk, then `finishContent`. */
  #sendChunks(): void | Promise<void> {
    const sent = this.#sendBody();
    if (sent === undefined) return this.finishContent();
    return sent.then(() => this.finishContent());
  }

  /** Iterates the body, writing each chunk. */
  #sendBody(): void | Promise<void> {
    const body: unknown = this.result;
    checkBody(body);
    if (Array.isArray(body)) {
      // All returned at once: startResponse can no longer come.
      if (!this.status) throw noStartResponse();
      return this.#sendArray(body, 0);
    }
    return this.#sendIterable(body);
  }

  /** The chunks of an array body from `from` on, without a wait while writes are synchronous. */
  #sendArray(body: readonly unknown[], from: number): void | Promise<void> {
    for (let i = from; i < body.length; i++) {
      if (this.#pending || this.#writeError) {
        return this.#settleWrites().then(() => this.#sendArray(body, i));
      }
      const r = this.#sendChunk(body[i]);
      if (r) return r.then(() => this.#sendArray(body, i + 1));
    }
    if (this.#pending || this.#writeError) return this.#settleWrites();
  }

  /** Iterates a body that is not an array: a stream, an async or a sync iterable. */
  async #sendIterable(body: object): Promise<void> {
    if (
      // Checked by shape first: touching the ReadableStream global makes
      // Deno load web streams, which a CGI program pays for at start-up.
      typeof (body as { getReader?: unknown }).getReader === "function" &&
      body instanceof ReadableStream
    ) {
      return await this.#sendStream(body as ReadableStream<Uint8Array>);
    } else if (Symbol.asyncIterator in body) {
      for await (const chunk of body as AsyncIterable<unknown>) {
        if (this.#pending || this.#writeError) await this.#settleWrites();
        const r = this.#sendChunk(chunk);
        if (r) await r;
      }
    } else {
      for (const chunk of body as Iterable<unknown>) {
        if (this.#pending || this.#writeError) await this.#settleWrites();
        const r = this.#sendChunk(chunk);
        if (r) await r;
      }
    }
    if (this.#pending || this.#writeError) await this.#settleWrites();
  }

  /** One chunk of the body: checked, then written as wsgiref's `write`. */
  #sendChunk(chunk: unknown): void | Promise<void> {
    checkChunk(chunk);
    if (!this.status) throw bodyBeforeStart();
    return this.write(chunk);
  }

  /** Reads a stream body with a reader; cancels the stream if sending stops early. */
  async #sendStream(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (this.#pending || this.#writeError) await this.#settleWrites();
        const r = this.#sendChunk(value);
        if (r) await r;
      }
      if (this.#pending || this.#writeError) await this.#settleWrites();
      finished = true;
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      throw error;
    } finally {
      if (finished) reader.releaseLock();
    }
  }

  /** The URL scheme of the request: `"https"` if `HTTPS` is on, else `"http"`. */
  getScheme(): string {
    return guessScheme(this.environ!);
  }

  /**
   * Sets `Content-Length` when the body is a one-element array (its length
   * is then known). Subclasses may switch to chunked encoding here.
   */
  setContentLength(): void {
    const result = this.result;
    if (Array.isArray(result) && result.length === 1) {
      this.#headers().set("Content-Length", String(this.bytesSent));
    }
  }

  /**
   * Last changes to the headers before they are sent: refuses a hop-by-hop
   * header the app added to its list after `startResponse` (the framing is
   * the server's), and adds `Content-Length` if it can.
   */
  cleanupHeaders(): void {
    const headers = this.#headers();
    checkNoHopByHop(headers);
    if (!headers.has("Content-Length")) this.setContentLength();
  }

  #headers(): ResponseHeaders {
    const h = this.headers;
    if (h === undefined) throw noStartResponse();
    return h;
  }

  /**
   * The `start_response` callable of PEP 3333, with the checks both
   * gateways share: the status (3 digits, a space, a reason; no control
   * character, ISO-8859-1), each header (a `[name, value]` pair of strings,
   * a token name, a valid value, no hop-by-hop header), and no second call
   * unless `excInfo` is given; with `excInfo` after the headers went out,
   * `excInfo` is rethrown. A broken WSGI rule is an `AssertionError`, a
   * value of the wrong type or that cannot go on the wire a `TypeError`.
   * The list is wrapped in place (a frozen list is copied). Returns the
   * `write` callable.
   */
  startResponse(
    status: string,
    headers: HeaderList,
    excInfo?: unknown,
  ): WriteFn {
    checkRestart(this.headers !== undefined, this.headersSent, excInfo);
    this.status = status;
    this.validateStatus(status);
    checkResponseHeaders(headers);
    this.headers = new this.headersClass(ownHeaderList(headers));
    return this.boundWrite;
  }

  /** Checks a status line, as wsgiref's `_validate_status`, and its characters. */
  validateStatus(status: string): void {
    checkStatus(status);
  }

  /**
   * The bytes of the response head: for an origin server
   * `HTTP/<httpVersion> <status>`, `Date:` unless the app gave one,
   * `Server:` when {@linkcode BaseHandler.serverSoftware} is set (nothing at
   * all for an HTTP/0.9 client); for a gateway `Status: <status>`. Then the
   * headers and a blank line, as one ISO-8859-1 buffer. Refuses (with a
   * `TypeError`) a name that is not a token, or a value with a control
   * character or a code unit above 0xFF, whatever the app did to its
   * header list after `startResponse`.
   */
  buildPreamble(): Uint8Array {
    const headers = this.#headers();
    const status = this.status;
    checkHead(status, headers);
    let head: string;
    if (this.originServer) {
      if (!this.clientIsModern()) return EMPTY;
      checkHeaderValue(this.httpVersion, "httpVersion");
      head = `HTTP/${this.httpVersion} ${status}\r\n`;
      if (!headers.has("Date")) head += `Date: ${httpDate()}\r\n`;
      if (this.serverSoftware && !headers.has("Server")) {
        checkHeaderValue(this.serverSoftware, "serverSoftware");
        head += `Server: ${this.serverSoftware}\r\n`;
      }
    } else {
      head = `Status: ${status}\r\n`;
    }
    for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
    head += "\r\n";
    const out = new Uint8Array(head.length);
    latin1Into(head, out, 0);
    return out;
  }

  /**
   * Writes the response head (see {@linkcode BaseHandler.buildPreamble}) in
   * one {@linkcode BaseHandler.rawWrite}. Unlike wsgiref, the headers go
   * out in the same write as the status line, and a head refused by
   * `buildPreamble` sets {@linkcode BaseHandler.headersSent} back to false
   * (nothing was sent), so that the error page can still go out.
   */
  sendPreamble(): void | Promise<void> {
    let head: Uint8Array;
    try {
      head = this.buildPreamble();
    } catch (error) {
      // Refused before a byte went out: the error page may still be sent.
      this.headersSent = false;
      throw error;
    }
    if (head.length) return this.rawWrite(head);
  }

  /**
   * The `write` step of PEP 3333: sends the head before the first bytes,
   * then `data`, then flushes. Throws an `AssertionError` for data that is
   * not a `Uint8Array`, and for a write before `startResponse` or after
   * the response ended.
   */
  write(data: Uint8Array): void | Promise<void> {
    checkWriteData(data);
    if (!this.status) throw writeOutsideResponse(this.#ended);
    let r: void | Promise<void> = undefined;
    if (!this.headersSent) {
      this.bytesSent = data.length; // so that Content-Length is known
      r = this.sendHeaders();
    } else {
      this.bytesSent += data.length;
    }
    if (r) return r.then(() => this.#writeAndFlush(data));
    return this.#writeAndFlush(data);
  }

  #writeAndFlush(data: Uint8Array): void | Promise<void> {
    const r = data.length ? this.rawWrite(data) : undefined;
    if (r) return r.then(() => this.rawFlush());
    return this.rawFlush();
  }

  /** The app's `write()`: throws misuse at once, queues asynchronous writes in order. */
  #appWrite(data: Uint8Array): void {
    if (this.#writeError) throw this.#writeError.error;
    if (this.#pending === undefined) {
      const r = this.write(data);
      if (r) this.#pending = this.#track(r);
      return;
    }
    checkWriteData(data);
    this.#pending = this.#track(
      this.#pending.then(() => this.#writeError ? undefined : this.write(data)),
    );
  }

  #track(p: Promise<void>): Promise<void> {
    return p.then(undefined, (error) => {
      this.#writeError ??= { error };
    });
  }

  /** Waits for the app's queued writes; rethrows the first failure. */
  async #settleWrites(): Promise<void> {
    while (this.#pending) {
      const p = this.#pending;
      await p;
      if (p === this.#pending) this.#pending = undefined;
    }
    const failed = this.#writeError;
    if (failed) {
      this.#writeError = undefined;
      throw failed.error;
    }
  }

  /**
   * Sends a {@linkcode FileWrapper} body in a platform-specific way. Returns
   * true if it did (calling {@linkcode BaseHandler.sendHeaders} first if the
   * headers are not out yet), false to have the body iterated (the default).
   * It is called only when {@linkcode BaseHandler.resultIsFile} is true.
   */
  sendfile(): boolean | Promise<boolean> {
    return false;
  }

  /** Makes sure the head went out (with `Content-Length: 0` unless the app set one). */
  finishContent(): void | Promise<void> {
    if (!this.headersSent) {
      // Only when the app set none: HEAD responses keep their own.
      this.#headers().setDefault("Content-Length", "0");
      const r = this.sendHeaders();
      if (r) return r.then(() => this.rawFlush());
      return this.rawFlush();
    }
  }

  /**
   * Closes the body (once, even if called again) and resets the state;
   * returns a promise only when the body's `close()` did. Subclasses may
   * also drop the client connection here.
   */
  close(): void | Promise<void> {
    let closing: void | Promise<void>;
    try {
      closing = this.#closeResult();
    } catch (error) {
      this.#reset();
      throw error;
    }
    if (closing === undefined) return this.#reset();
    return closing.finally(() => this.#reset());
  }

  /** The state of a handler between responses. */
  #reset(): void {
    this.result =
      this.headers =
      this.status =
      this.environ =
        undefined;
    this.bytesSent = 0;
    this.headersSent = false;
    this.#ended = true;
    this.#closedBody = undefined;
    this.#pending = undefined;
    this.#writeError = undefined;
  }

  /** Calls the body's close(), at most once per body. */
  #closeResult(): void | Promise<void> {
    const body = this.result;
    if (body === undefined || body === null || body === this.#closedBody) {
      return;
    }
    this.#closedBody = body;
    const r = callClose(body);
    if (isPromiseLike(r)) return Promise.resolve(r).then(() => {});
  }

  /** Sends the head: {@linkcode BaseHandler.cleanupHeaders}, then {@linkcode BaseHandler.sendPreamble}. */
  sendHeaders(): void | Promise<void> {
    this.cleanupHeaders();
    this.headersSent = true;
    if (!this.originServer || this.clientIsModern()) {
      return this.sendPreamble();
    }
  }

  /** True when the body is an instance of {@linkcode BaseHandler.wsgiFileWrapper}. */
  resultIsFile(): boolean {
    const wrapper = this.wsgiFileWrapper;
    return wrapper !== undefined && this.result instanceof wrapper;
  }

  /** True unless the request is HTTP/0.9 (which gets no status or headers). */
  clientIsModern(): boolean {
    const proto = this.environ?.SERVER_PROTOCOL;
    return typeof proto !== "string" || proto.toUpperCase() !== "HTTP/0.9";
  }

  /** Writes `error` and its stack to {@linkcode BaseHandler.getStderr}. */
  logException(error: unknown): void {
    const stderr = this.getStderr();
    stderr.write(formatError(error));
    stderr.flush();
  }

  /**
   * Logs `error`, and sends the error page if no header went out yet.
   * After output, the response just ends.
   */
  async handleError(error: unknown): Promise<void> {
    this.logException(error);
    if (!this.headersSent) {
      const result = this.errorOutput(
        this.environ ?? ({} as WSGIEnvironment),
        this.boundStartResponse,
        error,
      );
      this.result = isPromiseLike<ResponseBody>(result) ? await result : result;
      await this.finishResponse();
    }
  }

  /**
   * The app that writes the error page: {@linkcode BaseHandler.errorStatus},
   * {@linkcode BaseHandler.errorHeaders} and {@linkcode BaseHandler.errorBody}.
   * Override it for a dynamic page (but show no diagnostics to any client).
   */
  errorOutput(
    _environ: WSGIEnvironment,
    startResponse: StartResponse,
    error?: unknown,
  ): ResponseBody | Promise<ResponseBody> {
    startResponse(
      this.errorStatus,
      this.errorHeaders.slice(),
      error ?? new Error("undefined was thrown"),
    );
    return [this.errorBody];
  }

  // The hooks every subclass must provide.

  /**
   * Sends (or buffers) bytes to the client; may return a promise. Override
   * it; the default throws {@linkcode NotImplementedError}.
   */
  rawWrite(_data: Uint8Array): void | Promise<void> {
    throw new NotImplementedError(
      "rawWrite() must be overridden to send bytes to the client",
    );
  }

  /** Pushes out what {@linkcode BaseHandler.rawWrite} buffered. Override it. */
  rawFlush(): void | Promise<void> {
    throw new NotImplementedError(
      "rawFlush() must be overridden (it may do nothing)",
    );
  }

  /** The request body, for `wsgi.input`. Override it. */
  getStdin(): InputStream {
    throw new NotImplementedError(
      "getStdin() must be overridden to return the wsgi.input stream",
    );
  }

  /** The error log, for `wsgi.errors`. Override it. */
  getStderr(): ErrorStream {
    throw new NotImplementedError(
      "getStderr() must be overridden to return the wsgi.errors stream",
    );
  }

  /** Adds the request's CGI variables to {@linkcode BaseHandler.environ}. Override it. */
  addCgiVars(): void {
    throw new NotImplementedError(
      "addCgiVars() must be overridden to add the request's CGI variables",
    );
  }
}

/**
 * A handler given its streams and environ, for synchronous-style HTTP/1.0
 * origin servers, as wsgiref's `SimpleHandler`. `stdout` is any
 * {@linkcode HandlerOutput} (sync or async, partial writes completed).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SimpleHandler } from "@wsgiref/wsgiref/handlers";
 * import { BytesIO, StringIO } from "@wsgiref/wsgiref/util";
 *
 * const out = new BytesIO();
 * const h = new SimpleHandler(new BytesIO(), out, new StringIO(), {
 *   REQUEST_METHOD: "GET",
 *   SERVER_PROTOCOL: "HTTP/1.0",
 * });
 * h.osEnviron = {};
 * await h.run((_environ, startResponse) => {
 *   startResponse("200 OK", [["Date", "Mon, 05 Jun 2006 18:49:54 GMT"]]);
 *   return [new TextEncoder().encode("Hello")];
 * });
 * assertEquals(
 *   new TextDecoder().decode(out.getValue()),
 *   "HTTP/1.0 200 OK\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\n" +
 *     "Content-Length: 5\r\n\r\nHello",
 * );
 * ```
 */
export class SimpleHandler extends BaseHandler {
  /** The request body. */
  stdin: InputStream;
  /** Where the response goes. */
  stdout: HandlerOutput;
  /** The error log. */
  stderr: ErrorStream;
  /** The request's CGI variables, added to every environ. */
  baseEnv: Partial<WSGIEnvironment>;

  /**
   * Makes a handler over the given streams and CGI variables.
   *
   * @param stdin the request body (`wsgi.input`)
   * @param stdout where the response goes
   * @param stderr the error log (`wsgi.errors`)
   * @param environ the request's CGI variables
   * @param options `multithread` (default true) and `multiprocess` (default false)
   */
  constructor(
    stdin: InputStream,
    stdout: HandlerOutput,
    stderr: ErrorStream,
    environ: Partial<WSGIEnvironment>,
    options: SimpleHandlerOptions = {},
  ) {
    super();
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    this.baseEnv = environ;
    this.wsgiMultithread = options.multithread ?? true;
    this.wsgiMultiprocess = options.multiprocess ?? false;
  }

  /** Returns {@linkcode SimpleHandler.stdin}. */
  override getStdin(): InputStream {
    return this.stdin;
  }

  /** Returns {@linkcode SimpleHandler.stderr}. */
  override getStderr(): ErrorStream {
    return this.stderr;
  }

  /** Copies {@linkcode SimpleHandler.baseEnv} into the environ. */
  override addCgiVars(): void {
    Object.assign(this.environ!, this.baseEnv);
  }

  /**
   * Writes all of `data` to {@linkcode SimpleHandler.stdout}, completing
   * partial writes; synchronous when the writer is. A writer that writes
   * nothing raises `Deno.errors.WriteZero`.
   */
  override rawWrite(data: Uint8Array): void | Promise<void> {
    const out = this.stdout;
    for (;;) {
      const n: unknown = out.write(data);
      if (typeof n !== "number") {
        if (n === undefined || n === null) return;
        return this.#rawWriteAsync(n as Promise<number>, data);
      }
      if (n >= data.length) return;
      if (n <= 0) {
        throw new Deno.errors.WriteZero("stdout.write() wrote 0 bytes");
      }
      data = data.subarray(n);
    }
  }

  async #rawWriteAsync(p: Promise<number>, data: Uint8Array): Promise<void> {
    let n: unknown = await p;
    while (typeof n === "number" && n < data.length) {
      if (n <= 0) {
        throw new Deno.errors.WriteZero("stdout.write() wrote 0 bytes");
      }
      data = data.subarray(n);
      n = await this.stdout.write(data);
    }
  }

  /** Calls `stdout.flush()` if there is one. */
  override rawFlush(): void | Promise<void> {
    const out = this.stdout;
    if (typeof out.flush === "function") return out.flush();
  }
}

/**
 * A handler for CGI-like gateways (FastCGI, SCGI, …) given streams and an
 * environ: a {@linkcode SimpleHandler} that is not an origin server, so the
 * response starts with a `Status:` line.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BaseCGIHandler } from "@wsgiref/wsgiref/handlers";
 * import { BytesIO, StringIO } from "@wsgiref/wsgiref/util";
 *
 * const out = new BytesIO();
 * const h = new BaseCGIHandler(new BytesIO(), out, new StringIO(), {});
 * h.osEnviron = {};
 * await h.run((_environ, startResponse) => {
 *   startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("nope")];
 * });
 * assertEquals(
 *   new TextDecoder().decode(out.getValue()),
 *   "Status: 404 Not Found\r\nContent-Type: text/plain\r\n" +
 *     "Content-Length: 4\r\n\r\nnope",
 * );
 * ```
 */
export class BaseCGIHandler extends SimpleHandler {
  /** False: a gateway writes `Status:`, not an HTTP status line. */
  override originServer = false;
}

/** The CGI request body: stdin, at most CONTENT_LENGTH bytes. */
function cgiStdin(environ: Record<string, string>): InputStream {
  return new LimitedInput(
    Deno.stdin,
    parseContentLength(environ.CONTENT_LENGTH),
  );
}

/**
 * Runs a WSGI app as a CGI program: the request body from `Deno.stdin`
 * (CONTENT_LENGTH bytes at most), the response to `Deno.stdout`, the log to
 * `Deno.stderr`, the environ from {@linkcode readEnviron}, with
 * `wsgi.run_once` true, `wsgi.multithread` false and `wsgi.multiprocess`
 * true.
 *
 * Permissions: `--allow-env` (every variable that is valid UTF-8 exact, and
 * the main request variables byte-exact); on Linux, `-A` makes every
 * variable byte-exact (see {@linkcode readEnviron}). No other permission is
 * needed.
 *
 * @example
 * ```ts ignore
 * #!/usr/bin/env -S deno run --no-config --no-lock --allow-env
 * import { CGIHandler } from "@wsgiref/wsgiref/handlers";
 *
 * await new CGIHandler().run((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.REQUEST_METHOD} ok\n`)];
 * });
 * ```
 */
export class CGIHandler extends BaseCGIHandler {
  /** True: one request per process. */
  override wsgiRunOnce = true;

  /** Reads the environ and wraps the standard streams. */
  constructor() {
    const environ = readEnviron();
    super(
      cgiStdin(environ),
      syncSink(Deno.stdout),
      new SyncErrorStream(Deno.stderr),
      environ,
      { multithread: false, multiprocess: true },
    );
    this.osEnviron = {};
  }
}

/**
 * {@linkcode CGIHandler} for Microsoft IIS without `allowPathInfo`: IIS
 * repeats SCRIPT_NAME at the front of PATH_INFO, and this handler removes
 * it.
 *
 * @example
 * ```ts ignore
 * import { IISCGIHandler } from "@wsgiref/wsgiref/handlers";
 *
 * await new IISCGIHandler().run((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.PATH_INFO}\n`)];
 * });
 * ```
 */
export class IISCGIHandler extends BaseCGIHandler {
  /** True: one request per process. */
  override wsgiRunOnce = true;

  /** Reads the environ, fixes PATH_INFO, and wraps the standard streams. */
  constructor() {
    const environ = readEnviron();
    fixIISPathInfo(environ);
    super(
      cgiStdin(environ),
      syncSink(Deno.stdout),
      new SyncErrorStream(Deno.stderr),
      environ,
      { multithread: false, multiprocess: true },
    );
    this.osEnviron = {};
  }
}

/** Removes the SCRIPT_NAME that IIS repeats at the front of PATH_INFO. */
function fixIISPathInfo(environ: Record<string, string>): void {
  const path = environ.PATH_INFO ?? "";
  const script = environ.SCRIPT_NAME ?? "";
  if ((path + "/").startsWith(script + "/")) {
    environ.PATH_INFO = path.slice(script.length);
  }
}

/**
 * True when every permission is granted, as `-A` does: only then does Deno
 * let a program read /proc/self/environ (asking first spares a thrown
 * error, which CGI start-up would pay for).
 */
function allGranted(): boolean {
  for (const name of ["read", "write", "run", "ffi", "sys", "env", "net"]) {
    const desc = { name } as Deno.PermissionDescriptor;
    if (Deno.permissions.querySync(desc).state !== "granted") return false;
  }
  return true;
}

/**
 * Reads the process environment as native strings (each byte one code unit,
 * ISO-8859-1), so that CGI variables carry the request's bytes exactly: a
 * request for `/%FF` gives PATH_INFO `"/\xff"`, and `/p%C3%A4th` gives
 * `"/p\xc3\xa4th"`, as PEP 3333 wants.
 *
 * How, and the permissions it needs:
 *
 * 1. On Linux with `-A` (`--allow-all`): the raw bytes of
 *    `/proc/self/environ`. Deno 2 refuses that file to anything less than
 *    `--allow-all`, even `--allow-read=/proc/self/environ`. Exact for every
 *    variable. (It is the environment the process started with.)
 * 2. Otherwise with `--allow-env`: `Deno.env.toObject()`, each value encoded
 *    back to UTF-8 and read as ISO-8859-1; exact for every value that is
 *    valid UTF-8. Deno leaves out variables that are not; the request
 *    variables (`PATH_INFO`, `SCRIPT_NAME`, `QUERY_STRING`, `REQUEST_URI`,
 *    `PATH_TRANSLATED`, common `HTTP_*`, …) are then recovered byte for byte
 *    from the error Deno raises for them. Other variables that are not
 *    UTF-8 (a rare `HTTP_*` header with raw 8-bit bytes) are lost.
 *
 * Without either permission, throws `Deno.errors.NotCapable` saying so.
 * Permissions are queried, never prompted for.
 *
 * @example
 * ```ts
 * import { readEnviron } from "@wsgiref/wsgiref/handlers";
 * import { assertEquals } from "@std/assert";
 *
 * const environ = readEnviron(); // deno run --allow-env …
 * assertEquals(environ.PATH, Deno.env.get("PATH"));
 * ```
 */
export function readEnviron(): Record<string, string> {
  if (
    Deno.build.os === "linux" && allGranted()
  ) {
    try {
      return parseEnvironBlock(Deno.readFileSync("/proc/self/environ"));
    } catch (e) {
      if (
        !(e instanceof Deno.errors.NotCapable ||
          e instanceof Deno.errors.PermissionDenied ||
          e instanceof Deno.errors.NotFound)
      ) throw e;
    }
  }
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      "readEnviron() needs the process environment: run with --allow-env " +
        "(or -A on Linux, for every variable byte-exact)",
    );
  }
  const env: Record<string, string> = {};
  const raw = Deno.env.toObject();
  for (const key in raw) env[utf8AsNative(key)] = utf8AsNative(raw[key]);
  for (const name of REQUEST_VARS) {
    if (name in env) continue;
    try {
      Deno.env.get(name); // absent: undefined; present and valid: in raw already
    } catch (e) {
      if (!(e instanceof Deno.errors.InvalidData)) throw e;
      const value = bytesFromInvalidDataMessage(e.message);
      if (value !== undefined) env[name] = value;
    }
  }
  return env;
}
