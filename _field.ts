// The one check for a response header field (and a status line) before it
// may go on the wire: a name is a token (RFC 9110 section 5.1), a value has
// no control character but HTAB (RFC 9110 section 5.5: no CR, LF or NUL,
// which would let it forge other fields) and is ISO-8859-1 (one byte per
// code unit). Every writer of a response head uses it: `ResponseHeaders`,
// the handlers, the simple server, the Fetch bridge and the server's own
// error responses. Kept small: a CGI program loads it on every request.

// RFC 9110 tchar: the bytes a header name may hold.
const TCHAR = new Uint8Array(128);
for (
  const c
    of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
) {
  TCHAR[c.charCodeAt(0)] = 1;
}

const HTAB = 0x09;
const DEL = 0x7f;

function codePoint(c: number): string {
  return "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * Throws a `TypeError` unless `name` is a non-empty token: letters, digits
 * and ``!#$%&'*+-.^_`|~``, so that a name such as `"X-A: 1"` or `"A B"`
 * never reaches the wire.
 */
export function checkHeaderName(name: string): void {
  if (name.length === 0) {
    throw new TypeError("Header name must not be empty");
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) {
      throw new TypeError(
        `Header name ${JSON.stringify(name)} has ${
          JSON.stringify(name[i])
        } at index ${i}: a header name is a token (letters, digits and ` +
          "!#$%&'*+-.^_`|~), without spaces or colons",
      );
    }
  }
}

/**
 * Throws a `TypeError` unless `value` may stand in a response head: no
 * control character but HTAB (CR, LF and NUL would let it forge other
 * fields) and no code unit above 0xFF. `what` names it in the message
 * (`"Header value"`, `"Status"`).
 */
export function checkHeaderValue(value: string, what = "Header value"): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x20 && c !== DEL && c <= 0xff) continue;
    if (c === HTAB) continue;
    if (c === 13 || c === 10 || c === 0) {
      throw new TypeError(
        `${what} ${JSON.stringify(value)} contains ${
          c === 13 ? "CR" : c === 10 ? "LF" : "NUL"
        } at index ${i}: line breaks and NUL are not allowed in a response ` +
          "head (they would start another header)",
      );
    }
    if (c > 0xff) {
      throw new TypeError(
        `${what} ${JSON.stringify(value)} has ${
          codePoint(c)
        } at index ${i}: response heads are ISO-8859-1; encode the text ` +
          "(as UTF-8, then read the bytes as ISO-8859-1, or percent-encode it)",
      );
    }
    throw new TypeError(
      `${what} ${JSON.stringify(value)} has the control character ${
        codePoint(c)
      } at index ${i}: only HTAB, printable characters and 0x80-0xFF are ` +
        "allowed in a response head",
    );
  }
}

/** {@linkcode checkHeaderName}, then {@linkcode checkHeaderValue}. */
export function checkHeader(name: string, value: string): void {
  checkHeaderName(name);
  checkHeaderValue(value);
}
