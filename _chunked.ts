// The chunked transfer coding (RFC 9112 section 7.1): a streaming decoder
// for request bodies, which hands out each run of data as a span of the
// bytes fed in (it never assembles the body), and the encoding helpers for
// response bodies.

import { badRequest, HTTPError } from "./_http_error.ts";
import {
  BACKSLASH,
  bytesOf,
  CR,
  DQUOTE,
  EQUALS,
  FieldScanner,
  HEX,
  hex2,
  isOWS,
  LF,
  QDTEXT,
  SEMI,
  TCHAR,
} from "./_http_syntax.ts";
import { latin1Decode } from "./_latin1.ts";

/** Longest chunk-size line (size, extensions, CRLF excluded); past it: 400. */
export const MAX_CHUNK_LINE = 4096;

/** Most hex digits in a chunk size (leading zeros included); past it: 400. */
const MAX_CHUNK_SIZE_DIGITS = 16;

// Decoder states. The size line is
//   chunk-size *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] ) CRLF
// with ext-value a token or a quoted-string (RFC 9112 section 7.1.1).
const S_SIZE_START = 0; // first hex digit of a chunk-size line
const S_SIZE = 1; // more hex digits
const S_BWS_SEMI = 2; // BWS after the size or a value: only ";" may follow
const S_EXT_NAME_START = 3; // after ";": BWS, then the name's first tchar
const S_EXT_NAME = 4;
const S_EXT_NAME_BWS = 5; // BWS after a name: "=" or ";"
const S_EXT_VALUE_START = 6; // after "=": BWS, then a token or a quote
const S_EXT_TOKEN = 7;
const S_EXT_QUOTED = 8;
const S_EXT_QUOTED_PAIR = 9; // the byte after a backslash
const S_EXT_AFTER_VALUE = 10; // after a value: BWS ";", ";", or CRLF
const S_SIZE_LF = 11; // LF of the chunk-size line
const S_DATA = 12;
const S_DATA_CR = 13;
const S_DATA_LF = 14;
const S_TRAILER = 15; // trailer field lines, then the empty line
const S_DONE = 16;
const S_ERROR = 17;

/**
 * The state after the byte `c` that ends a size, an extension name or an
 * extension value: ";" starts another extension, whitespace must lead to
 * one, CR ends the line; anything else is 400.
 */
function afterExtension(c: number): number {
  if (c === CR) return S_SIZE_LF;
  if (c === SEMI) return S_EXT_NAME_START;
  if (isOWS(c)) return S_BWS_SEMI;
  throw badRequest(extensionError(c));
}

/** The message for a byte that no size line allows where it stands. */
function extensionError(c: number): string {
  return c === LF
    ? "chunk size line must end in CRLF"
    : `invalid character ${hex2(c)} in a chunk size line`;
}

/** The message for a byte that a quoted-string does not allow. */
function quotedError(c: number): string {
  return `invalid character ${hex2(c)} in a quoted chunk extension`;
}

/**
 * Incremental decoder for a chunked request body (RFC 9112 section 7.1).
 * Feed it bytes with {@linkcode ChunkedDecoder.decode} as they arrive; each
 * call stops after a run of data (`buf[dataStart:dataEnd]`, a span of the
 * bytes given, to be used before they are reused), at the end of the body,
 * or at the end of the bytes.
 *
 * Rules: chunk-size is 1 to 16 hex digits; extensions follow the grammar of
 * RFC 9112 section 7.1.1 (`;` name, optionally `=` token or quoted-string,
 * whitespace allowed around `;` and `=`) and are skipped, the whole size
 * line bounded by {@linkcode MAX_CHUNK_LINE}; every line of the body (size
 * line, the line end after the data, trailer lines, the final empty line)
 * must end in CRLF: a bare LF is refused here although a request head may
 * use it throughout, because lenient chunk line ends are a known
 * request-smuggling vector. Trailer fields follow the header rules and are
 * kept in `trailers`, not merged into the head.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ChunkedDecoder } from "./_chunked.ts";
 *
 * const dec = new ChunkedDecoder(1024);
 * const wire = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nGET ...");
 * let i = dec.decode(wire, 0, wire.length); // stops after "abc"
 * assertEquals([dec.dataStart, dec.dataEnd], [3, 6]);
 * i = dec.decode(wire, i, wire.length);
 * assertEquals([dec.done, i], [true, 13]); // the rest is the next request
 * ```
 */
export class ChunkedDecoder {
  /** True once the last chunk and the trailer section were read. */
  done = false;
  /** Total data bytes so far. */
  length = 0;
  /** Trailer fields, in order, as [name, value] (ISO-8859-1). */
  trailers: [string, string][] = [];
  /** Start of the data span found by the last `decode` call. */
  dataStart = 0;
  /** End of that span (equal to `dataStart` when there is none). */
  dataEnd = 0;

