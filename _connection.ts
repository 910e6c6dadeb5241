// The sans-I/O core of one HTTP/1.1 server connection, in the manner of
// h11's Connection: it owns the read buffer, parses request heads, frames
// request bodies (Content-Length, chunked with trailers), says when a
// `100 Continue` is due, makes every refusal decision, and applies the
// response-framing and keep-alive rules. No sockets, no timers, no WSGI.
//
// The I/O layer drives it:
//
//   for (;;) switch (conn.next()) {
//     case Event.NeedData:   read into conn.readRegion(); conn.received(n)
//                            (or conn.receivedEof() at the end of the stream)
//     case Event.Request:    conn.head is the request head
//     case Event.Continue:   send "HTTP/1.1 100 Continue" now
//     case Event.Data:       conn.data: body bytes, valid until the next call
//     case Event.EndOfMessage: the body is complete (conn.trailers); answer:
//                            conn.respond(...) frames the response,
//                            conn.responseDone(...) says whether to go on
//     case Event.Refuse:     answer conn.status / conn.message, then close
//                            (after draining the input if conn.linger)
//     case Event.Closed:     close
//   }
//
// Events are codes, and their data are fields of the connection, so that
// no object is made per event.

import {
  ALLOCATE,
  BUFFER_SIZE,
  type Buffers,
  HEAD_BUFFER_SIZE,
} from "./_buffer_pool.ts";
import { ChunkedDecoder } from "./_chunked.ts";
import {
  connectionHeader,
  Framing,
  keepsAlive,
  requestKeepsAlive,
  responseFraming,
  responseLength,
} from "./_framing.ts";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  type HeadParser,
  HeadParsers,
  type RequestHead,
} from "./_head_parser.ts";
import { HTTPError } from "./_http_error.ts";

/** What {@linkcode ServerConnection.next} says happened, or is needed. */
export const Event = {
  /** More bytes are needed: read into `readRegion()`, then `received(n)` or `receivedEof()`. */
  NeedData: 0,
  /** A request head was read: `head`. */
  Request: 1,
  /** The client waits for `HTTP/1.1 100 Continue` before sending its body: send it now. */
  Continue: 2,
  /** Body bytes: `data`, valid until the next call. */
  Data: 3,
  /** The request is complete (`trailers` for a chunked body); answer it, then `responseDone()`. */
  EndOfMessage: 4,
  /** The request is refused: answer `status` with `message`, drain the input if `linger`, close. */
  Refuse: 5,
  /** The connection is over (the client ended it, or after a refusal or a last response): close. */
  Closed: 6,
  /** A response is under way: call `responseDone()` first. */
  Paused: 7,
} as const;
/** One of the {@linkcode Event} values. */
export type Event = typeof Event[keyof typeof Event];

/** The limits a connection enforces. */
export interface ConnectionLimits extends HeadLimits {
  /** Largest request body in bytes; past it: 413. */
  maxRequestBody: number;
}

const EMPTY = new Uint8Array(0);
/**
 * The read buffer while a body larger than the usual buffer arrives (see
 * bench/upload.ts).
 */
const BODY_BUFFER_SIZE = 64 * 1024;
const NO_TRAILERS: readonly [string, string][] = Object.freeze([]);

// States.
const S_HEAD = 0; // reading a request head (or waiting for one)
const S_BODY = 1; // reading a body of `remaining` bytes
const S_CHUNKED = 2; // reading a chunked body
const S_DONE = 3; // the request is read; its response is under way
const S_CLOSED = 4; // nothing more: refused, ended, or not persistent

/**
 * The connection core: give it bytes, take events. See the module comment
 * for the loop that drives it.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Event, ServerConnection } from "./_connection.ts";
 *
 * const conn = new ServerConnection({
 *   maxRequestLine: 8192, maxHeaderBytes: 8192, maxHeaders: 100,
 *   maxRequestBody: 1024,
 * });
 * assertEquals(conn.next(), Event.NeedData);
 * const wire = new TextEncoder().encode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
 * conn.readRegion().set(wire);
 * conn.received(wire.length);
 * assertEquals(conn.next(), Event.Request);
 * assertEquals(conn.head?.method, "POST");
 * assertEquals(conn.next(), Event.Data);
 * assertEquals(conn.data.length, 2);
 * assertEquals(conn.next(), Event.EndOfMessage);
 * ```
 */
