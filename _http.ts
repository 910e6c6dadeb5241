// The strict HTTP/1.x request parser behind simple_server.ts: the request
// head (RFC 9112 sections 2-6) and the chunked request body (section 7.1).
//
// Everything runs on bytes: Uint8Array indices, lookup tables for the
// character classes, no regular expressions and no per-byte string
// building. The head is read as ISO-8859-1 once, when it is complete, and
// every name and value is a slice of that one string.
//
// Strictness follows llhttp's strict mode and h11 where RFC 9112 leaves a
// choice, with one leniency kept from Python's http.server: a bare LF ends a
// line of the request head. Inside a chunked body only CRLF ends a line.

import { latin1Decode } from "./_latin1.ts";
import { checkHeader } from "./_field.ts";
import { reasonPhrase } from "./_status.ts";

/** A request the server must refuse: answer `status`, then close. */
export class HTTPError extends Error {
  /** The status to answer with (400, 413, 414, 431, 501, 505, ...). */
  readonly status: number;
  /** An error answered with `status`; `message` goes to the log and the body. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HTTPError";
    this.status = status;
  }
}

/** Limits on the request head. */
export interface HeadLimits {
  /** Longest request line in bytes (CRLF excluded); past it: 414. */
  maxRequestLine: number;
  /**
   * Largest header section in bytes (request line excluded); past it: 431.
   * Counted: every header field line with its line end; not counted: the
   * request line and the empty line that ends the head.
   */
  maxHeaderBytes: number;
  /** Most header fields; past it: 431. */
  maxHeaders: number;
}

/**
 * The default limits: 64 KiB request line (Python's http.server `_MAXLINE`),
 * 64 KiB for the whole header section (http.server bounds each line at
 * 64 KiB instead; Node allows 16 KiB in all), 100 fields (http.server's
 * `_MAXHEADERS`).
 */
export const DEFAULT_HEAD_LIMITS: Readonly<HeadLimits> = Object.freeze({
  maxRequestLine: 65536,
  maxHeaderBytes: 65536,
  maxHeaders: 100,
});

/** Most empty lines ignored before a request line (RFC 9112 section 2.2). */
export const MAX_LEADING_EMPTY_LINES = 8;

/** Longest chunk-size line (size, extensions, CRLF excluded); past it: 400. */
export const MAX_CHUNK_LINE = 4096;

/** A parsed, validated request head. */
export interface RequestHead {
  /** The method token, e.g. "GET". */
  method: string;
  /** The raw request-target as sent, read as ISO-8859-1. */
  target: string;
  /** The version as sent, e.g. "HTTP/1.1" (or "HTTP/1.2", answered as 1.1). */
  version: string;
  /** Major version: always 1 (other majors are refused with 505). */
  major: number;
  /**
   * Minor version: 0 or 1. A request sent as HTTP/1.2 to HTTP/1.9 is
   * handled as HTTP/1.1 (RFC 9110 section 2.5), so `minor` is 1 for it.
   */
  minor: number;
  /**
   * Header fields in order: names as sent (ISO-8859-1), values with
   * leading/trailing whitespace removed (ISO-8859-1).
   */
  headers: [string, string][];
  /** The validated Content-Length, or -1 when absent (or chunked). */
  contentLength: number;
  /** True when the body is chunked (Transfer-Encoding ending in chunked, HTTP/1.1). */
  chunked: boolean;
  /** True when the connection may stay open after this request. */
  keepAlive: boolean;
  /** True when the client sent `Expect: 100-continue`. */
  expectContinue: boolean;
  /** Index in the buffer just past the blank line that ends the head. */
  end: number;
}

// ---------------------------------------------------------------------------
// Character classes

const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const COMMA = 0x2c;
const COLON = 0x3a;
const SEMI = 0x3b;

/** tchar (RFC 9110 section 5.6.2): the bytes of a token. */
const TCHAR = new Uint8Array(256);
/**
 * Bytes allowed in a request-target: VCHAR (1) and obs-text (2, kept raw).
 * The 2 bit tells that the head is not ASCII.
 */
const TARGET = new Uint8Array(256);
/** Bytes allowed in a field value: field-vchar, SP and HTAB (1 or 2). */
const VALUE = new Uint8Array(256);
/**
 * Bytes allowed in a Host value (RFC 9110 section 7.2: uri-host [":"
 * port]): unreserved, pct-encoded, sub-delims, ":" and the brackets of an
 * IP literal. No "/", "?", "#", "@", whitespace or obs-text.
 */
const HOST = new Uint8Array(256);
for (const c of "-._~%!$&'()*+,;=:[]") HOST[c.charCodeAt(0)] = 1;
/** Value of a hex digit, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) {
  TCHAR[c] = 1;
  HEX[c] = c - 0x30;
}
for (let c = 0x41; c <= 0x5a; c++) {
  TCHAR[c] = 1;
  TCHAR[c + 0x20] = 1;
  HOST[c] = 1;
  HOST[c + 0x20] = 1;
}
for (let c = 0x30; c <= 0x39; c++) HOST[c] = 1;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}
for (let c = 0x21; c <= 0xff; c++) {
  if (c !== 0x7f) {
    TARGET[c] = VALUE[c] = c < 0x80 ? 1 : 2;
  }
}
VALUE[SP] = 1;
VALUE[HTAB] = 1;

function bytesOf(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const N_HOST = bytesOf("host");
const N_EXPECT = bytesOf("expect");
const N_CONNECTION = bytesOf("connection");
const N_CONTENT_LENGTH = bytesOf("content-length");
const N_TRANSFER_ENCODING = bytesOf("transfer-encoding");
const N_COOKIE = bytesOf("cookie");
const N_AUTHORIZATION = bytesOf("authorization");
const N_PROXY_AUTHORIZATION = bytesOf("proxy-authorization");
const V_CHUNKED = bytesOf("chunked");
const V_CLOSE = bytesOf("close");
const V_KEEP_ALIVE = bytesOf("keep-alive");
const V_100_CONTINUE = bytesOf("100-continue");

/**
 * True if `buf[s:e]` equals `lower` ASCII-case-insensitively. `lower` holds
 * only lowercase letters, digits and "-". `| 0x20` folds A-Z onto a-z; the
 * only other bytes it maps onto those are CTLs (0x0D onto "-", 0x10-0x19
 * onto digits), refused here.
 */
function eqLower(buf: Uint8Array, s: number, e: number, lower: Uint8Array) {
  const n = lower.length;
  if (e - s !== n) return false;
  for (let k = 0; k < n; k++) {
    const c = buf[s + k];
    if ((c | 0x20) !== lower[k] || c < 0x20) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isOWS(c: number): boolean {
  return c === SP || c === HTAB;
}

function hex2(c: number): string {
  return "0x" + c.toString(16).toUpperCase().padStart(2, "0");
}

function bad(message: string): HTTPError {
  return new HTTPError(400, message);
}

// ---------------------------------------------------------------------------
// Field lines, shared by the head and the chunked trailer section

// Outputs of scanField (module scratch: the parser is synchronous).
let fNameEnd = 0;
let fValueStart = 0;
let fValueEnd = 0;
let fHigh = 0; // 2 if the value has a byte above 0x7F

/**
 * Scans one field line `name ":" OWS value OWS (CRLF | LF)` starting at `i`
 * (which is not the start of an empty line). Returns the index after the
 * line end, or -1 if the line is not complete in `buf[i:end]`; sets
 * fNameEnd, fValueStart, fValueEnd. Throws HTTPError(400) for a bad line.
 */
function scanField(
  buf: Uint8Array,
  i: number,
  end: number,
  bareLF: boolean,
): number {
  const s = i;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === end) return -1;
  let c = buf[i];
  if (c !== COLON) {
    if (i === s) {
      if (isOWS(c)) {
        throw bad(
          "header line starts with whitespace (obsolete line folding is not accepted)",
        );
      }
      if (c === COLON) throw bad("empty header field name");
    }
    if (isOWS(c)) {
      throw bad("whitespace between header field name and colon");
    }
    if (c === CR || c === LF) throw bad("header line without a colon");
    throw bad(`invalid character ${hex2(c)} in header field name`);
  }
  if (i === s) throw bad("empty header field name");
  fNameEnd = i;
  i++;
  while (i < end && isOWS(buf[i])) i++;
  const vs = i;
  let high = 0;
  for (; i < end; i++) {
    const t = VALUE[buf[i]];
    if (t === 0) break;
    high |= t;
  }
  fHigh = high;
  if (i === end) return -1;
  c = buf[i];
  let next: number;
  if (c === CR) {
    if (i + 1 === end) return -1;
    if (buf[i + 1] !== LF) throw bad("bare CR in header field value");
    next = i + 2;
  } else if (c === LF) {
    if (!bareLF) throw bad("field line must end in CRLF");
    next = i + 1;
  } else {
    throw bad(`invalid character ${hex2(c)} in header field value`);
  }
  while (i > vs && isOWS(buf[i - 1])) i--;
  fValueStart = vs;
  fValueEnd = i;
  return next;
}

/**
 * Checks the bytes `buf[i:end]` of a line whose start was already
 * validated: finds its LF, and refuses early the bytes that no line may
 * hold (CTLs other than HTAB, DEL, a CR not followed by LF). Returns the
 * index of the LF, or -1.
 */
function findLineEnd(buf: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = buf[i];
    if (c === LF) return i;
    if (c < SP && c !== HTAB) {
      if (c !== CR) throw bad(`invalid control character ${hex2(c)}`);
      if (i + 1 < end && buf[i + 1] !== LF) throw bad("bare CR");
    } else if (c === 0x7f) {
      throw bad("invalid control character 0x7F");
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------
// The request head

/**
 * A resumable request-head parser for one connection.
 *
 * {@linkcode parseRequestHead} re-scans the head from its start on every
 * call. A `HeadParser` remembers how far it got, so a head that arrives a
 * few bytes at a time costs linear time in all. Call `parse` with the same
 * bytes from `start` (more appended each time; `start` may move if the
 * caller moves the bytes); it starts afresh after it returns a head or
 * throws, or after `reset()`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HEAD_LIMITS, HeadParser } from "./_http.ts";
 *
 * const parser = new HeadParser(DEFAULT_HEAD_LIMITS);
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * parser.parse(bytes, 0, 10); // null: incomplete
 * const head = parser.parse(bytes, 0, bytes.length);
 * console.log(head?.method, head?.end); // "GET" 27
 * ```
 */
export class HeadParser {
  // Offsets are relative to `start`, so the caller may move its bytes.
  private phase = 0; // 0: empty lines / request line; 1: header lines
  private pos = 0; // start of the line being parsed
  private scanned = 0; // partial line at `pos` checked up to here (0: no)
  private emptyLines = 0;
  private rlStart = 0;
  private methodEnd = 0;
  private targetStart = 0;
  private targetEnd = 0;
  private hdrStart = 0;
  private major = 1;
  private minor = 1;
  private nFields = 0;
  private fields: number[] = []; // 4 per field, relative to rlStart
  private hostCount = 0;
  private contentLength = -1;
  private teSeen = false;
  private teChunked = 0;
  private teLastChunked = false;
  private teOther = false;
  private connClose = false;
  private connKeepAlive = false;
  private expect100 = false;
  private high = 0; // 2 once a byte above 0x7F was seen
  private rawMinor = 1; // the minor version digit as sent
  private whole: string | null = null; // the head, decoded, in finish

  /**
   * A parser with nothing parsed yet.
   *
   * @param limits the limits to enforce; read on every call
   */
  constructor(public limits: Readonly<HeadLimits> = DEFAULT_HEAD_LIMITS) {}

  /** Forgets any partial head. */
  reset(): void {
    this.phase = 0;
    this.pos = 0;
    this.scanned = 0;
    this.emptyLines = 0;
    this.rlStart = 0;
    this.nFields = 0;
    this.hostCount = 0;
    this.contentLength = -1;
    this.teSeen = false;
    this.teChunked = 0;
    this.teLastChunked = false;
    this.teOther = false;
    this.connClose = false;
    this.connKeepAlive = false;
    this.expect100 = false;
    this.high = 0;
  }

  /**
   * Parses the request head in `buf[start:end]`, resuming where the last
   * call stopped. Same contract as {@linkcode parseRequestHead}.
   */
  parse(buf: Uint8Array, start: number, end: number): RequestHead | null {
    try {
      const head = this.run(buf, start, end);
      if (head !== null) this.reset();
      return head;
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  /** Parses from where the last call stopped; null if incomplete. */
  private run(buf: Uint8Array, start: number, end: number): RequestHead | null {
    const limits = this.limits;
    let i = start + this.pos;
    if (this.phase === 0) {
      if (this.scanned === 0) {
        // Empty lines before the request line.
        while (i < end) {
          const c = buf[i];
          if (c === LF) i++;
          else if (c === CR) {
            if (i + 1 === end) break;
            if (buf[i + 1] !== LF) throw bad("bare CR before the request line");
            i += 2;
          } else break;
          if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) {
            throw bad("too many empty lines before the request line");
          }
        }
        this.pos = i - start;
        if (i >= end || buf[i] === CR) return null;
      } else {
        const lf = findLineEnd(buf, start + this.scanned, end);
        if (lf < 0) return this.partialRequestLine(buf, start, end);
      }
      this.scanned = 0;
      this.rlStart = i - start;
      const next = this.requestLine(buf, i, end);
      if (next < 0) return this.partialRequestLine(buf, start, end);
      i = next;
      this.phase = 1;
      this.pos = this.hdrStart = i - start;
      this.scanned = 0;
    } else if (this.scanned !== 0) {
      const lf = findLineEnd(buf, start + this.scanned, end);
      if (lf < 0) return this.partialField(buf, start, end);
      this.scanned = 0;
    }
    const maxHeaderBytes = limits.maxHeaderBytes;
    const hdrStart = start + this.hdrStart;
    const base = start + this.rlStart;
    const fields = this.fields;
    for (;;) {
      if (i >= end) {
        this.pos = i - start;
        return null;
      }
      const c = buf[i];
      if (c === CR || c === LF) {
        if (c === CR) {
          if (i + 1 === end) {
            this.pos = i - start;
            return null;
          }
          if (buf[i + 1] !== LF) throw bad("bare CR in the header section");
          i += 2;
        } else i++;
        return this.finish(buf, base, i);
      }
      if (this.nFields >= limits.maxHeaders) {
        throw new HTTPError(
          431,
          `too many header fields (more than ${limits.maxHeaders})`,
        );
      }
      const next = scanField(buf, i, end, true);
      if (next < 0) {
        this.pos = i - start;
        return this.partialField(buf, start, end);
      }
      if (next - hdrStart > maxHeaderBytes) {
        throw new HTTPError(
          431,
          `header section too large (more than ${maxHeaderBytes} bytes)`,
        );
      }
      this.high |= fHigh;
      const k = this.nFields++ * 4;
      fields[k] = i - base;
      fields[k + 1] = fNameEnd - base;
      fields[k + 2] = fValueStart - base;
      fields[k + 3] = fValueEnd - base;
      const n = fNameEnd - i;
      if (
        n === 4 || n === 6 || n === 10 || n === 13 || n === 14 || n === 17 ||
        n === 19
      ) {
        if (this.special(buf, i, fNameEnd, fValueStart, fValueEnd)) {
          fields[k + 2] = ~fields[k + 2]; // a secret: not interned
        }
      }
      i = next;
    }
  }

  /** The request line is incomplete: enforce the limit, remember, wait. */
  private partialRequestLine(
    buf: Uint8Array,
    start: number,
    end: number,
  ): null {
    const ls = start + this.pos;
    const n = end - ls - (buf[end - 1] === CR ? 1 : 0);
    if (n > this.limits.maxRequestLine) {
      throw new HTTPError(
        414,
        `request line too long (more than ${this.limits.maxRequestLine} bytes)`,
      );
    }
    this.scanned = end - start - (buf[end - 1] === CR ? 1 : 0);
    if (this.scanned <= this.pos) this.scanned = 0;
    return null;
  }

  /** A field line is incomplete: enforce the limits, remember, wait. */
  private partialField(buf: Uint8Array, start: number, end: number): null {
    // A line of n bytes so far ends at least one byte (its LF) later.
    const total = end - (start + this.hdrStart) + 1;
    if (total > this.limits.maxHeaderBytes) {
      throw new HTTPError(
        431,
        `header section too large (more than ${this.limits.maxHeaderBytes} bytes)`,
      );
    }
    this.scanned = end - start - (buf[end - 1] === CR ? 1 : 0);
    if (this.scanned <= this.pos) this.scanned = 0;
    return null;
  }

  /**
   * Parses `method SP request-target SP HTTP-version (CRLF | LF)` at `ls`.
   * Returns the index after the line end, or -1 if incomplete.
   */
  private requestLine(buf: Uint8Array, ls: number, end: number): number {
    let i = ls;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i === end) return -1;
    let c = buf[i];
    if (c !== SP) {
      if (c === LF || c === CR) {
        throw bad("malformed request line (no request target)");
      }
      throw bad(`invalid character ${hex2(c)} in method`);
    }
    if (i === ls) throw bad("empty method (request line starts with SP)");
    const methodEnd = i++;
    const ts = i;
    let high = 0;
    for (; i < end; i++) {
      const t = TARGET[buf[i]];
      if (t === 0) break;
      high |= t;
    }
    if (i === end) return -1;
    c = buf[i];
    if (c !== SP) {
      if (c === LF || c === CR) {
        throw bad("malformed request line (no HTTP version)");
      }
      throw bad(`invalid character ${hex2(c)} in request target`);
    }
    if (i === ts) throw bad("empty request target");
    this.high = high;
    const te = i++;
    // "HTTP/" DIGIT "." DIGIT, then CRLF or LF.
    const vs = i;
    if (
      vs + 8 <= end && buf[vs] === 0x48 && buf[vs + 1] === 0x54 &&
      buf[vs + 2] === 0x54 && buf[vs + 3] === 0x50 && buf[vs + 4] === 0x2f &&
      buf[vs + 6] === 0x2e && isDigit(buf[vs + 5]) && isDigit(buf[vs + 7])
    ) i = vs + 8;
    for (; i < end && i < vs + 8; i++) {
      c = buf[i];
      const k = i - vs;
      const ok = k < 5
        ? c === HTTP_SLASH[k]
        : k === 6
        ? c === 0x2e
        : c >= 0x30 && c <= 0x39;
      if (!ok) throw bad("malformed HTTP version in request line");
    }
    if (i === end) return -1;
    c = buf[i];
    let next: number;
    if (c === LF) next = i + 1;
    else if (c === CR) {
      if (i + 1 === end) return -1;
      if (buf[i + 1] !== LF) throw bad("bare CR in request line");
      next = i + 2;
    } else {
      throw bad("malformed HTTP version in request line");
    }
    if (i - ls > this.limits.maxRequestLine) {
      throw new HTTPError(
        414,
        `request line too long (more than ${this.limits.maxRequestLine} bytes)`,
      );
    }
    const major = buf[vs + 5] - 0x30;
    const minor = buf[vs + 7] - 0x30;
    if (major !== 1) {
      throw new HTTPError(505, `HTTP version ${major}.${minor} not supported`);
    }
    this.major = 1;
    this.minor = minor === 0 ? 0 : 1;
    this.rawMinor = minor;
    this.methodEnd = methodEnd - ls;
    this.targetStart = ts - ls;
    this.targetEnd = te - ls;
    return next;
  }

  /**
   * Host, Expect, Connection, Content-Length, Transfer-Encoding; returns
   * true for a field whose value is a secret (Cookie, Authorization,
   * Proxy-Authorization).
   */
  private special(
    buf: Uint8Array,
    ns: number,
    ne: number,
    vs: number,
    ve: number,
  ): boolean {
    switch (ne - ns) {
      case 4:
        if (eqLower(buf, ns, ne, N_HOST)) {
          if (++this.hostCount > 1) throw bad("more than one Host header");
          for (let k = vs; k < ve; k++) {
            if (HOST[buf[k]] !== 1) throw bad("invalid Host header");
          }
        }
        return false;
      case 6:
        if (eqLower(buf, ns, ne, N_COOKIE)) return true;
        if (eqLower(buf, ns, ne, N_EXPECT)) {
          if (eqLower(buf, vs, ve, V_100_CONTINUE)) this.expect100 = true;
          else if (ve > vs) {
            throw new HTTPError(
              417,
              "unsupported expectation (only 100-continue is)",
            );
          }
        }
        return false;
      case 13:
        return eqLower(buf, ns, ne, N_AUTHORIZATION);
      case 19:
        return eqLower(buf, ns, ne, N_PROXY_AUTHORIZATION);
      case 10:
        if (eqLower(buf, ns, ne, N_CONNECTION)) this.connection(buf, vs, ve);
        return false;
      case 14:
        if (eqLower(buf, ns, ne, N_CONTENT_LENGTH)) {
          this.contentLengthField(buf, vs, ve);
        }
        return false;
      case 17:
        if (eqLower(buf, ns, ne, N_TRANSFER_ENCODING)) {
          this.transferEncoding(buf, vs, ve);
        }
        return false;
    }
    return false;
  }

  /** Notes the `close` and `keep-alive` tokens of a Connection value. */
  private connection(buf: Uint8Array, i: number, ve: number): void {
    while (i < ve) {
      while (i < ve && (isOWS(buf[i]) || buf[i] === COMMA)) i++;
      const s = i;
      while (i < ve && buf[i] !== COMMA) i++;
      let e = i;
      while (e > s && isOWS(buf[e - 1])) e--;
      if (eqLower(buf, s, e, V_CLOSE)) this.connClose = true;
      else if (eqLower(buf, s, e, V_KEEP_ALIVE)) this.connKeepAlive = true;
    }
  }

  /** Validates a Content-Length value against any earlier one. */
  private contentLengthField(buf: Uint8Array, i: number, ve: number): void {
    // 1*DIGIT, or a list of identical ones (RFC 9112 section 6.3, step 5).
    if (i === ve) throw bad("empty Content-Length");
    for (;;) {
      let v = 0;
      const s = i;
      while (i < ve) {
        const d = buf[i] - 0x30;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
        if (v > Number.MAX_SAFE_INTEGER) throw bad("Content-Length too large");
        i++;
      }
      if (i === s) throw bad("invalid Content-Length");
      if (this.contentLength !== -1 && this.contentLength !== v) {
        throw bad("conflicting Content-Length values");
      }
      this.contentLength = v;
      while (i < ve && isOWS(buf[i])) i++;
      if (i === ve) return;
      if (buf[i] !== COMMA) throw bad("invalid Content-Length");
      i++;
      while (i < ve && isOWS(buf[i])) i++;
    }
  }

  /** Notes the codings of a Transfer-Encoding value; 400 if malformed. */
  private transferEncoding(buf: Uint8Array, i: number, ve: number): void {
    this.teSeen = true;
    if (this.minor === 0) {
      throw bad("Transfer-Encoding in an HTTP/1.0 request");
    }
    if (i === ve) throw bad("empty Transfer-Encoding");
    for (;;) {
      const s = i;
      while (i < ve && TCHAR[buf[i]] === 1) i++;
      if (i === s) throw bad("malformed Transfer-Encoding");
      const e = i;
      while (i < ve && isOWS(buf[i])) i++;
      if (i < ve && buf[i] === SEMI) {
        // transfer-parameters: chunked has none; any other coding is
        // refused below, so the parameters need no closer reading.
        if (eqLower(buf, s, e, V_CHUNKED)) {
          throw bad("parameters on the chunked transfer coding");
        }
        while (i < ve && buf[i] !== COMMA) i++;
        this.teOther = true;
        this.teLastChunked = false;
      } else if (eqLower(buf, s, e, V_CHUNKED)) {
        this.teChunked++;
        this.teLastChunked = true;
      } else {
        this.teOther = true;
        this.teLastChunked = false;
      }
      if (i === ve) return;
      if (buf[i] !== COMMA) throw bad("malformed Transfer-Encoding");
      i++;
      while (i < ve && isOWS(buf[i])) i++;
      if (i === ve) throw bad("malformed Transfer-Encoding");
    }
  }

  /** The head is complete at `headEnd`: check framing, build the result. */
  private finish(buf: Uint8Array, base: number, headEnd: number): RequestHead {
    const minor = this.minor;
    let chunked = false;
    let contentLength = this.contentLength;
    if (this.teSeen) {
      if (contentLength !== -1) {
        throw bad("both Transfer-Encoding and Content-Length");
      }
      if (!this.teLastChunked) {
        throw bad("Transfer-Encoding does not end in chunked");
      }
      if (this.teChunked > 1) throw bad("chunked applied more than once");
      if (this.teOther) {
        throw new HTTPError(
          501,
          "unsupported transfer coding (only chunked is)",
        );
      }
      chunked = true;
      contentLength = -1;
    }
    if (minor === 1 && this.hostCount === 0) {
      throw bad("missing Host header");
    }
    const fields = this.fields;
    const n = this.nFields;
    const headers: [string, string][] = [];
    this.whole = null;
    for (let k = 0; k < 4 * n; k += 4) {
      const vs = fields[k + 2];
      headers.push([
        this.text(buf, base, headEnd, fields[k], fields[k + 1]),
        vs >= 0
          ? this.text(buf, base, headEnd, vs, fields[k + 3])
          : this.secret(buf, base, headEnd, ~vs, fields[k + 3]),
      ]);
    }
    const verStart = this.targetEnd + 1;
    const rawMinor = this.rawMinor;
    const head: RequestHead = {
      method: this.methodEnd === 3 && buf[base] === 0x47 &&
          buf[base + 1] === 0x45 && buf[base + 2] === 0x54
        ? "GET"
        : this.text(buf, base, headEnd, 0, this.methodEnd),
      target: this.text(buf, base, headEnd, this.targetStart, this.targetEnd),
      version: rawMinor === 1
        ? "HTTP/1.1"
        : rawMinor === 0
        ? "HTTP/1.0"
        : this.text(buf, base, headEnd, verStart, verStart + 8),
      major: this.major,
      minor,
      headers,
      contentLength,
      chunked,
      keepAlive: minor === 1
        ? !this.connClose
        : this.connKeepAlive && !this.connClose,
      expectContinue: this.expect100 && minor === 1,
      end: headEnd,
    };
    this.whole = null;
    return head;
  }

  /**
   * The string for a secret value: sliced from the whole head, never
   * interned (the table would keep it, and a hit or a miss could be timed).
   */
  private secret(
    buf: Uint8Array,
    base: number,
    headEnd: number,
    a: number,
    b: number,
  ): string {
    if (this.whole === null) this.whole = this.decodeHead(buf, base, headEnd);
    return this.whole.slice(a, b);
  }

  /** The whole head, read as ISO-8859-1. */
  private decodeHead(buf: Uint8Array, base: number, headEnd: number): string {
    // An ASCII head (the usual case) decodes faster through TextDecoder,
    // whose UTF-8 is ASCII on ASCII bytes.
    return (this.high & 2) !== 0
      ? latin1Decode(buf, base, headEnd)
      : asciiDecoder.decode(buf.subarray(base, headEnd));
  }

  /**
   * The string for `buf[base + a : base + b]`, read as ISO-8859-1: a
   * short one from the intern table when it holds the same bytes, a long
   * one sliced from the whole head, decoded once.
   */
  private text(
    buf: Uint8Array,
    base: number,
    headEnd: number,
    a: number,
    b: number,
  ): string {
    const n = b - a;
    if (n === 0) return "";
    a += base;
    if (n <= INTERN_MAX) return intern(buf, a, a + n);
    if (this.whole === null) this.whole = this.decodeHead(buf, base, headEnd);
    return this.whole.slice(a - base, a - base + n);
  }
}

// The strings of a head repeat from request to request (names, most values,
// methods, versions, many targets): a direct-mapped table of recent short
// strings returns the same string for the same bytes, without building it.
// An entry is used only when every byte matches, so a collision costs a
// rebuild, never a wrong string. At most 1024 strings of 128 bytes.
const INTERN_MAX = 128;
const INTERN_MASK = 1023;
const internTable: string[] = new Array<string>(INTERN_MASK + 1).fill("");
/** The bytes of each table entry, INTERN_MAX apart: compared fast. */
const internBytes = new Uint8Array((INTERN_MASK + 1) * INTERN_MAX);
const charCodes: number[] = [];

/** The string for `buf[a:b]` (1 to INTERN_MAX bytes, ISO-8859-1). */
function intern(buf: Uint8Array, a: number, b: number): string {
  const n = b - a;
  if (n === 1) return String.fromCharCode(buf[a]); // V8 caches these
  let h = Math.imul(n ^ buf[a], 0x9e3779b1);
  h = Math.imul(h ^ buf[a + (n >> 1)], 0x85ebca6b);
  h = Math.imul(h ^ buf[b - 1], 0xc2b2ae35);
  h = Math.imul(h ^ buf[a + (n >> 2)], 0x27d4eb2f);
  const slot = (h ^ (h >>> 15)) & INTERN_MASK;
  const old = internTable[slot];
  if (old.length === n) {
    // Every byte is compared, with no early exit: the time taken tells
    // nothing about how much of an entry (another client's Cookie, say)
    // matched.
    const bytes = internBytes;
    let o = slot * INTERN_MAX;
    let diff = 0;
    for (let k = a; k < b; k++, o++) diff |= bytes[o] ^ buf[k];
    if (diff === 0) return old;
  }
  // A new flat string (not a slice of a larger one, which it would keep
  // alive in the table).
  charCodes.length = n;
  for (let k = 0; k < n; k++) charCodes[k] = buf[a + k];
  const s = String.fromCharCode.apply(null, charCodes);
  internTable[slot] = s;
  internBytes.set(buf.subarray(a, b), slot * INTERN_MAX);
  return s;
}

const HTTP_SLASH = bytesOf("HTTP/");
const asciiDecoder = new TextDecoder();

const scratch = new HeadParser(DEFAULT_HEAD_LIMITS);

/**
 * Parses the request head in `buf[start:end]`.
 *
 * Returns `null` when the head is not complete yet (and no limit is passed),
 * the parsed head otherwise. Throws {@linkcode HTTPError} for a request that
 * must be refused (400, 414, 431, 501, 505, 417 for an unknown Expect).
 *
 * Each call scans from `start`; a {@linkcode HeadParser} resumes instead.
 *
 * @example
 * ```ts
 * import { DEFAULT_HEAD_LIMITS, parseRequestHead } from "./_http.ts";
 *
 * const bytes = new TextEncoder().encode("GET /a HTTP/1.0\r\n\r\n");
 * const head = parseRequestHead(bytes, 0, bytes.length, DEFAULT_HEAD_LIMITS);
 * console.log(head?.target, head?.keepAlive); // "/a" false
 * ```
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): RequestHead | null {
  scratch.reset();
  scratch.limits = limits;
  return scratch.parse(buf, start, end);
}

// ---------------------------------------------------------------------------
// The chunked body (RFC 9112 section 7.1)

// Decoder states.
const S_SIZE_START = 0; // first hex digit of a chunk-size line
const S_SIZE = 1; // more hex digits
const S_SIZE_WS = 2; // BWS after the size: only ";" may follow
const S_EXT = 3; // chunk extensions, up to CR
const S_SIZE_LF = 4; // LF of the chunk-size line
const S_DATA = 5;
const S_DATA_CR = 6;
const S_DATA_LF = 7;
const S_TRAILER = 8; // trailer field lines, then the empty line
const S_DONE = 9;

/** Most hex digits in a chunk size (leading zeros included); past it: 400. */
const MAX_CHUNK_SIZE_DIGITS = 16;

/**
 * Incremental decoder for a chunked request body (RFC 9112 section 7.1).
 * Feed it bytes as they arrive; it collects the decoded data.
 *
 * Rules: chunk-size is 1 to 16 hex digits; extensions (`;name=value`,
 * after optional whitespace) are skipped, the whole size line bounded by
 * {@linkcode MAX_CHUNK_LINE}; every line of the body (size line, the line
 * end after the data, trailer lines, the final empty line) must end in
 * CRLF: a bare LF is refused here although the request head accepts it,
 * because lenient chunk line ends are a known request-smuggling vector.
 * Trailer fields follow the header rules and are kept in `trailers`, not
 * merged into the head.
 *
 * The data is copied out of the buffers fed in (the caller may reuse them)
 * into one growing buffer, never larger than `maxBody`.
 *
 * @example
 * ```ts
 * import { ChunkedDecoder } from "./_http.ts";
 *
 * const dec = new ChunkedDecoder(1024);
 * const wire = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nGET ...");
 * const used = dec.feed(wire, 0, wire.length); // 15: the rest is the next request
 * console.log(dec.done, new TextDecoder().decode(dec.body())); // true "abc"
 * ```
 */
export class ChunkedDecoder {
  /** True once the last chunk and the trailer section were read. */
  done = false;
  /** Total decoded body bytes so far. */
  length = 0;
  /** Trailer fields, in order, as [name, value] (ISO-8859-1). */
  trailers: [string, string][] = [];

  private state = S_SIZE_START;
  private size = 0; // chunk size being read, then bytes of it still to come
  private digits = 0;
  private lineLen = 0; // bytes of the current size line
  private data = new Uint8Array(0);
  private trailerBytes = 0; // trailer lines so far, with their CRLFs
  private line: number[] = []; // the trailer line being read

  /**
   * A decoder at the start of a chunked body.
   *
   * @param maxBody past this many decoded bytes, `feed` throws HTTPError(413)
   * @param maxTrailerBytes past this many trailer bytes, HTTPError(431)
   */
  constructor(readonly maxBody: number, readonly maxTrailerBytes = 8192) {}

  /**
   * Consumes bytes from `buf[start:end]`; returns how many were consumed
   * (fewer than offered only once `done` is true: the rest belongs to the
   * next request). Throws HTTPError(400) for bad framing, 413 past maxBody.
   */
  feed(buf: Uint8Array, start: number, end: number): number {
    let i = start;
    let state = this.state;
    try {
      while (i < end) {
        switch (state) {
          case S_SIZE_START: {
            const d = HEX[buf[i]];
            if (d < 0) throw bad("chunk size must start with a hex digit");
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
            if (d >= 0) {
              if (++this.digits > MAX_CHUNK_SIZE_DIGITS) {
                throw bad("chunk size has too many digits");
              }
              const size = this.size * 16 + d;
              if (size > Number.MAX_SAFE_INTEGER) {
                throw bad("chunk size too large");
              }
              if (size > this.maxBody - this.length) {
                throw this.bodyTooLarge();
              }
              this.size = size;
              this.lineLen++;
              i++;
            } else if (c === CR) {
              i++;
              state = S_SIZE_LF;
            } else if (c === SEMI) {
              this.lineLen++;
              i++;
              state = S_EXT;
            } else if (isOWS(c)) {
              this.lineLen++;
              i++;
              state = S_SIZE_WS;
            } else if (c === LF) {
              throw bad("chunk size line must end in CRLF");
            } else {
              throw bad(`invalid character ${hex2(c)} in chunk size`);
            }
            break;
          }
          case S_SIZE_WS: {
            const c = buf[i];
            if (c === SEMI) state = S_EXT;
            else if (!isOWS(c)) {
              throw bad("whitespace after chunk size without an extension");
            }
            i++;
            if (++this.lineLen > MAX_CHUNK_LINE) {
              throw bad("chunk size line too long");
            }
            break;
          }
          case S_EXT: {
            let n = this.lineLen;
            while (i < end) {
              const c = buf[i];
              if (VALUE[c] === 0) {
                if (c === CR) break;
                if (c === LF) throw bad("chunk size line must end in CRLF");
                throw bad(`invalid character ${hex2(c)} in chunk extension`);
              }
              i++;
              if (++n > MAX_CHUNK_LINE) throw bad("chunk size line too long");
            }
            this.lineLen = n;
            if (i < end) {
              i++;
              state = S_SIZE_LF;
            }
            break;
          }
          case S_SIZE_LF:
            if (buf[i] !== LF) throw bad("bare CR in chunk size line");
            i++;
            state = this.size === 0 ? S_TRAILER : S_DATA;
            break;
          case S_DATA: {
            const n = Math.min(this.size, end - i);
            this.append(buf, i, i + n);
            i += n;
            this.size -= n;
            if (this.size === 0) state = S_DATA_CR;
            break;
          }
          case S_DATA_CR:
            if (buf[i] !== CR) throw bad("chunk data not followed by CRLF");
            i++;
            state = S_DATA_LF;
            break;
          case S_DATA_LF:
            if (buf[i] !== LF) throw bad("chunk data not followed by CRLF");
            i++;
            state = S_SIZE_START;
            break;
          case S_TRAILER:
            i = this.trailer(buf, i, end);
            if (this.done) state = S_DONE;
            break;
          default: // S_DONE
            this.state = state;
            return i - start;
        }
      }
    } catch (e) {
      this.state = S_DONE;
      throw e;
    }
    this.state = state;
    return i - start;
  }

  /** Copies decoded bytes into the body buffer, growing it by doubling. */
  private append(buf: Uint8Array, s: number, e: number): void {
    const need = this.length + (e - s);
    if (need > this.data.length) {
      const cap = Math.min(
        this.maxBody,
        Math.max(need, this.data.length * 2, 1024),
      );
      const next = new Uint8Array(cap);
      next.set(this.data.subarray(0, this.length));
      this.data = next;
    }
    this.data.set(buf.subarray(s, e), this.length);
    this.length = need;
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
        throw bad("trailer line must end in CRLF");
      }
      if (n === 2) {
        this.done = true;
        line.length = 0;
        return i;
      }
      const bytes = Uint8Array.from(line);
      line.length = 0;
      if (scanField(bytes, 0, n, false) !== n) throw bad("malformed trailer");
      this.trailerBytes += n;
      this.trailers.push([
        latin1Decode(bytes, 0, fNameEnd),
        latin1Decode(bytes, fValueStart, fValueEnd),
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

  /** The decoded body, concatenated. */
  body(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

// ---------------------------------------------------------------------------
// Helpers for the server's responses

/** Reason phrases (the IANA registry's), for the server's own responses. */
export { STATUS_REASONS } from "./_status.ts";

/** `HTTP/1.1 100 Continue` and the empty line, for `Expect: 100-continue`. */
export const CONTINUE_RESPONSE: Uint8Array = bytesOf(
  "HTTP/1.1 100 Continue\r\n\r\n",
);

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

const encoder = new TextEncoder();

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
 * import { errorResponse } from "./_http.ts";
 *
 * const bytes = errorResponse(400, "bare CR in header field value", "HTTP/1.0");
 * // "HTTP/1.0 400 Bad Request\r\nConnection: close\r\n..."
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
