// Output side of one simple_server connection: queues the status line,
// headers and body blocks that a handler writes, frames the body (plain,
// chunked, or discarded for HEAD), and sends what is queued in as few
// conn.write calls as possible (one for a small response).

import { chunkHeader, CRLF, LAST_CHUNK } from "./_http.ts";

const COALESCE = 64 * 1024;

/** Body framing of the response being written. */
export const Framing = {
  /** Status line and headers are being written. */
  Head: 0,
  /** Body bytes go out as they are (Content-Length or close-delimited). */
  Plain: 1,
  /** Body bytes go out as HTTP/1.1 chunks. */
  Chunked: 2,
  /** Body bytes are dropped (HEAD, 204, 304). */
  Discard: 3,
} as const;
/** One of the {@linkcode Framing} values. */
export type Framing = typeof Framing[keyof typeof Framing];

/** Writes all of `data`, however many calls it takes. */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let off = await conn.write(data);
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Queues and sends one connection's output. */
export class ResponseWriter {
  readonly conn: Deno.Conn;
  framing: Framing = Framing.Head;
  /** Body bytes still allowed by Content-Length; -1 when there is none. */
  remaining = -1;
  /** Body bytes the app wrote past its Content-Length (dropped). */
  overflow = 0;
  #parts: Uint8Array[] = [];
  #len = 0;
  #out: Uint8Array | null = null;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Starts a new response. */
  reset(): void {
    this.framing = Framing.Head;
    this.remaining = -1;
    this.overflow = 0;
  }

  /** Queues bytes of the status line and headers, or of the body. */
  queue(data: Uint8Array): void {
    let n = data.length;
    if (n === 0) return;
    switch (this.framing) {
      case Framing.Head:
        break;
      case Framing.Discard:
        return;
      case Framing.Plain:
        if (this.remaining >= 0) {
          if (n > this.remaining) {
            this.overflow += n - this.remaining;
            data = data.subarray(0, this.remaining);
            n = data.length;
            if (n === 0) return;
          }
          this.remaining -= n;
        }
        break;
      case Framing.Chunked: {
        this.#push(chunkHeader(n));
        this.#push(data);
        this.#push(CRLF);
        return;
      }
    }
    this.#push(data);
  }

  /** `HandlerOutput.write`: queues all of `p`. */
  write(p: Uint8Array): number {
    this.queue(p);
    return p.length;
  }

  /** Queues the end of a chunked body. */
  endChunked(): void {
    if (this.framing === Framing.Chunked) this.#push(LAST_CHUNK);
  }

  #push(data: Uint8Array): void {
    this.#parts.push(data);
    this.#len += data.length;
  }

  /** True when nothing is queued. */
  get empty(): boolean {
    return this.#len === 0;
  }

  /** Sends everything queued; `undefined` when nothing was. */
  flush(): Promise<void> | undefined {
    const parts = this.#parts;
    if (parts.length === 0) return undefined;
    const len = this.#len;
    this.#len = 0;
    if (parts.length === 1) {
      const only = parts[0];
      parts.length = 0;
      return writeAll(this.conn, only);
    }
    if (len <= COALESCE) {
      let out = this.#out;
      if (out === null || out.length < len) {
        out = this.#out = new Uint8Array(Math.max(len, 4096));
      }
      let off = 0;
      for (let i = 0; i < parts.length; i++) {
        out.set(parts[i], off);
        off += parts[i].length;
      }
      parts.length = 0;
      return writeAll(this.conn, out.subarray(0, len));
    }
    const copy = parts.slice();
    parts.length = 0;
    return this.#writeMany(copy);
  }

  async #writeMany(parts: Uint8Array[]): Promise<void> {
    // Small leading parts (status line, headers) go out together.
    let i = 0;
    let small = 0;
    while (i < parts.length && small + parts[i].length <= COALESCE) {
      small += parts[i++].length;
    }
    if (i > 1) {
      const head = new Uint8Array(small);
      let off = 0;
      for (let j = 0; j < i; j++) {
        head.set(parts[j], off);
        off += parts[j].length;
      }
      await writeAll(this.conn, head);
    } else i = 0;
    for (; i < parts.length; i++) await writeAll(this.conn, parts[i]);
  }
}