  private state = S_SIZE_START;
  private size = 0; // chunk size being read, then bytes of it still to come
  private digits = 0;
  private lineLen = 0; // bytes of the current size line
  private trailerBytes = 0; // trailer lines so far, with their CRLFs
  private line: number[] = []; // the trailer line being read
  private readonly field = new FieldScanner();

  /**
   * A decoder at the start of a chunked body.
   *
   * @param maxBody past this many data bytes, `decode` throws HTTPError(413)
   * @param maxTrailerBytes past this many trailer bytes, HTTPError(431)
   */
  constructor(readonly maxBody: number, readonly maxTrailerBytes = 8192) {}

  /**
   * Decodes from `buf[start:end]`; returns the index reached. It stops
   * early after a run of data (then `dataEnd > dataStart`) or once `done`
   * (the rest belongs to the next request). Throws HTTPError(400) for bad
   * framing, 413 past maxBody, 431 past maxTrailerBytes; after an error it
   * reads nothing more.
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    let i = start;
    let state = this.state;
    this.dataStart = this.dataEnd = start;
    try {
      while (i < end) {
        switch (state) {
          case S_SIZE_START: {
            const d = HEX[buf[i]];
            if (d < 0) {
              throw badRequest("chunk size must start with a hex digit");
            }
            if (d > this.maxBody - this.length) throw this.bodyTooLarge();
            this.size = d;
            this.digits = 1;
            this.lineLen = 1;
            i++;
            state = S_SIZE;
            break;
          }
          case S_SIZE: {
            const c = buf[i];
            const d = HEX[c];
            if (d < 0) {
              state = this.extension(S_SIZE, c);
              i++;
              break;
            }
            if (++this.digits > MAX_CHUNK_SIZE_DIGITS) {
              throw badRequest("chunk size has too many digits");
            }
            const size = this.size * 16 + d;
            if (size > Number.MAX_SAFE_INTEGER) {
              throw badRequest("chunk size too large");
            }
            if (size > this.maxBody - this.length) throw this.bodyTooLarge();
            this.size = size;
            this.lineLen++;
            i++;
            break;
          }
          case S_BWS_SEMI:
          case S_EXT_NAME_START:
          case S_EXT_NAME:
          case S_EXT_NAME_BWS:
          case S_EXT_VALUE_START:
          case S_EXT_TOKEN:
          case S_EXT_QUOTED:
          case S_EXT_QUOTED_PAIR:
          case S_EXT_AFTER_VALUE:
            state = this.extension(state, buf[i]);
            i++;
            break;
          case S_SIZE_LF:
            if (buf[i] !== LF) throw badRequest("bare CR in chunk size line");
            i++;
            state = this.size === 0 ? S_TRAILER : S_DATA;
            break;
          case S_DATA: {
            const n = Math.min(this.size, end - i);
            this.dataStart = i;
            i += n;
            this.dataEnd = i;
            this.size -= n;
            this.length += n;
            this.state = this.size === 0 ? S_DATA_CR : S_DATA;
            return i;
          }
          case S_DATA_CR:
            if (buf[i] !== CR) {
              throw badRequest("chunk data not followed by CRLF");
            }
            i++;
            state = S_DATA_LF;
            break;
          case S_DATA_LF:
            if (buf[i] !== LF) {
              throw badRequest("chunk data not followed by CRLF");
            }
            i++;
            state = S_SIZE_START;
            break;
          case S_TRAILER:
            i = this.trailer(buf, i, end);
            if (this.done) {
              this.state = S_DONE;
              return i;
            }
            break;
          default: // S_DONE, S_ERROR
            return i;
        }
      }
    } catch (e) {
      this.state = S_ERROR;
      throw e;
    }
    this.state = state;
    return i;
  }

  /**
   * The state after byte `c` of a size line's extensions (RFC 9112
   * section 7.1.1), from `state` (S_SIZE: the byte after the digits);
   * throws HTTPError(400) for a byte the grammar does not allow there.
   * Counts the byte against MAX_CHUNK_LINE, the CR that ends the line
   * excepted.
   */
  private extension(state: number, c: number): number {
    if (c !== CR && ++this.lineLen > MAX_CHUNK_LINE) {
      throw badRequest("chunk size line too long");
    }
    switch (state) {
      case S_BWS_SEMI: // whitespace must lead to ";"
        if (c === SEMI) return S_EXT_NAME_START;
        if (isOWS(c)) return state;
        throw badRequest("whitespace in a chunk size line not followed by ;");
      case S_EXT_NAME_START:
        if (TCHAR[c] === 1) return S_EXT_NAME;
        if (isOWS(c)) return state;
        throw badRequest(
          c === CR ? "empty chunk extension" : extensionError(c),
        );
      case S_EXT_NAME:
        if (TCHAR[c] === 1) return state;
        if (c === EQUALS) return S_EXT_VALUE_START;
        if (isOWS(c)) return S_EXT_NAME_BWS;
        return afterExtension(c);
      case S_EXT_NAME_BWS:
        if (c === EQUALS) return S_EXT_VALUE_START;
        if (c === SEMI) return S_EXT_NAME_START;
        if (isOWS(c)) return state;
        throw badRequest(extensionError(c));
      case S_EXT_VALUE_START:
        if (c === DQUOTE) return S_EXT_QUOTED;
        if (TCHAR[c] === 1) return S_EXT_TOKEN;
        if (isOWS(c)) return state;
        throw badRequest("missing chunk extension value after =");
      case S_EXT_TOKEN:
        return TCHAR[c] === 1 ? state : afterExtension(c);
      case S_EXT_QUOTED:
        if (c === DQUOTE) return S_EXT_AFTER_VALUE;
        if (c === BACKSLASH) return S_EXT_QUOTED_PAIR;
        if (QDTEXT[c] === 1) return state;
        throw badRequest(quotedError(c));
      case S_EXT_QUOTED_PAIR:
        if (QDTEXT[c] === 1 || c === DQUOTE || c === BACKSLASH) {
          return S_EXT_QUOTED;
        }
        throw badRequest(quotedError(c));
      default: // S_SIZE, S_EXT_AFTER_VALUE
        return afterExtension(c);
    }
  }

