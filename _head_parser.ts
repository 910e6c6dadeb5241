// The strict HTTP/1.x request-head parser of the connection core (RFC 9112
// sections 2-6): request line, field lines, the framing fields
// (Content-Length, Transfer-Encoding), Host, Expect, Connection, and the
// request-target's form against the method.
//
// Strictness follows llhttp's strict mode and h11 where RFC 9112 leaves a
// choice. Two leniencies are kept from Python's http.server where they
// cannot move a request boundary: a head whose lines all end in a bare LF
// is read (CPython's test_wsgiref sends one), though a head that mixes bare
// LF and CRLF is refused, since a proxy that ends lines only at CRLF would
// read it as other requests; and raw bytes 0x80-0xFF in the target.

import { badRequest, HTTPError } from "./_http_error.ts";
import {
  bytesOf,
  COMMA,
  CR,
  eqLower,
  FieldScanner,
  findLineEnd,
  hex2,
  HOST,
  isDigit,
  isOWS,
  LF,
  SEMI,
  SP,
  TARGET,
  TCHAR,
} from "./_http_syntax.ts";
import { latin1Decode } from "./_latin1.ts";
import { absoluteParts, TargetForm, targetForm } from "./_request_target.ts";
import type { StringTable } from "./_string_table.ts";

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

/** A parsed, validated request head. */
export interface RequestHead {
  /** The method token, e.g. "GET". */
  method: string;
  /** The raw request-target as sent, read as ISO-8859-1. */
  target: string;
  /** The form of the target (origin, absolute, authority, asterisk). */
  form: TargetForm;
  /**
   * The target in origin-form: the target itself, or for an absolute-form
   * target its path and query (`/` for an empty path).
   */
  path: string;
  /** The authority of an absolute-form target (it stands for Host); else "". */
  authority: string;
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
  /** True when a Connection field holds the `close` token. */
  connectionClose: boolean;
  /** True when a Connection field holds the `keep-alive` token. */
  connectionKeepAlive: boolean;
  /** True when an HTTP/1.1 client sent `Expect: 100-continue`. */
  expectContinue: boolean;
  /** Index in the buffer just past the blank line that ends the head. */
  end: number;
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
const HTTP_SLASH = bytesOf("HTTP/");

// Line ends seen in a head (bits): a head must use one kind throughout.
const ENDS_CRLF = 1;
const ENDS_LF = 2;

const asciiDecoder = new TextDecoder();

/**
 * A resumable request-head parser for one connection.
 *
 * It remembers how far it got, so a head that arrives a few bytes at a
 * time costs linear time in all. Call `parse` with the same bytes from
 * `start` (more appended each time; `start` may move if the caller moves
 * the bytes); it starts afresh after it returns a head or throws, or after
 * `reset()`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DEFAULT_HEAD_LIMITS, HeadParser } from "./_head_parser.ts";
 *
 * const parser = new HeadParser(DEFAULT_HEAD_LIMITS);
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * assertEquals(parser.parse(bytes, 0, 10), null); // incomplete
 * const head = parser.parse(bytes, 0, bytes.length);
 * assertEquals([head?.method, head?.end], ["GET", 27]);
 * ```
 */
export class HeadParser {
  // Offsets are relative to `start`, so the caller may move its bytes.
  private phase = 0; // 0: empty lines / request line; 1: header lines
  private pos = 0; // start of the line being parsed
  private scanned = 0; // partial line at `pos` checked up to here (0: no)
  private emptyLines = 0;
  private ends = 0; // ENDS_CRLF | ENDS_LF seen so far
  private rlStart = 0;
  private methodEnd = 0;
  private targetStart = 0;
  private targetEnd = 0;
  private hdrStart = 0;
  private minor = 1;
  private rawMinor = 1; // the minor version digit as sent
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
  private readonly field = new FieldScanner();
  private whole: string | null = null; // the head, decoded, in finish

  /**
   * A parser with nothing parsed yet.
   *
   * @param limits the limits to enforce; read on every call
   * @param strings where the short strings of heads are kept, if anywhere
   */
  constructor(
    public limits: Readonly<HeadLimits> = DEFAULT_HEAD_LIMITS,
    private readonly strings: StringTable | null = null,
  ) {}

