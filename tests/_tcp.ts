// Raw-TCP helpers for the server tests (simple_server, hardening, fuzz): a
// server for the length of a test, a client whose every read is bounded by a
// timeout, and a strict parser of HTTP/1.x responses that tells a
// well-formed answer from anything else.

import {
  makeServer,
  type ServerOptions,
  WSGIRequestHandler,
  type WSGIServer,
} from "../simple_server.ts";
import { StringIO } from "../util.ts";
import type { ErrorStream, WSGIApplication } from "../types.ts";

/** A request handler class whose `wsgi.errors` and log go to `log`. */
export function loggingTo(log: StringIO): typeof WSGIRequestHandler {
  return class extends WSGIRequestHandler {
    override getStderr(): ErrorStream {
      return log;
    }
  };
}

/**
 * Runs `fn` with a server for `app` on a free loopback port, its log kept in
 * a `StringIO`; shuts the server down after, and returns the log.
 */
export async function withServer(
  app: WSGIApplication,
  fn: (server: WSGIServer, log: StringIO) => Promise<void>,
  options: ServerOptions = {},
): Promise<StringIO> {
  const log = new StringIO();
  const server = makeServer("127.0.0.1", 0, app, {
    handlerClass: loggingTo(log),
    ...options,
  });
  const serving = server.serveForever();
  try {
    await fn(server, log);
  } finally {
    await server.shutdown();
    await serving;
    server.close();
  }
  return log;
}