  /** Reads trailer lines from `buf[i:end]`; returns the index reached. */
  private trailer(buf: Uint8Array, i: number, end: number): number {
    const line = this.line;
    while (i < end) {
      const c = buf[i++];
      line.push(c);
      const n = line.length;
      if (c !== LF) {
        // A field line of n bytes so far has at least one more (its LF);
        // a lone CR may be the empty line that ends the trailers.
        if (
          n + 1 > this.maxTrailerBytes - this.trailerBytes &&
          !(n === 1 && c === CR)
        ) {
          throw this.tooLarge();
        }
        continue;
      }
      if (n < 2 || line[n - 2] !== CR) {
        throw badRequest("trailer line must end in CRLF");
      }
      if (n === 2) {
        this.done = true;
        line.length = 0;
        return i;
      }
      const bytes = Uint8Array.from(line);
      line.length = 0;
      const field = this.field;
      if (field.scan(bytes, 0, n, false) !== n) {
        throw badRequest("malformed trailer");
      }
      this.trailerBytes += n;
      this.trailers.push([
        latin1Decode(bytes, 0, field.nameEnd),
        latin1Decode(bytes, field.valueStart, field.valueEnd),
      ]);
    }
    return i;
  }

  /** The 413 for a body past maxBody. */
  private bodyTooLarge(): HTTPError {
    return new HTTPError(
      413,
      `request body too large (more than ${this.maxBody} bytes)`,
    );
  }

  /** The 431 for a trailer section past maxTrailerBytes. */
  private tooLarge(): HTTPError {
    return new HTTPError(
      431,
      `trailer section too large (more than ${this.maxTrailerBytes} bytes)`,
    );
  }
}

// ---------------------------------------------------------------------------
// Encoding (response bodies)

/** The last chunk and the empty trailer section: `0\r\n\r\n`. */
export const LAST_CHUNK: Uint8Array = bytesOf("0\r\n\r\n");

/** CRLF, which follows the data of every chunk. */
export const CRLF: Uint8Array = bytesOf("\r\n");

const HEX_DIGITS = bytesOf("0123456789abcdef");

/**
 * Writes the chunk-size line for a chunk of `size` bytes (lowercase hex,
 * then CRLF) into `out` at `offset`; returns the offset after it. Needs at
 * most 16 bytes (14 hex digits for sizes up to 2^53 - 1, and CRLF).
 */
export function writeChunkHeader(
  size: number,
  out: Uint8Array,
  offset: number,
): number {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`invalid chunk size ${size}`);
  }
  let n = 1;
  for (let v = size; v >= 16; v = Math.floor(v / 16)) n++;
  for (let k = n - 1, v = size; k >= 0; k--, v = Math.floor(v / 16)) {
    out[offset + k] = HEX_DIGITS[v % 16];
  }
  out[offset + n] = CR;
  out[offset + n + 1] = LF;
  return offset + n + 2;
}

/** The chunk-size line for a chunk of `size` bytes, e.g. `1a\r\n`. */
export function chunkHeader(size: number): Uint8Array {
  const out = new Uint8Array(16);
  return out.subarray(0, writeChunkHeader(size, out, 0));
}

/**
 * One whole chunk in a single new buffer: size line, `data`, CRLF. An empty
 * `data` would read as the last chunk, so it is refused (send nothing, or
 * {@linkcode LAST_CHUNK} to end the body).
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) {
    throw new RangeError("an empty chunk would end the body");
  }
  const out = new Uint8Array(data.length + 18);
  let o = writeChunkHeader(data.length, out, 0);
  out.set(data, o);
  o += data.length;
  out[o++] = CR;
  out[o++] = LF;
  return out.subarray(0, o);
}