  /** Forgets any partial head. */
  reset(): void {
    this.phase = 0;
    this.pos = 0;
    this.scanned = 0;
    this.emptyLines = 0;
    this.ends = 0;
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
    this.whole = null;
  }

  /**
   * True once a byte of a request line (not only empty lines) was seen:
   * a head is under way.
   */
  get started(): boolean {
    return this.phase === 1 || this.scanned !== 0;
  }

  /**
   * Parses the request head in `buf[start:end]`, resuming where the last
   * call stopped. Returns `null` when the head is not complete yet (and no
   * limit is passed), the parsed head otherwise. Throws
   * {@linkcode HTTPError} for a request that must be refused (400, 414,
   * 431, 501, 505, 417 for an unknown Expect).
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

  /** Notes one line end; refuses a head that mixes CRLF and bare LF. */
  private lineEnd(kind: number): void {
    const ends = this.ends | kind;
    if (ends === (ENDS_CRLF | ENDS_LF)) {
      throw badRequest(
        "request head mixes CRLF and bare LF line ends",
      );
    }
    this.ends = ends;
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
          if (c === LF) {
            this.lineEnd(ENDS_LF);
            i++;
          } else if (c === CR) {
            if (i + 1 === end) break;
            if (buf[i + 1] !== LF) {
              throw badRequest("bare CR before the request line");
            }
            this.lineEnd(ENDS_CRLF);
            i += 2;
          } else break;
          if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) {
            throw badRequest("too many empty lines before the request line");
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
    const field = this.field;
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
          if (buf[i + 1] !== LF) {
            throw badRequest("bare CR in the header section");
          }
          this.lineEnd(ENDS_CRLF);
          i += 2;
        } else {
          this.lineEnd(ENDS_LF);
          i++;
        }
        return this.finish(buf, base, i);
      }
      if (this.nFields >= limits.maxHeaders) {
        throw new HTTPError(
          431,
          `too many header fields (more than ${limits.maxHeaders})`,
        );
      }
      const next = field.scan(buf, i, end, true);
      if (next < 0) {
        this.pos = i - start;
        return this.partialField(buf, start, end);
      }
      if (next - hdrStart > maxHeaderBytes) {
        throw this.headerTooLarge();
      }
      this.lineEnd(field.bareLF ? ENDS_LF : ENDS_CRLF);
      this.high |= field.high;
      const nameEnd = field.nameEnd;
      const k = this.nFields++ * 4;
      fields[k] = i - base;
      fields[k + 1] = nameEnd - base;
      fields[k + 2] = field.valueStart - base;
      fields[k + 3] = field.valueEnd - base;
      const n = nameEnd - i;
      if (
        n === 4 || n === 6 || n === 10 || n === 13 || n === 14 || n === 17 ||
        n === 19
      ) {
        if (this.special(buf, i, nameEnd, field.valueStart, field.valueEnd)) {
          fields[k + 2] = ~fields[k + 2]; // a secret: kept out of the table
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
    if (n > this.limits.maxRequestLine) throw this.lineTooLong();
    return this.wait(buf, start, end);
  }

  /** A field line is incomplete: enforce the limits, remember, wait. */
  private partialField(buf: Uint8Array, start: number, end: number): null {
    // A line of n bytes so far ends at least one byte (its LF) later.
    const total = end - (start + this.hdrStart) + 1;
    if (total > this.limits.maxHeaderBytes) throw this.headerTooLarge();
    return this.wait(buf, start, end);
  }

  /**
   * Remembers how far the partial line at `pos` was checked (a trailing
   * CR may be half of a CRLF: not yet), and waits for more.
   */
  private wait(buf: Uint8Array, start: number, end: number): null {
    this.scanned = end - start - (buf[end - 1] === CR ? 1 : 0);
    if (this.scanned <= this.pos) this.scanned = 0;
    return null;
  }

  /** The 414 for a request line past maxRequestLine. */
  private lineTooLong(): HTTPError {
    return new HTTPError(
      414,
      `request line too long (more than ${this.limits.maxRequestLine} bytes)`,
    );
  }

  /** The 431 for a header section past maxHeaderBytes. */
  private headerTooLarge(): HTTPError {
    return new HTTPError(
      431,
      `header section too large (more than ${this.limits.maxHeaderBytes} bytes)`,
    );
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
        throw badRequest("malformed request line (no request target)");
      }
      throw badRequest(`invalid character ${hex2(c)} in method`);
    }
    if (i === ls) {
      throw badRequest("empty method (request line starts with SP)");
    }
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
        throw badRequest("malformed request line (no HTTP version)");
      }
      throw badRequest(`invalid character ${hex2(c)} in request target`);
    }
    if (i === ts) throw badRequest("empty request target");
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
      if (!ok) throw badRequest("malformed HTTP version in request line");
    }
    if (i === end) return -1;
    c = buf[i];
    let next: number;
    if (c === LF) {
      this.lineEnd(ENDS_LF);
      next = i + 1;
    } else if (c === CR) {
      if (i + 1 === end) return -1;
      if (buf[i + 1] !== LF) throw badRequest("bare CR in request line");
      this.lineEnd(ENDS_CRLF);
      next = i + 2;
    } else {
      throw badRequest("malformed HTTP version in request line");
    }
    if (i - ls > this.limits.maxRequestLine) {
      throw this.lineTooLong();
    }
    const major = buf[vs + 5] - 0x30;
    const minor = buf[vs + 7] - 0x30;
    if (major !== 1) {
      throw new HTTPError(505, `HTTP version ${major}.${minor} not supported`);
    }
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
          if (++this.hostCount > 1) {
            throw badRequest("more than one Host header");
          }
          for (let k = vs; k < ve; k++) {
            if (HOST[buf[k]] !== 1) throw badRequest("invalid Host header");
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
    if (i === ve) throw badRequest("empty Content-Length");
    for (;;) {
      let v = 0;
      const s = i;
      while (i < ve) {
        const d = buf[i] - 0x30;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
        if (v > Number.MAX_SAFE_INTEGER) {
          throw badRequest("Content-Length too large");
        }
        i++;
      }
      if (i === s) throw badRequest("invalid Content-Length");
      if (this.contentLength !== -1 && this.contentLength !== v) {
        throw badRequest("conflicting Content-Length values");
      }
      this.contentLength = v;
      while (i < ve && isOWS(buf[i])) i++;
      if (i === ve) return;
      if (buf[i] !== COMMA) throw badRequest("invalid Content-Length");
      i++;
      while (i < ve && isOWS(buf[i])) i++;
    }
  }

  /** Notes the codings of a Transfer-Encoding value; 400 if malformed. */
  private transferEncoding(buf: Uint8Array, i: number, ve: number): void {
    this.teSeen = true;
    if (this.minor === 0) {
      throw badRequest("Transfer-Encoding in an HTTP/1.0 request");
    }
    if (i === ve) throw badRequest("empty Transfer-Encoding");
    for (;;) {
      const s = i;
      while (i < ve && TCHAR[buf[i]] === 1) i++;
      if (i === s) throw badRequest("malformed Transfer-Encoding");
      const e = i;
      while (i < ve && isOWS(buf[i])) i++;
      if (i < ve && buf[i] === SEMI) {
        // transfer-parameters: chunked has none; any other coding is
        // refused below, so the parameters need no closer reading.
        if (eqLower(buf, s, e, V_CHUNKED)) {
          throw badRequest("parameters on the chunked transfer coding");
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
      if (buf[i] !== COMMA) throw badRequest("malformed Transfer-Encoding");
      i++;
      while (i < ve && isOWS(buf[i])) i++;
      if (i === ve) throw badRequest("malformed Transfer-Encoding");
    }
  }

  /** The head is complete at `headEnd`: check framing, build the result. */
  private finish(buf: Uint8Array, base: number, headEnd: number): RequestHead {
    const minor = this.minor;
    let chunked = false;
    let contentLength = this.contentLength;
    if (this.teSeen) {
      if (contentLength !== -1) {
        throw badRequest("both Transfer-Encoding and Content-Length");
      }
      if (!this.teLastChunked) {
        throw badRequest("Transfer-Encoding does not end in chunked");
      }
      if (this.teChunked > 1) {
        throw badRequest("chunked applied more than once");
      }
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
      throw badRequest("missing Host header");
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
          : this.slice(buf, base, headEnd, ~vs, fields[k + 3]),
      ]);
    }
    const methodEnd = this.methodEnd;
    const method = methodEnd === 3 && buf[base] === 0x47 &&
        buf[base + 1] === 0x45 && buf[base + 2] === 0x54
      ? "GET"
      : this.text(buf, base, headEnd, 0, methodEnd);
    const target = this.text(
      buf,
      base,
      headEnd,
      this.targetStart,
      this.targetEnd,
    );
    const form = targetForm(method, target);
    let path = target;
    let authority = "";
    if (form === TargetForm.Absolute) [authority, path] = absoluteParts(target);
    const rawMinor = this.rawMinor;
    const verStart = this.targetEnd + 1;
    const head: RequestHead = {
      method,
      target,
      form,
      path,
      authority,
      version: rawMinor === 1
        ? "HTTP/1.1"
        : rawMinor === 0
        ? "HTTP/1.0"
        : this.slice(buf, base, headEnd, verStart, verStart + 8),
      major: 1,
      minor,
      headers,
      contentLength,
      chunked,
      connectionClose: this.connClose,
      connectionKeepAlive: this.connKeepAlive,
      expectContinue: this.expect100 && minor === 1,
      end: headEnd,
    };
    this.whole = null;
    return head;
  }

  /**
   * The string for `buf[base + a : base + b]`, read as ISO-8859-1: a short
   * one from the string table when there is one, else a slice of the
   * whole head.
   */
  private text(
    buf: Uint8Array,
    base: number,
    headEnd: number,
    a: number,
    b: number,
  ): string {
    if (a === b) return "";
    const strings = this.strings;
    if (strings !== null && strings.keeps(b - a)) {
      return strings.text(buf, base + a, base + b);
    }
    return this.slice(buf, base, headEnd, a, b);
  }

  /** `buf[base + a : base + b]` as a slice of the whole head, decoded once. */
  private slice(
    buf: Uint8Array,
    base: number,
    headEnd: number,
    a: number,
    b: number,
  ): string {
    // An ASCII head (the usual case) decodes faster through TextDecoder,
    // whose UTF-8 is ASCII on ASCII bytes.
    this.whole ??= (this.high & 2) !== 0
      ? latin1Decode(buf, base, headEnd)
      : asciiDecoder.decode(buf.subarray(base, headEnd));
    return this.whole.slice(a, b);
  }
}

