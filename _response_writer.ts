// The output side of one simple_server connection: queues the status line,
// headers and body blocks that a handler writes, frames the body as the
// connection core chose (by length, chunked, until close, or none), and
// sends what is queued in as few conn.write calls as possible (one for a
// small response). Also the server's own answers: errors and 100 Continue.

import { chunkHeader, CRLF, LAST_CHUNK } from "./_chunked.ts";
import { BUFFER_SIZE, type Buffers } from "./_buffer_pool.ts";
import { Framing } from "./_framing.ts";
import { checkHeader } from "./_field.ts";
import { latin1Encode } from "./_latin1.ts";
import { reasonPhrase } from "./_status.ts";
import { bytesOf } from "./_http_syntax.ts";

/** `HTTP/1.1 100 Continue` and the empty line, for `Expect: 100-continue`. */
export const CONTINUE_RESPONSE: Uint8Array = bytesOf(
  "HTTP/1.1 100 Continue\r\n\r\n",
);

/** Writes all of `data`, however many calls it takes. */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let off = await conn.write(data);
  while (off < data.length) off += await conn.write(data.subarray(off));
}

const encoder = new TextEncoder();

/** Pieces at most this long are copied into the staging buffer (if they fit). */
const SMALL = BUFFER_SIZE;

/**
 * Queues and sends one connection's output. Small pieces (the head, short
 * body blocks, chunk framing) are copied into a staging buffer, so that a
 * small response goes out in one `conn.write`; large blocks are written as
 * they are, without a copy. The staging buffer is borrowed from `buffers`
 * for each response, and given back by `release()`.
 */
export class ResponseWriter {
  readonly conn: Deno.Conn;
  /** How the body being written is framed. */
  framing: Framing = Framing.Close;
  /** Body bytes still allowed by Content-Length; -1 when there is none. */
  remaining = -1;
  /** Body bytes the app wrote past its Content-Length (dropped). */
  overflow = 0;
  /** Pieces to write, in order (staged regions are sealed into it). */
  #parts: Uint8Array[] = [];
  /** The staging buffer, borrowed on first use. */
  #out: Uint8Array | null = null;
  readonly #buffers: Buffers;
  /** Bytes staged in #out. */
  #outLen = 0;
  /** Staged bytes already sealed into #parts. */
  #sealed = 0;

  /**
   * @param conn the connection written to
   * @param buffers where staging buffers are borrowed from
   */
  constructor(conn: Deno.Conn, buffers: Buffers) {
    this.conn = conn;
    this.#buffers = buffers;
  }

  /** Starts a new response. */
  reset(): void {
    this.framing = Framing.Close;
    this.remaining = -1;
    this.overflow = 0;
    this.#writes = 0;
  }

  /**
   * Sets the framing of the body about to be written, and its length when
   * it is framed by one.
   */
  begin(framing: Framing, length: number): void {
    this.framing = framing;
    this.remaining = framing === Framing.Length ? length : -1;
  }

  /**
   * True unless the body written so far breaks its framing: bytes past
   * its Content-Length, or fewer than it.
   */
  get complete(): boolean {
    return this.overflow === 0 &&
      !(this.framing === Framing.Length && this.remaining > 0);
  }

  /** Writes made for the current response. */
  #writes = 0;
  #noDelay = false;

  /**
   * A response sent in several writes must not wait on Nagle's algorithm
   * (the last small segment would wait for the client's delayed ACK).
   * One-write responses need nothing, which saves a syscall per connection.
   */
  #moreThanOneWrite(): void {
    if (this.#noDelay) return;
    this.#noDelay = true;
    try {
      (this.conn as Deno.TcpConn).setNoDelay?.(true);
    } catch { /* closed */ }
  }

  /**
   * Stages the response head, a native string whose fields were checked
   * (`checkHead` in `_gateway.ts`: no line break can hide in one). A code
   * unit above 0xFF is a `TypeError` (`latin1Encode`).
   */
  queueHead(head: string): void {
    const n = head.length;
    const out = this.#stage(n);
    if (out !== null) {
      // ASCII (the usual case) is the same in UTF-8: encode natively.
      const r = encoder.encodeInto(head, out.subarray(this.#outLen));
      if (r.read === n && r.written === n) {
        this.#outLen += n;
        return;
      }
    }
    this.#push(latin1Encode(head, "The response head"));
  }

  /** Room for `n` bytes in the staging buffer, or null. */
  #stage(n: number): Uint8Array | null {
    let out = this.#out;
    if (out === null) out = this.#out = this.#buffers.take(BUFFER_SIZE);
    return this.#outLen + n <= out.length ? out : null;
  }

  /** Queues bytes of the body, framed. */
  queue(data: Uint8Array): void {
    let n = data.length;
    if (n === 0) return;
    switch (this.framing) {
      case Framing.None:
        return;
      case Framing.Length:
        if (n > this.remaining) {
          this.overflow += n - this.remaining;
          data = data.subarray(0, this.remaining);
          n = data.length;
          if (n === 0) return;
        }
        this.remaining -= n;
        break;
      case Framing.Chunked:
        this.#add(chunkHeader(n));
        this.#add(data);
        this.#add(CRLF);
        return;
    }
    this.#add(data);
  }

  /** Copies a small piece into the staging buffer, or queues a big one. */
  #add(data: Uint8Array): void {
    const n = data.length;
    if (n <= SMALL) {
      const out = this.#stage(n);
      if (out !== null) {
        out.set(data, this.#outLen);
        this.#outLen += n;
        return;
      }
    }
    this.#push(data);
  }

  /** Queues a piece after what is staged. */
  #push(data: Uint8Array): void {
    if (this.#outLen > this.#sealed) {
      this.#parts.push(this.#out!.subarray(this.#sealed, this.#outLen));
      this.#sealed = this.#outLen;
    }
    this.#parts.push(data);
  }