export class ServerConnection {
  #head: RequestHead | null = null;
  #data: Uint8Array = EMPTY;
  #trailers: readonly [string, string][] = NO_TRAILERS;
  #status = 0;
  #message = "";
  #linger = false;
  #framing: Framing = Framing.Close;
  #length = -1;
  #keepAlive = false;
  #connection: "close" | "keep-alive" | undefined = undefined;

  /** The request head, from {@linkcode Event.Request} until the response is done. */
  get head(): RequestHead | null {
    return this.#head;
  }

  /** The body bytes of the last {@linkcode Event.Data}. */
  get data(): Uint8Array {
    return this.#data;
  }

  /** The trailer fields of a chunked body, at {@linkcode Event.EndOfMessage}. */
  get trailers(): readonly [string, string][] {
    return this.#trailers;
  }

  /** The status of a refusal ({@linkcode Event.Refuse}). */
  get status(): number {
    return this.#status;
  }

  /** Why the request is refused: for the log and the answer's body. */
  get message(): string {
    return this.#message;
  }

  /**
   * True when the client may still be sending after a refusal: read and
   * drop its bytes for a while before closing, or the reset that closing
   * with unread bytes causes may destroy the answer.
   */
  get linger(): boolean {
    return this.#linger;
  }

  /** The response's framing, once {@linkcode ServerConnection.respond} chose it. */
  get framing(): Framing {
    return this.#framing;
  }

  /** The response's Content-Length as a number (-1: none). */
  get length(): number {
    return this.#length;
  }

  /** True when the connection persists after the response (see `respond`). */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** The Connection header the response needs, if any. */
  get connection(): "close" | "keep-alive" | undefined {
    return this.#connection;
  }

  readonly #limits: Readonly<ConnectionLimits>;
  readonly #buffers: Buffers;
  readonly #parsers: HeadParsers;
  /** The parser of the head being read, lent by #parsers (null between heads). */
  #parser: HeadParser | null = null;
  #buf: Uint8Array | null = null;
  #start = 0; // first byte not yet consumed
  #end = 0; // end of the bytes received
  #fresh = false; // bytes arrived since the last parse
  #eof = false;
  #state = S_HEAD;
  #remaining = 0; // body bytes still to come (S_BODY)
  #chunked: ChunkedDecoder | null = null;
  #continueDue = false;

  /**
   * A connection with nothing received yet.
   *
   * @param limits head limits and the largest request body
   * @param buffers where the read buffer comes from (default: allocated)
   * @param parsers where a head's parser comes from (default: this
   *   connection's own; a server's connections share one, with its string
   *   table)
   */
  constructor(
    limits: Readonly<ConnectionLimits> = {
      ...DEFAULT_HEAD_LIMITS,
      maxRequestBody: 10 * 1024 * 1024,
    },
    buffers: Buffers = ALLOCATE,
    parsers: HeadParsers = new HeadParsers(limits),
  ) {
    this.#limits = limits;
    this.#buffers = buffers;
    this.#parsers = parsers;
  }

  // -------------------------------------------------------------------------
  // Input

  /**
   * Where the next bytes go: read into this region, then call
   * {@linkcode ServerConnection.received}. Valid after
   * {@linkcode Event.NeedData}, until the next call.
   */
  readRegion(): Uint8Array {
    const buf = this.#buf!;
    return this.#end === 0 ? buf : buf.subarray(this.#end);
  }

  /** `n` bytes were read into the region from {@linkcode ServerConnection.readRegion}. */
  received(n: number): void {
    this.#end += n;
    if (n > 0) this.#fresh = true;
  }

  /** The client ended its stream: no more bytes will come. */
  receivedEof(): void {
    this.#eof = true;
  }

  /** True while nothing of a next request has been received. */
  get idle(): boolean {
    return this.#state === S_HEAD && this.#start === this.#end &&
      !this.#headStarted();
  }

