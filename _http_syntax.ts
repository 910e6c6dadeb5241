// The byte classes of HTTP/1.1 (RFC 9110 section 5.6, RFC 9112) and the
// scanner of one field line, shared by the request-head parser and the
// chunked-body decoder (trailer fields).
//
// Everything runs on bytes: Uint8Array indices and lookup tables, no
// regular expressions and no per-byte string building.

import { badRequest } from "./_http_error.ts";

/** Horizontal tab. */
export const HTAB = 0x09;
/** Line feed. */
export const LF = 0x0a;
/** Carriage return. */
export const CR = 0x0d;
/** Space. */
export const SP = 0x20;
/** `"` */
export const DQUOTE = 0x22;
/** `,` */
export const COMMA = 0x2c;
/** `/` */
export const SLASH = 0x2f;
/** `:` */
export const COLON = 0x3a;
/** `;` */
export const SEMI = 0x3b;
/** `=` */
export const EQUALS = 0x3d;
/** `\` */
export const BACKSLASH = 0x5c;

/** tchar (RFC 9110 section 5.6.2): the bytes of a token. */
export const TCHAR: Uint8Array = new Uint8Array(256);
/**
 * Bytes allowed in a request-target: VCHAR (1) and obs-text (2, kept raw,
 * as wsgiref keeps them). The 2 bit tells that the head is not ASCII.
 */
export const TARGET: Uint8Array = new Uint8Array(256);
/** Bytes allowed in a field value: field-vchar, SP and HTAB (1, or 2 for obs-text). */
export const VALUE: Uint8Array = new Uint8Array(256);
/**
 * qdtext (RFC 9110 section 5.6.4): the bytes of a quoted-string other
 * than `"` and `\`; quoted-pair allows these and `"` and `\` after a `\`.
 */
export const QDTEXT: Uint8Array = new Uint8Array(256);
/**
 * Bytes allowed in a Host value (RFC 9110 section 7.2: uri-host [":"
 * port]): unreserved, pct-encoded, sub-delims, ":" and the brackets of an
 * IP literal. No "/", "?", "#", "@", whitespace or obs-text.
 */
export const HOST: Uint8Array = new Uint8Array(256);
/** Value of a hex digit, or -1. */
export const HEX: Int8Array = new Int8Array(256).fill(-1);

for (const c of "-._~%!$&'()*+,;=:[]") HOST[c.charCodeAt(0)] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) {
  TCHAR[c] = 1;
  HOST[c] = 1;
  HEX[c] = c - 0x30;
}
for (let c = 0x41; c <= 0x5a; c++) {
  TCHAR[c] = 1;
  TCHAR[c + 0x20] = 1;
  HOST[c] = 1;
  HOST[c + 0x20] = 1;
}
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}
for (let c = 0x21; c <= 0xff; c++) {
  if (c !== 0x7f) {
    TARGET[c] = VALUE[c] = c < 0x80 ? 1 : 2;
    if (c !== DQUOTE && c !== BACKSLASH) QDTEXT[c] = 1;
  }
}
VALUE[SP] = VALUE[HTAB] = 1;
QDTEXT[SP] = QDTEXT[HTAB] = 1;

/** The bytes of an ASCII string. */
export function bytesOf(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * True if `buf[s:e]` equals `lower` ASCII-case-insensitively. `lower` holds
 * only lowercase letters, digits and "-". `| 0x20` folds A-Z onto a-z; the
 * only other bytes it maps onto those are CTLs (0x0D onto "-", 0x10-0x19
 * onto digits), refused here.
 */
export function eqLower(
  buf: Uint8Array,
  s: number,
  e: number,
  lower: Uint8Array,
): boolean {
  const n = lower.length;
  if (e - s !== n) return false;
  for (let k = 0; k < n; k++) {
    const c = buf[s + k];
    if ((c | 0x20) !== lower[k] || c < 0x20) return false;
  }
  return true;
}

/** True for an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** True for OWS: SP or HTAB. */
export function isOWS(c: number): boolean {
  return c === SP || c === HTAB;
}

/** A byte as `0x0D`, for messages. */
export function hex2(c: number): string {
  return "0x" + c.toString(16).toUpperCase().padStart(2, "0");
}

/**
 * Scans field lines `name ":" OWS value OWS (CRLF | LF)` and keeps the
 * offsets of the last one: each parser or decoder owns one.
 */
export class FieldScanner {
  /** End of the name (the colon). */
  nameEnd = 0;
  /** Start of the value, leading OWS skipped. */
  valueStart = 0;
  /** End of the value, trailing OWS dropped. */
  valueEnd = 0;
  /** 2 if the value has a byte above 0x7F, else 0 or 1. */
  high = 0;
  /** True if the line ended in a bare LF rather than CRLF. */
  bareLF = false;

  /**
   * Scans one field line starting at `i` (which is not the start of an
   * empty line). Returns the index after the line end, or -1 if the line
   * is not complete in `buf[i:end]`. A bare LF ends the line only when
   * `bareLF` allows it. Throws HTTPError(400) for a bad line.
   */
  scan(buf: Uint8Array, i: number, end: number, bareLF: boolean): number {
    const s = i;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i === end) return -1;
    let c = buf[i];
    if (c !== COLON) {
      if (i === s && isOWS(c)) {
        throw badRequest(
          "header line starts with whitespace (obsolete line folding is not accepted)",
        );
      }
      if (isOWS(c)) {
        throw badRequest("whitespace between header field name and colon");
      }
      if (c === CR || c === LF) throw badRequest("header line without a colon");
      throw badRequest(`invalid character ${hex2(c)} in header field name`);
    }
    if (i === s) throw badRequest("empty header field name");
    this.nameEnd = i;
    i++;
    while (i < end && isOWS(buf[i])) i++;
    const vs = i;
    let high = 0;
    for (; i < end; i++) {
      const t = VALUE[buf[i]];
      if (t === 0) break;
      high |= t;
    }
    if (i === end) return -1;
    c = buf[i];
    let next: number;
    if (c === CR) {
      if (i + 1 === end) return -1;
      if (buf[i + 1] !== LF) throw badRequest("bare CR in header field value");
      next = i + 2;
      this.bareLF = false;
    } else if (c === LF) {
      if (!bareLF) throw badRequest("field line must end in CRLF");
      next = i + 1;
      this.bareLF = true;
    } else {
      throw badRequest(`invalid character ${hex2(c)} in header field value`);
    }
    while (i > vs && isOWS(buf[i - 1])) i--;
    this.high = high;
    this.valueStart = vs;
    this.valueEnd = i;
    return next;
  }
}

/**
 * Checks the bytes `buf[i:end]` of a line whose start was already
 * validated: finds its LF, and refuses early the bytes that no line may
 * hold (CTLs other than HTAB, DEL, a CR not followed by LF). Returns the
 * index of the LF, or -1.
 */
export function findLineEnd(buf: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = buf[i];
    if (c === LF) return i;
    if (c < SP && c !== HTAB) {
      if (c !== CR) throw badRequest(`invalid control character ${hex2(c)}`);
      if (i + 1 < end && buf[i + 1] !== LF) throw badRequest("bare CR");
    } else if (c === 0x7f) {
      throw badRequest("invalid control character 0x7F");
    }
  }
  return -1;
}