/**
 * Head parsers lent to a server's connections while each reads a head
 * (most heads arrive in one read: the parser goes back at once), so that a
 * connection waiting for a request holds none.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DEFAULT_HEAD_LIMITS, HeadParsers } from "./_head_parser.ts";
 *
 * const parsers = new HeadParsers(DEFAULT_HEAD_LIMITS);
 * const parser = parsers.take();
 * parsers.give(parser);
 * assertEquals(parsers.take(), parser); // the same one again
 * ```
 */
export class HeadParsers {
  readonly #free: HeadParser[] = [];

  /**
   * @param limits the limits of every parser lent
   * @param strings the string table of every parser lent, if any
   * @param max the most free parsers kept
   */
  constructor(
    readonly limits: Readonly<HeadLimits>,
    readonly strings: StringTable | null = null,
    readonly max: number = 64,
  ) {}

  /** A parser with nothing parsed. */
  take(): HeadParser {
    return this.#free.pop() ?? new HeadParser(this.limits, this.strings);
  }

  /** Takes a parser back (forgetting any partial head it holds). */
  give(parser: HeadParser): void {
    parser.reset();
    if (this.#free.length < this.max) this.#free.push(parser);
  }
}

/**
 * Parses the request head in `buf[start:end]` with a new
 * {@linkcode HeadParser} (which a connection keeps instead, to resume).
 *
 * Returns `null` when the head is not complete yet (and no limit is passed),
 * the parsed head otherwise. Throws {@linkcode HTTPError} for a request that
 * must be refused.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DEFAULT_HEAD_LIMITS, parseRequestHead } from "./_head_parser.ts";
 *
 * const bytes = new TextEncoder().encode("GET /a HTTP/1.0\r\n\r\n");
 * const head = parseRequestHead(bytes, 0, bytes.length, DEFAULT_HEAD_LIMITS);
 * assertEquals([head?.target, head?.minor], ["/a", 0]);
 * ```
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): RequestHead | null {
  return new HeadParser(limits).parse(buf, start, end);
}