  /** True when everything queued sits in the staging buffer. */
  get staged(): boolean {
    return this.#parts.length === 0;
  }

  /** `HandlerOutput.write`: queues all of `p`. */
  write(p: Uint8Array): number {
    this.queue(p);
    return p.length;
  }

  /** Queues the end of a chunked body. */
  endChunked(): void {
    if (this.framing === Framing.Chunked) this.#add(LAST_CHUNK);
  }

  /**
   * Gives the staging buffer back, and drops what is queued (between
   * responses, once everything was sent, so that an idle connection holds
   * none; and when the connection is done).
   */
  release(): void {
    if (this.#out !== null) this.#buffers.give(this.#out);
    this.#out = null;
    this.#outLen = this.#sealed = 0;
    this.#parts.length = 0;
  }

  /** Sends everything queued; `undefined` when nothing was. */
  flush(): Promise<void> | undefined {
    const parts = this.#parts;
    const staged = this.#outLen > this.#sealed
      ? this.#out!.subarray(this.#sealed, this.#outLen)
      : null;
    // The staging buffer is free again once this flush completes (the
    // handler awaits it before queueing more).
    this.#outLen = this.#sealed = 0;
    if (parts.length === 0) {
      if (staged === null) return undefined;
      if (this.#writes++ > 0) this.#moreThanOneWrite();
      return this.#send(staged);
    }
    this.#writes++;
    this.#moreThanOneWrite();
    const copy = parts.slice();
    parts.length = 0;
    if (staged !== null) copy.push(staged);
    return this.#writeMany(copy);
  }

  async #writeMany(parts: Uint8Array[]): Promise<void> {
    for (let i = 0; i < parts.length; i++) await this.#send(parts[i]);
  }

  /** conn.write calls under way (above 0 while one waits on the client). */
  sending = 0;
  /** conn.write calls completed: the server's send timeout watches it move. */
  sent = 0;

  /** Writes all of `data`, counting the writes for the send timeout. */
  async #send(data: Uint8Array): Promise<void> {
    this.sending++;
    try {
      let off = await this.conn.write(data);
      this.sent++;
      while (off < data.length) {
        off += await this.conn.write(data.subarray(off));
        this.sent++;
      }
    } finally {
      this.sending--;
    }
  }
}

/**
 * A complete error response the server sends before closing: status line
 * (`version` as given, e.g. "HTTP/1.0"), `Connection: close`,
 * `Content-Type: text/plain; charset=utf-8`, `Content-Length`, any
 * `extraHeaders` (such as Server and Date), then `message` and a newline as
 * the UTF-8 body. Throws a TypeError for an extra header that is not a
 * valid field (see `checkHeader` in `_field.ts`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { errorResponse } from "./_response_writer.ts";
 *
 * const bytes = errorResponse(400, "bare CR in header field value", "HTTP/1.0");
 * const text = new TextDecoder().decode(bytes);
 * assertEquals(text.split("\r\n").slice(0, 2), ["HTTP/1.0 400 Bad Request", "Connection: close"]);
 * ```
 */
export function errorResponse(
  status: number,
  message: string,
  version: string,
  extraHeaders: readonly (readonly [string, string])[] = [],
): Uint8Array {
  if (version !== "HTTP/1.0" && version !== "HTTP/1.1") {
    throw new TypeError(`invalid HTTP version ${JSON.stringify(version)}`);
  }
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(`invalid status ${status}`);
  }
  const body = encoder.encode(message + "\n");
  let head = `${version} ${status} ${reasonPhrase(status)}\r\n` +
    "Connection: close\r\n" +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    "X-Content-Type-Options: nosniff\r\n" +
    `Content-Length: ${body.length}\r\n`;
  for (const [name, value] of extraHeaders) {
    checkHeader(name, value);
    head += `${name}: ${value}\r\n`;
  }
  head += "\r\n";
  const out = new Uint8Array(head.length + body.length);
  for (let k = 0; k < head.length; k++) out[k] = head.charCodeAt(k);
  out.set(body, head.length);
  return out;
}
