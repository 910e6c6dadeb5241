// Private helpers of handlers.ts, in one module (each module costs CGI
// start-up time): the process side of a CGI program: the request body on stdin (at most CONTENT_LENGTH bytes), the
// error log on stderr, the response on stdout, and the environment as
// native strings.

import type { ErrorStream, InputStream } from "./types.ts";
import { latin1Decode } from "./_latin1.ts";
import { concat, EMPTY } from "./_gateway.ts";

const NL = 0x0a;
const BLOCK = 65536;

/** A source read synchronously, as `Deno.stdin`. */
export interface SyncReader {
  readSync(p: Uint8Array): number | null;
}

/** A sink written synchronously, as `Deno.stdout` and `Deno.stderr`. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/**
 * Parses CONTENT_LENGTH as CGI gives it: a run of decimal digits. A missing,
 * empty, negative or non-numeric value means no body (0).
 */
export function parseContentLength(value: unknown): number {
  if (typeof value !== "string") return 0;
  const s = value.trim();
  if (!/^[0-9]{1,15}$/.test(s)) return 0;
  return Number(s);
}

/**
 * `wsgi.input` over a synchronous reader: reads lazily, never more than
 * `length` bytes in all, and ends early (never blocks past the end) when the
 * reader does.
 */
export class LimitedInput implements InputStream {
  #src: SyncReader;
  #left: number;
  #buf: Uint8Array = EMPTY;
  #pos = 0;

  constructor(src: SyncReader, length: number) {
    this.#src = src;
    this.#left = length;
  }

  /** Reads the next block from the source into the buffer; false at EOF. */
  #fill(): boolean {
    if (this.#left <= 0) return false;
    const buf = new Uint8Array(Math.min(BLOCK, this.#left));
    const n = this.#readInto(buf);
    if (n === 0) return false;
    this.#buf = buf.subarray(0, n);
    this.#pos = 0;
    return true;
  }

  /** Reads from the source into `p`; 0 at the end (then nothing more is read). */
  #readInto(p: Uint8Array): number {
    let n: number | null;
    try {
      n = this.#src.readSync(p);
    } catch (e) {
      if (e instanceof Deno.errors.BadResource) n = null;
      else throw e;
    }
    if (n === null || n === 0) {
      this.#left = 0;
      return 0;
    }
    this.#left -= n;
    return n;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += out.length;
    return out;
  }

  read(size?: number | null): Uint8Array {
    const buffered = this.#buf.length - this.#pos;
    const most = buffered + Math.max(this.#left, 0);
    const want = size === undefined || size === null || size < 0
      ? most
      : Math.min(size, most);
    if (want <= buffered) return this.#take(want).slice();
    // More than is buffered: what is, then straight from the source into
    // the result (no block in between).
    const out = new Uint8Array(want);
    out.set(this.#take(buffered));
    let got = buffered;
    while (got < want) {
      const n = this.#readInto(out.subarray(got));
      if (n === 0) break;
      got += n;
    }
    return got === want ? out : out.subarray(0, got);
  }

  readinto(buffer: Uint8Array): number {
    const buffered = Math.min(this.#buf.length - this.#pos, buffer.length);
    if (buffered > 0) {
      buffer.set(this.#take(buffered));
      return buffered;
    }
    if (buffer.length === 0 || this.#left <= 0) return 0;
    return this.#readInto(
      buffer.length > this.#left ? buffer.subarray(0, this.#left) : buffer,
    );
  }

  readline(size?: number | null): Uint8Array {
    const limit = size === undefined || size === null || size < 0
      ? Infinity
      : size;
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < limit) {
      if (this.#pos >= this.#buf.length && !this.#fill()) break;
      const avail = this.#buf.length - this.#pos;
      const nl = this.#buf.indexOf(NL, this.#pos);
      let n = nl === -1 ? avail : nl - this.#pos + 1;
      n = Math.min(n, limit - total);
      parts.push(this.#take(n));
      total += n;
      if (nl !== -1 && this.#buf[this.#pos - 1] === NL) break;
    }
    return concat(parts);
  }

  readlines(hint?: number | null): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const line = this.readline();
      if (line.length === 0) break;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint !== null && hint > 0 && total >= hint) {
        break;
      }
    }
    return lines;
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let line = this.readline(); line.length; line = this.readline()) {
      yield line;
    }
  }
}

/** Writes all of `data`, completing partial writes. */
export function writeAllSync(w: SyncWriter, data: Uint8Array): void {
  while (data.length > 0) {
    const n = w.writeSync(data);
    if (n <= 0) {
      throw new Deno.errors.WriteZero("writeSync() wrote 0 bytes");
    }
    data = data.subarray(n);
  }
}

const encoder = new TextEncoder();

/** `wsgi.errors` over a synchronous sink: text goes out as UTF-8, at once. */
export class SyncErrorStream implements ErrorStream {
  #out: SyncWriter;
  constructor(out: SyncWriter) {
    this.#out = out;
  }
  write(s: string): void {
    writeAllSync(this.#out, encoder.encode(String(s)));
  }
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }
  flush(): void {}
}

/** A `write(p): number` sink over a synchronous writer, as `SimpleHandler` wants. */
export function syncSink(w: SyncWriter): { write(p: Uint8Array): number } {
  return { write: (p) => w.writeSync(p) };
}

// ---------------------------------------------------------------- environ

/** Splits a NUL-separated `NAME=value` block (as /proc/self/environ) into native strings. */
export function parseEnvironBlock(raw: Uint8Array): Record<string, string> {
  const env: Record<string, string> = {};
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0, start);
    if (end === -1) end = raw.length;
    const eq = raw.indexOf(0x3d, start);
    if (eq !== -1 && eq < end && eq > start) {
      const key = latin1Decode(raw, start, eq);
      // The first definition wins, as getenv() does.
      if (!Object.hasOwn(env, key)) env[key] = latin1Decode(raw, eq + 1, end);
    }
    start = end + 1;
  }
  return env;
}

/** Re-encodes a string Deno decoded from UTF-8, read as ISO-8859-1. */
export function utf8AsNative(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      const b = encoder.encode(s);
      return latin1Decode(b);
    }
  }
  return s;
}