/** Bytes of a native string (each code unit one byte). */
export function latin1(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** A native string of bytes (each byte one code unit). */
export function native(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

/** `a` then `b` in a new array. */
export function concat(
  a: Uint8Array,
  b: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Thrown when the server sends nothing within a read's time bound. */
export class ReadTimeout extends Error {
  constructor(ms: number, what: string) {
    super(`the server sent nothing within ${ms} ms (waiting for ${what})`);
    this.name = "ReadTimeout";
  }
}

/** One parsed response. */
export interface ParsedResponse {
  /** e.g. "HTTP/1.1 400 Bad Request". */
  statusLine: string;
  /** The status code. */
  status: number;
  /** Header fields as received. */
  fields: [string, string][];
  /** Lowercased names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  /** The decoded body. */
  body: Uint8Array;
  /** True if the body is close-delimited (it ran to the end of the stream). */
  closeDelimited: boolean;
}

const STATUS_LINE = /^HTTP\/1\.[01] [1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*$/;
const FIELD_LINE =
  /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?[ \t]*$/;

/** What {@linkcode parseResponse} found at the start of the bytes. */
export type ParseResult =
  | { kind: "response"; response: ParsedResponse; used: number }
  | { kind: "incomplete" }
  | { kind: "malformed"; reason: string };

/**
 * Parses one response at the start of `b`, strictly: a status line, field
 * lines of token names and visible values, CRLF line ends, then a body
 * framed by chunked (with CRLF after every chunk), Content-Length, or the
 * end of the stream (`eof`: no more bytes will come). `head` for the
 * answer to a HEAD request.
 */
export function parseResponse(
  b: Uint8Array,
  eof: boolean,
  head = false,
): ParseResult {
  const text = native(b.subarray(0, Math.min(b.length, 1 << 20)));
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) {
    // A bare LF where a CRLF should be would never complete.
    if (/[^\r]\n/.test(text) || text.startsWith("\n")) {
      return { kind: "malformed", reason: "bare LF in the response head" };
    }
    return eof
      ? { kind: "malformed", reason: "stream ended inside a response head" }
      : { kind: "incomplete" };
  }
  const lines = text.slice(0, end).split("\r\n");
  const statusLine = lines[0];
  if (!STATUS_LINE.test(statusLine)) {
    return {
      kind: "malformed",
      reason: `bad status line ${JSON.stringify(statusLine)}`,
    };
  }
  const status = Number(statusLine.slice(9, 12));
  const fields: [string, string][] = [];
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const m = FIELD_LINE.exec(line);
    if (m === null) {
      return {
        kind: "malformed",
        reason: `bad field line ${JSON.stringify(line)}`,
      };
    }
    const k = m[1].toLowerCase();
    const v = m[2] ?? "";
    fields.push([m[1], v]);
    headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
  }
  let i = end + 4;
  const done = (body: Uint8Array, closeDelimited = false): ParseResult => ({
    kind: "response",
    response: { statusLine, status, fields, headers, body, closeDelimited },
    used: i,
  });
  if (head || status < 200 || status === 204 || status === 304) {
    return done(new Uint8Array(0));
  }
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") {
      return { kind: "malformed", reason: `Transfer-Encoding ${te}` };
    }
    if (cl !== undefined) {
      return {
        kind: "malformed",
        reason: "both Transfer-Encoding and Content-Length",
      };
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const lf = b.indexOf(10, i);
      if (lf === -1) {
        return eof
          ? { kind: "malformed", reason: "stream ended inside a chunk size" }
          : { kind: "incomplete" };
      }
      const line = native(b.subarray(i, lf + 1));
      const m = /^([0-9a-fA-F]{1,14})\r\n$/.exec(line);
      if (m === null) {
        return {
          kind: "malformed",
          reason: `bad chunk size line ${JSON.stringify(line)}`,
        };
      }
      const size = parseInt(m[1], 16);
      i = lf + 1;
      if (size === 0) {
        if (b.length < i + 2) {
          return eof
            ? { kind: "malformed", reason: "stream ended before the last CRLF" }
            : { kind: "incomplete" };
        }
        if (b[i] !== 13 || b[i + 1] !== 10) {
          return {
            kind: "malformed",
            reason: "trailers or junk after the last chunk",
          };
        }
        i += 2;
        const body = new Uint8Array(total);
        let o = 0;
        for (const p of parts) body.set(p, o), o += p.length;
        return done(body);
      }
      if (b.length < i + size + 2) {
        return eof
          ? { kind: "malformed", reason: "stream ended inside a chunk" }
          : { kind: "incomplete" };
      }
      parts.push(b.subarray(i, i + size));
      total += size;
      i += size;
      if (b[i] !== 13 || b[i + 1] !== 10) {
        return { kind: "malformed", reason: "chunk data not followed by CRLF" };
      }
      i += 2;
    }
  }
  if (cl !== undefined) {
    if (!/^[0-9]+$/.test(cl)) {
      return { kind: "malformed", reason: `Content-Length ${cl}` };
    }
    const n = Number(cl);
    if (b.length < i + n) {
      return eof
        ? { kind: "malformed", reason: "stream ended inside the body" }
        : { kind: "incomplete" };
    }
    const body = b.slice(i, i + n);
    i += n;
    return done(body);
  }
  if (!eof) return { kind: "incomplete" };
  const body = b.slice(i);
  i = b.length;
  return done(body, true);
}

/**
 * Parses every response in a whole stream (read to its end). Throws if
 * anything in it is not a well-formed response.
 */
export function parseAll(b: Uint8Array, head = false): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let i = 0;
  while (i < b.length) {
    const r = parseResponse(b.subarray(i), true, head);
    if (r.kind !== "response") {
      throw new Error(
        `not a well-formed response at byte ${i}: ${
          r.kind === "malformed" ? r.reason : "incomplete"
        }\n${JSON.stringify(native(b.subarray(i, i + 400)))}`,
      );
    }
    out.push(r.response);
    i += r.used;
  }
  return out;
}

/** How the server ended the stream. */
export type StreamEnd = "eof" | "reset";

/**
 * A raw HTTP/1.x client on one TCP connection to 127.0.0.1. Every read
 * gives up after a timeout (the connection is closed and
 * {@linkcode ReadTimeout} thrown), so that no test can hang.
 */
export class RawClient {
  #buf: Uint8Array = new Uint8Array(0);
  #closed = false;
  #chunk = new Uint8Array(65536);
  /** How the stream ended, once it did. */
  ended: StreamEnd | undefined;

