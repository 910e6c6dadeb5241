// Building an environ from an HTTP request, for every server of the
// library (the simple server, the Fetch bridge): the percent-decoding of
// the path to a native string, the CGI names of header fields, the folding
// of repeated fields, and the `wsgi.file_wrapper` callable.

import { FileWrapper } from "./util.ts";
import type {
  FileWrapperClass,
  FileWrapperFactory,
  WSGIEnvironment,
} from "./types.ts";

// The value of each hex digit's code unit, -1 for anything else.
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

function hexValue(c: number): number {
  return c < 128 ? HEX[c] : -1;
}

/**
 * Percent-decodes a raw path to a native string, as Python's
 * `urllib.parse.unquote(s, "iso-8859-1")`: each valid `%XX` (`%2F`
 * included) becomes the one code unit of that byte; everything else, an
 * invalid `%` too, is kept as it is. The input is the request target as
 * received, read as ISO-8859-1 (so a raw byte 0x80-0xFF stays one code
 * unit).
 */
export function unquoteNative(s: string): string {
  let i = s.indexOf("%");
  if (i === -1) return s;
  let out = s.slice(0, i);
  while (i < s.length) {
    if (s.charCodeAt(i) === 0x25 && i + 2 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out += String.fromCharCode(hi * 16 + lo);
        i += 3;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

/** Python's `str.isspace()` for a code unit 0-255. */
function isPySpace(c: number): boolean {
  return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c === 0x85 ||
    c === 0xa0;
}

/** Python's `str.strip()` for a native string, as wsgiref strips header values. */
function pyStrip(v: string): string {
  const n = v.length;
  if (
    n === 0 || (!isPySpace(v.charCodeAt(0)) && !isPySpace(v.charCodeAt(n - 1)))
  ) {
    return v;
  }
  let i = 0;
  let j = n;
  while (i < j && isPySpace(v.charCodeAt(i))) i++;
  while (j > i && isPySpace(v.charCodeAt(j - 1))) j--;
  return v.slice(i, j);
}

/**
 * The environ keys of a request header field's name, as wsgiref's
 * `get_environ` makes them: the name upper-cased with `-` read as `_`
 * (`Content-Type` → `CONTENT_TYPE`), and that with `HTTP_` before it. `null`
 * for a name holding `_`, which is dropped, as nginx, Apache httpd and
 * gunicorn (since 22.0) drop it: `X_Auth_User` would otherwise pose as
 * `X-Auth-User` (both are `HTTP_X_AUTH_USER`) past a proxy that strips the
 * latter. A server may keep the keys of the names it sees again and again.
 */
export function envKeys(name: string): [string, string] | null {
  if (name.includes("_")) return null;
  const key = name.toUpperCase().replaceAll("-", "_");
  return [key, "HTTP_" + key];
}

/**
 * Adds one request header field to the environ under its keys (see
 * {@linkcode envKeys}), as wsgiref's `get_environ`: a name that maps onto a
 * variable already set (the server's own, `CONTENT_TYPE` and
 * `CONTENT_LENGTH` once set) is skipped; `Content-Type` and
 * `Content-Length` become `CONTENT_TYPE` and `CONTENT_LENGTH`; any other
 * becomes `HTTP_<NAME>`, a repeat joined to the earlier value with `,`.
 * The value is stripped of surrounding whitespace.
 */
export function putHeaderField(
  environ: Partial<WSGIEnvironment>,
  keys: readonly [string, string],
  value: string,
): void {
  const key = keys[0];
  if (key in environ) return;
  value = pyStrip(value);
  if (key === "CONTENT_TYPE" || key === "CONTENT_LENGTH") {
    environ[key] = value;
    return;
  }
  const httpKey = keys[1];
  const prev = environ[httpKey];
  environ[httpKey] = prev === undefined ? value : prev + "," + value;
}

/** {@linkcode putHeaderField} under the keys of `name`; nothing for a name with `_`. */
export function addHeaderField(
  environ: Partial<WSGIEnvironment>,
  name: string,
  value: string,
): void {
  const keys = envKeys(name);
  if (keys !== null) putHeaderField(environ, keys, value);
}

/** The `wsgi.file_wrapper` of the library's own `FileWrapper`. */
const makeFileWrapper: FileWrapperFactory = (filelike, blksize) =>
  new FileWrapper(filelike, blksize);

/** The `wsgi.file_wrapper` callable that makes instances of `cls`. */
export function fileWrapperFactory(cls: FileWrapperClass): FileWrapperFactory {
  if (cls === FileWrapper) return makeFileWrapper;
  return (filelike, blksize) => new cls(filelike, blksize);
}