/**
 * Request variables whose value may be bytes that are not UTF-8 (a
 * percent-decoded path, a raw header). `Deno.env.toObject()` leaves such
 * variables out; they are fetched one by one.
 */
export const REQUEST_VARS: readonly string[] = [
  "PATH_INFO",
  "PATH_TRANSLATED",
  "SCRIPT_NAME",
  "SCRIPT_FILENAME",
  "QUERY_STRING",
  "REQUEST_URI",
  "DOCUMENT_URI",
  "REDIRECT_URL",
  "REDIRECT_QUERY_STRING",
  "REQUEST_METHOD",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "AUTH_TYPE",
  "REMOTE_USER",
  "REMOTE_IDENT",
  "HTTPS",
  "HTTP_HOST",
  "HTTP_COOKIE",
  "HTTP_REFERER",
  "HTTP_USER_AGENT",
  "HTTP_AUTHORIZATION",
  "HTTP_ACCEPT_LANGUAGE",
  "HTTP_CONTENT_DISPOSITION",
];

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  "0": 0x00,
  "\\": 0x5c,
  '"': 0x22,
  "'": 0x27,
};

/**
 * Recovers the bytes of an environment variable that is not valid UTF-8
 * from the message of the `InvalidData` error Deno throws for it, which
 * quotes the raw value in Rust's debug form (`"a\xFFb"`). Returns the value
 * as a native string, or `undefined` if the message is not in that form.
 */
export function bytesFromInvalidDataMessage(
  message: string,
): string | undefined {
  const marker = message.indexOf(': "');
  if (marker === -1 || !message.endsWith('"')) return undefined;
  const body = message.slice(marker + 3, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length;) {
    const c = body[i];
    if (c === '"') return undefined; // an unescaped quote: not the format
    if (c !== "\\") {
      const cp = body.codePointAt(i)!;
      for (const b of encoder.encode(String.fromCodePoint(cp))) out.push(b);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    if (e === "x") {
      const hex = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 4;
    } else if (e === "u" && body[i + 2] === "{") {
      const close = body.indexOf("}", i + 3);
      const hex = close === -1 ? "" : body.slice(i + 3, close);
      if (!/^[0-9a-fA-F]{1,6}$/.test(hex)) return undefined;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) return undefined;
      for (const b of encoder.encode(String.fromCodePoint(cp))) out.push(b);
      i = close + 1;
    } else if (e !== undefined && e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]);
      i += 2;
    } else {
      return undefined;
    }
  }
  return latin1Decode(Uint8Array.from(out));
}