  private constructor(readonly conn: Deno.TcpConn) {}

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Writes all of `data` (a string is sent as ISO-8859-1 bytes). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1(data) : data;
    let off = 0;
    while (off < bytes.length) {
      off += await this.conn.write(bytes.subarray(off));
    }
  }

  /**
   * Writes all of `data`, swallowing the errors of a server that closed
   * the connection meanwhile; returns false if the write failed.
   */
  async trySend(data: string | Uint8Array): Promise<boolean> {
    try {
      await this.send(data);
      return true;
    } catch (e) {
      if (isGone(e)) return false;
      throw e;
    }
  }

  /** Half-closes: the server reads the end of the stream. */
  async closeWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  /** Bytes received and not yet consumed. */
  get buffered(): Uint8Array {
    return this.#buf;
  }

  /**
   * Reads once more into the buffer; false at the end of the stream (or a
   * reset). Throws {@linkcode ReadTimeout} after `timeoutMs`.
   */
  async more(timeoutMs: number, what = "data"): Promise<boolean> {
    const got = await this.readChunk(timeoutMs, what);
    if (got === null) return false;
    this.#buf = concat(this.#buf, got);
    return true;
  }

  /**
   * Reads once and returns the bytes without buffering them (null at the
   * end of the stream or a reset). Throws {@linkcode ReadTimeout} after
   * `timeoutMs`.
   */
  async readChunk(
    timeoutMs: number,
    what = "data",
  ): Promise<Uint8Array | null> {
    if (this.ended !== undefined) return null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    let n: number | null;
    try {
      n = await this.conn.read(this.#chunk);
    } catch (e) {
      if (timedOut) throw new ReadTimeout(timeoutMs, what);
      if (e instanceof Deno.errors.ConnectionReset) {
        this.ended = "reset";
        return null;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) throw new ReadTimeout(timeoutMs, what);
    if (n === null) {
      this.ended = "eof";
      return null;
    }
    return this.#chunk.subarray(0, n);
  }

  /**
   * Reads one well-formed response (throws if what arrives is not one, or
   * if nothing complete arrives within `timeoutMs` of silence).
   */
  async response(timeoutMs = 5000, head = false): Promise<ParsedResponse> {
    for (;;) {
      const r = parseResponse(this.#buf, this.ended !== undefined, head);
      if (r.kind === "response") {
        this.#buf = this.#buf.slice(r.used);
        return r.response;
      }
      if (r.kind === "malformed") {
        throw new Error(
          `malformed response: ${r.reason}\n${
            JSON.stringify(native(this.#buf.subarray(0, 400)))
          }`,
        );
      }
      if (this.ended !== undefined) {
        throw new Error(
          `the stream ended (${this.ended}) before a whole response: ${
            JSON.stringify(native(this.#buf.subarray(0, 400)))
          }`,
        );
      }
      await this.more(timeoutMs, "a response");
    }
  }

  /**
   * Everything until the server ends the stream; throws
   * {@linkcode ReadTimeout} if the server keeps it open and silent for
   * `timeoutMs`.
   */
  async readToEnd(timeoutMs = 5000): Promise<Uint8Array> {
    while (await this.more(timeoutMs, "the end of the stream"));
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  /**
   * Asserts that the server closes the connection with nothing more sent,
   * within `timeoutMs`; returns how it ended it.
   */
  async expectClosed(timeoutMs = 5000): Promise<StreamEnd> {
    const rest = await this.readToEnd(timeoutMs);
    if (rest.length !== 0) {
      throw new Error(
        `expected the connection closed, got ${rest.length} more bytes: ${
          JSON.stringify(native(rest.subarray(0, 200)))
        }`,
      );
    }
    return this.ended!;
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  /** `using c = await RawClient.open(port)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** True for the errors of a connection the peer closed or reset. */
export function isGone(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted ||
    e instanceof Deno.errors.NotConnected ||
    e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted;
}

/**
 * A deterministic PRNG (mulberry32): the same `seed` gives the same
 * numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