  /** True once a byte of a request line (not only empty lines) was parsed. */
  #headStarted(): boolean {
    return this.#parser !== null && this.#parser.started;
  }

  /** Gives the parser back: the head is read, refused or cut off. */
  #giveParser(): void {
    const parser = this.#parser;
    if (parser === null) return;
    this.#parser = null;
    this.#parsers.give(parser);
  }

  /**
   * Gives the read buffer back to its {@linkcode Buffers} if it holds
   * nothing unread (as `responseDone` does between requests, and `close`);
   * the next {@linkcode Event.NeedData} takes a small one again. Returns
   * whether it did.
   */
  release(): boolean {
    const buf = this.#buf;
    if (buf === null || this.#start !== this.#end) return false;
    this.#buf = null;
    this.#start = this.#end = 0;
    this.#buffers.give(buf);
    return true;
  }

  /** The connection is over: gives the read buffer (unread bytes and all) and any parser back. */
  close(): void {
    this.#state = S_CLOSED;
    this.#start = this.#end;
    this.release();
    this.#giveParser();
  }

  /**
   * The first line received (empty lines before it skipped, the line end
   * and anything past `max` bytes left out), read as ISO-8859-1: what the
   * log shows of a head refused before it was parsed.
   */
  firstLine(max: number): string {
    const buf = this.#buf;
    if (buf === null) return "";
    let i = this.#start;
    const end = this.#end;
    while (i < end && (buf[i] === 13 || buf[i] === 10)) i++;
    const from = i;
    const limit = Math.min(end, from + max);
    while (i < limit && buf[i] !== 10) i++;
    let to = i;
    if (to > from && buf[to - 1] === 13) to--;
    let s = "";
    for (let k = from; k < to; k++) s += String.fromCharCode(buf[k]);
    return s;
  }

  // -------------------------------------------------------------------------
  // Events

  /** The next event; see {@linkcode Event}. */
  next(): Event {
    switch (this.#state) {
      case S_HEAD:
        return this.#nextHead();
      case S_BODY:
        return this.#nextBody();
      case S_CHUNKED:
        return this.#nextChunked();
      case S_DONE:
        return Event.Paused;
      default:
        return Event.Closed;
    }
  }

  #nextHead(): Event {
    if (this.#fresh) {
      this.#fresh = false;
      const parser = this.#parser ??= this.#parsers.take();
      let head: RequestHead | null;
      try {
        head = parser.parse(this.#buf!, this.#start, this.#end);
      } catch (e) {
        this.#giveParser();
        return this.#refuse(e);
      }
      if (head !== null) {
        this.#giveParser();
        return this.#request(head);
      }
    }
    if (this.#eof) {
      const started = this.#headStarted();
      this.#giveParser();
      if (!started) return this.#close();
      // A truncated head is a truncated request: never served.
      return this.#refuseWith(
        400,
        "request head cut off by the end of the stream",
      );
    }
    return this.#needData();
  }

  /** A head was parsed: choose how to read its body. */
  #request(head: RequestHead): Event {
    this.#head = head;
    this.#start = head.end;
    this.#keepAlive = false;
    this.#connection = undefined;
    if (head.method === "CONNECT") {
      return this.#refuseWith(
        501,
        "CONNECT is not supported: a WSGI server has no tunnel to open",
      );
    }
    const max = this.#limits.maxRequestBody;
    if (head.chunked) {
      this.#chunked = new ChunkedDecoder(max, this.#limits.maxHeaderBytes);
      this.#state = S_CHUNKED;
    } else {
      const length = Math.max(0, head.contentLength);
      if (length > max) {
        return this.#refuseWith(
          413,
          `request body of ${length} bytes is over the limit of ${max}`,
        );
      }
      this.#remaining = length;
      this.#state = S_BODY;
    }
    this.#continueDue = head.expectContinue &&
      (head.chunked || head.contentLength > 0);
    return Event.Request;
  }

  #nextBody(): Event {
    if (this.#remaining === 0) return this.#endOfMessage(NO_TRAILERS);
    const start = this.#start;
    const have = this.#end - start;
    if (have > 0) {
      const n = Math.min(have, this.#remaining);
      this.#data = this.#buf!.subarray(start, start + n);
      this.#start = start + n;
      this.#remaining -= n;
      this.#continueDue = false;
      return Event.Data;
    }
    return this.#bodyNeedsData();
  }

  #nextChunked(): Event {
    const dec = this.#chunked!;
    if (this.#start < this.#end) {
      const buf = this.#buf!;
      try {
        this.#start = dec.decode(buf, this.#start, this.#end);
      } catch (e) {
        return this.#refuse(e);
      }
      if (dec.dataEnd > dec.dataStart) {
        this.#data = buf.subarray(dec.dataStart, dec.dataEnd);
        this.#continueDue = false;
        return Event.Data;
      }
      if (dec.done) {
        this.#chunked = null;
        return this.#endOfMessage(dec.trailers);
      }
    }
    return this.#bodyNeedsData();
  }

  /** The body needs more bytes: a 100 Continue first if the client waits for one. */
  #bodyNeedsData(): Event {
    // The client that stopped sending in the middle of a body cannot be
    // answered: its request is not complete.
    if (this.#eof) return this.#close();
    if (this.#continueDue) {
      this.#continueDue = false;
      return Event.Continue;
    }
    const buf = this.#buf;
    if (buf !== null && this.#start === this.#end) {
      // A body larger than the buffer is read in larger pieces: fewer
      // reads, fewer events.
      const chunked = this.#state === S_CHUNKED;
      const size = chunked || this.#remaining > BUFFER_SIZE
        ? BODY_BUFFER_SIZE
        : BUFFER_SIZE;
      if (buf.length < size && (chunked || this.#remaining > buf.length)) {
        this.#buffers.give(buf);
        this.#buf = this.#buffers.take(size);
        this.#start = this.#end = 0;
      }
    }
    return this.#needData();
  }

  #endOfMessage(trailers: readonly [string, string][]): Event {
    this.#data = EMPTY;
    this.#trailers = trailers;
    this.#state = S_DONE;
    return Event.EndOfMessage;
  }

  /**
   * Makes room in the read buffer for more bytes (431 if a head outgrows
   * it). With no buffer (nothing is unread), a small one waits for the
   * next head: an idle connection holds little.
   */
  #needData(): Event {
    let buf = this.#buf;
    if (buf === null) {
      buf = this.#buf = this.#buffers.take(HEAD_BUFFER_SIZE);
    }
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === buf.length) {
      if (this.#start > 0) {
        buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        // Only a head fills the buffer (a body is handed out as it
        // comes); the head limits refuse one before it reaches `max`.
        const l = this.#limits;
        const max = l.maxRequestLine + l.maxHeaderBytes + 4096;
        if (buf.length >= max) {
          return this.#refuseWith(431, "request head too large");
        }
        const bigger = this.#buffers.take(
          buf.length < BUFFER_SIZE
            ? BUFFER_SIZE
            : Math.min(buf.length * 2, max),
        );
        bigger.set(buf.subarray(0, this.#end));
        this.#buffers.give(buf);
        this.#buf = bigger;
      }
    }
    return Event.NeedData;
  }

  /**
   * Refuses the request being read for a reason of the server's own (its
   * spool for the body failed, say): the next event is
   * {@linkcode Event.Refuse} with this status and message, and the
   * connection then closes (after draining what the client still sends).
   *
   * @param status the status to answer with
   * @param message why, for the log and the answer's body
   */
  refuse(status: number, message: string): Event {
    return this.#refuseWith(status, message);
  }

  #refuse(e: unknown): Event {
    if (!(e instanceof HTTPError)) throw e;
    return this.#refuseWith(e.status, e.message);
  }

  #refuseWith(status: number, message: string): Event {
    this.#status = status;
    this.#message = message;
    this.#linger = !this.#eof;
    this.#state = S_CLOSED;
    return Event.Refuse;
  }

  #close(): Event {
    this.#state = S_CLOSED;
    return Event.Closed;
  }

  // -------------------------------------------------------------------------
  // The response

  /**
   * Frames the response to the current request (see `responseFraming`),
   * and decides whether the connection persists after it (`keepAlive`,
   * and the `connection` header that says so). `closing` is true when the
   * server will not take another request on this connection (it is
   * shutting down, or serves one request only).
   *
   * @param status the response status code
   * @param contentLength the response's Content-Length value, if any
   * @param closing true if the server closes the connection after this response
   */
  respond(
    status: number,
    contentLength: string | undefined,
    closing: boolean,
  ): Framing {
    const head = this.#head!;
    const http11 = head.minor >= 1;
    const framing = responseFraming(head.method, status, contentLength, http11);
    this.#framing = framing;
    this.#length = framing === Framing.Length
      ? responseLength(contentLength)
      : -1;
    this.#keepAlive = keepsAlive(
      requestKeepsAlive(
        head.minor,
        head.connectionClose,
        head.connectionKeepAlive,
      ),
      framing,
      closing,
    );
    this.#connection = connectionHeader(http11, this.#keepAlive);
    return framing;
  }

  /**
   * The response went out; `complete` is false if it was cut short (an
   * error after the head, fewer or more body bytes than its
   * Content-Length, a failed write). Returns true when the connection
   * goes on to the next request.
   */
  responseDone(complete: boolean): boolean {
    const goOn = complete && this.#keepAlive && this.#state === S_DONE;
    this.#head = null;
    this.#trailers = NO_TRAILERS;
    this.#keepAlive = false;
    if (!goOn) {
      this.#close();
      return false;
    }
    this.#state = S_HEAD;
    this.#fresh = this.#start < this.#end;
    // Waiting for the next request, it holds no buffer (unless a
    // pipelined request is in it already).
    this.release();
    return true;
  }
}
