/**
 * Environ helpers, as in Python's `wsgiref.util`: the request's scheme and
 * URLs, path shifting, defaults for tests, hop-by-hop header names, a file
 * wrapper, and two concrete streams ({@linkcode BytesIO} for `wsgi.input`,
 * {@linkcode StringIO} for `wsgi.errors`) to build environs by hand.
 *
 * Beyond wsgiref, the two conversions between PEP 3333's native strings
 * (the request's bytes read as ISO-8859-1) and text:
 * {@linkcode nativeToText} (`"/cafÃ©"` → `"/café"`) and
 * {@linkcode textToNative}, its inverse.
 *
 * @example Reconstructing the request URL
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { requestUri, setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = { PATH_INFO: "/spam", QUERY_STRING: "a=1" };
 * setupTestingDefaults(environ);
 * assertEquals(requestUri(environ), "http://127.0.0.1/spam?a=1");
 * ```
 *
 * @module
 */

import type {
  ErrorStream,
  FileLike,
  InputStream,
  WSGIEnvironment,
} from "./types.ts";
import { latin1Decode, latin1Encode } from "./_latin1.ts";

/**
 * Guesses the URL scheme from the CGI `HTTPS` variable: `"https"` when it is
 * `"yes"`, `"on"` or `"1"`, `"http"` otherwise.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { guessScheme } from "@wsgiref/wsgiref/util";
 *
 * assertEquals(guessScheme({ HTTPS: "on" }), "https");
 * assertEquals(guessScheme({}), "http");
 * ```
 */
export function guessScheme(
  environ: Partial<WSGIEnvironment>,
): "http" | "https" {
  const https = environ.HTTPS;
  return https === "yes" || https === "on" || https === "1" ? "https" : "http";
}

function required(environ: Partial<WSGIEnvironment>, key: string): string {
  const value = environ[key];
  if (typeof value !== "string") {
    throw new TypeError(
      `environ['${key}'] must be a string, got ${
        value === undefined ? "nothing" : typeof value
      }: a server sets it; in tests, call setupTestingDefaults(environ) first`,
    );
  }
  return value;
}

// Python's urllib.parse.quote(s, safe, encoding="latin1"): letters, digits
// and "_.-~" are never quoted; every other byte becomes %XX (upper case).
const ALWAYS_SAFE = new Uint8Array(256);
for (
  const c
    of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
) ALWAYS_SAFE[c.charCodeAt(0)] = 1;
const HEX = "0123456789ABCDEF";

function quote(s: string, safe: string, what: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 256 && (ALWAYS_SAFE[c] || safe.includes(s[i]))) continue;
    if (c > 255) {
      throw new TypeError(
        `${what} must be a native string (code units 0-255), but has ` +
          `U+${c.toString(16).toUpperCase()} at index ${i}`,
      );
    }
    out += s.slice(from, i) + "%" + HEX[c >> 4] + HEX[c & 15];
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

/**
 * The application's base URI: scheme, host (from `HTTP_HOST`, else
 * `SERVER_NAME` and a non-default `SERVER_PORT`) and the quoted
 * `SCRIPT_NAME` (or `/`), without `PATH_INFO` or `QUERY_STRING`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { applicationUri, setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = { SCRIPT_NAME: "/sp\xe4m" };
 * setupTestingDefaults(environ);
 * assertEquals(applicationUri(environ), "http://127.0.0.1/sp%E4m");
 * ```
 */
export function applicationUri(environ: Partial<WSGIEnvironment>): string {
  const scheme = required(environ, "wsgi.url_scheme");
  let url = scheme + "://";
  if (environ.HTTP_HOST) {
    url += environ.HTTP_HOST;
  } else {
    url += required(environ, "SERVER_NAME");
    const port = required(environ, "SERVER_PORT");
    if (port !== (scheme === "https" ? "443" : "80")) url += ":" + port;
  }
  return url + quote(environ.SCRIPT_NAME || "/", "/", "SCRIPT_NAME");
}

/**
 * The full request URI: {@linkcode applicationUri}, then the quoted
 * `PATH_INFO` (`/`, `;`, `=` and `,` kept), then `?QUERY_STRING` when
 * `includeQuery` is true and there is a query.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { requestUri, setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = {
 *   SCRIPT_NAME: "/spammity",
 *   PATH_INFO: "/spam;cookie=1234,5678",
 *   QUERY_STRING: "say=ni",
 * };
 * setupTestingDefaults(environ);
 * assertEquals(
 *   requestUri(environ),
 *   "http://127.0.0.1/spammity/spam;cookie=1234,5678?say=ni",
 * );
 * assertEquals(
 *   requestUri(environ, false),
 *   "http://127.0.0.1/spammity/spam;cookie=1234,5678",
 * );
 * ```
 */
export function requestUri(
  environ: Partial<WSGIEnvironment>,
  includeQuery = true,
): string {
  let url = applicationUri(environ);
  const pathInfo = quote(environ.PATH_INFO ?? "", "/;=,", "PATH_INFO");
  url += environ.SCRIPT_NAME ? pathInfo : pathInfo.slice(1);
  if (includeQuery && environ.QUERY_STRING) url += "?" + environ.QUERY_STRING;
  return url;
}

// posixpath.normpath, as shift_path_info uses it.
function normpath(path: string): string {
  if (!path) return ".";
  let initial = path.startsWith("/") ? 1 : 0;
  if (initial && path.startsWith("//") && !path.startsWith("///")) initial = 2;
  const comps: string[] = [];
  for (const comp of path.split("/")) {
    if (comp === "" || comp === ".") continue;
    if (
      comp !== ".." || (!initial && comps.length === 0) ||
      comps[comps.length - 1] === ".."
    ) {
      comps.push(comp);
    } else if (comps.length) {
      comps.pop();
    }
  }
  return ("/".repeat(initial) + comps.join("/")) || ".";
}

/**
 * Shifts one path segment from `PATH_INFO` to `SCRIPT_NAME` and returns it,
 * as wsgiref's `shift_path_info` does (modifying `environ` in place).
 *
 * Empty and `.` segments inside `PATH_INFO` are dropped and `SCRIPT_NAME` is
 * normalised (so `..` climbs). Returns `undefined` when `PATH_INFO` is empty,
 * or when the shifted segment is `.`. When `PATH_INFO` is just `/`, returns
 * `""` and appends `/` to `SCRIPT_NAME`, so `/x` and `/x/` stay apart.
 *
 * @example Routing on the first segment
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { shiftPathInfo } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = { SCRIPT_NAME: "/a", PATH_INFO: "/x/y" };
 * assertEquals(shiftPathInfo(environ), "x");
 * assertEquals(environ.SCRIPT_NAME, "/a/x");
 * assertEquals(environ.PATH_INFO, "/y");
 * ```
 */
export function shiftPathInfo(
  environ: Partial<WSGIEnvironment>,
): string | undefined {
  const pathInfo = environ.PATH_INFO ?? "";
  if (!pathInfo) return undefined;
  let parts = pathInfo.split("/");
  if (parts.length < 2) {
    throw new TypeError(
      `PATH_INFO must be empty or start with "/", got ${
        JSON.stringify(pathInfo)
      }`,
    );
  }
  parts = [
    parts[0],
    ...parts.slice(1, -1).filter((p) => p && p !== "."),
    parts[parts.length - 1],
  ];
  const name = parts[1];
  parts.splice(1, 1);

  let scriptName = normpath((environ.SCRIPT_NAME ?? "") + "/" + name);
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (!name && !scriptName.endsWith("/")) scriptName += "/";

  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = parts.join("/");
  return name === "." ? undefined : name;
}

function setDefault(
  environ: Partial<WSGIEnvironment>,
  key: string,
  value: unknown,
) {
  if (!Object.hasOwn(environ, key)) environ[key] = value;
}

/**
 * Fills `environ` with trivial defaults for tests, as wsgiref's
 * `setup_testing_defaults`: `SERVER_NAME` `127.0.0.1`, `SERVER_PROTOCOL`
 * `HTTP/1.0`, `HTTP_HOST` (from `SERVER_NAME`), `REQUEST_METHOD` `GET`,
 * `SCRIPT_NAME` `""` and `PATH_INFO` `/` (when neither is set), every
 * `wsgi.*` key (an empty {@linkcode BytesIO} input, a {@linkcode StringIO}
 * errors stream, the scheme from {@linkcode guessScheme}) and `SERVER_PORT`
 * `80` or `443` by scheme. Keys already present are kept, even if their
 * value is `undefined`.
 *
 * Not for real servers: the data is fake.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const environ: Partial<WSGIEnvironment> = { HTTPS: "on" };
 * setupTestingDefaults(environ); // now a WSGIEnvironment
 * assertEquals(environ["wsgi.url_scheme"], "https");
 * assertEquals(environ.SERVER_PORT, "443");
 * assertEquals(environ["wsgi.input"].read().length, 0);
 * ```
 */
export function setupTestingDefaults(
  environ: Partial<WSGIEnvironment>,
): asserts environ is WSGIEnvironment {
  setDefault(environ, "SERVER_NAME", "127.0.0.1");
  setDefault(environ, "SERVER_PROTOCOL", "HTTP/1.0");
  setDefault(environ, "HTTP_HOST", environ.SERVER_NAME);
  setDefault(environ, "REQUEST_METHOD", "GET");
  if (
    !Object.hasOwn(environ, "SCRIPT_NAME") &&
    !Object.hasOwn(environ, "PATH_INFO")
  ) {
    environ.SCRIPT_NAME = "";
    environ.PATH_INFO = "/";
  }
  setDefault(environ, "wsgi.version", [1, 0]);
  setDefault(environ, "wsgi.run_once", false);
  setDefault(environ, "wsgi.multithread", false);
  setDefault(environ, "wsgi.multiprocess", false);
  setDefault(environ, "wsgi.input", new BytesIO());
  setDefault(environ, "wsgi.errors", new StringIO());
  setDefault(environ, "wsgi.url_scheme", guessScheme(environ));
  if (environ["wsgi.url_scheme"] === "http") {
    setDefault(environ, "SERVER_PORT", "80");
  } else if (environ["wsgi.url_scheme"] === "https") {
    setDefault(environ, "SERVER_PORT", "443");
  }
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

/**
 * True if `name` is an HTTP/1.1 hop-by-hop header (`Connection`,
 * `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`, `TE`,
 * `Trailers`, `Transfer-Encoding`, `Upgrade`), in any case. A WSGI app must
 * not set these: the server owns them.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { isHopByHop } from "@wsgiref/wsgiref/util";
 *
 * assertEquals(isHopByHop("Keep-Alive"), true);
 * assertEquals(isHopByHop("Cache-Control"), false);
 * ```
 */
export function isHopByHop(name: string): boolean {
  // Only these lengths can match: most names are told apart without
  // lower-casing them.
  switch (name.length) {
    case 2:
    case 7:
    case 8:
    case 10:
    case 17:
    case 18:
    case 19:
      return HOP_BY_HOP.has(name.toLowerCase());
    default:
      return false;
  }
}

function isFsFile(f: unknown): f is Deno.FsFile {
  return typeof Deno !== "undefined" && typeof Deno.FsFile === "function" &&
    f instanceof Deno.FsFile;
}

/**
 * Wraps a file-like object as a response body, as wsgiref's `FileWrapper`:
 * iterating it reads `blksize`-byte blocks until the file ends. It is both
 * sync- and async-iterable: a `Deno.FsFile` or a file-like whose `read`
 * returns bytes works both ways; a file-like whose `read` returns a promise
 * only with `for await`.
 *
 * Iterating never closes the file; {@linkcode FileWrapper.close} does (the
 * server calls it when the response ends). Servers may send a wrapped
 * `Deno.FsFile` in a faster way (the handler's `sendfile` hook).
 *
 * @example Serving a file
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { FileWrapper, setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(100_000));
 *
 * const app: WSGIApplication = async (_environ, startResponse) => {
 *   const file = await Deno.open(path);
 *   startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
 *   return new FileWrapper(file, 65536);
 * };
 *
 * const environ: Partial<WSGIEnvironment> = {};
 * setupTestingDefaults(environ);
 * const body = await app(environ, () => () => {}) as FileWrapper;
 * assertEquals([...body].map((block) => block.length), [65536, 34464]);
 * await body.close(); // closes the file, as a server does
 * await Deno.remove(path);
 * ```
 */
export class FileWrapper
  implements Iterable<Uint8Array>, AsyncIterable<Uint8Array> {
  /** The wrapped file-like object. */
  readonly filelike: FileLike | Deno.FsFile;
  /** The block size used when reading. */
  readonly blksize: number;
  #closed = false;

  /**
   * Wraps `filelike`, to be read in blocks of `blksize` bytes.
   *
   * @param filelike a `Deno.FsFile`, or an object with `read(size)`
   * @param blksize the size of the blocks to read, 8192 by default
   */
  constructor(filelike: FileLike | Deno.FsFile, blksize = 8192) {
    if (
      filelike === null || typeof filelike !== "object" ||
      typeof (filelike as { read?: unknown }).read !== "function"
    ) {
      throw new TypeError(
        `FileWrapper needs a Deno.FsFile or an object with read(size), got ${
          filelike === null ? "null" : typeof filelike
        }`,
      );
    }
    if (!Number.isInteger(blksize) || blksize <= 0) {
      throw new RangeError(
        `FileWrapper blksize must be a positive integer, got ${blksize}`,
      );
    }
    this.filelike = filelike;
    this.blksize = blksize;
  }

  /** Reads the next block synchronously; `null` at the end of the file. */
  #readSync(): Uint8Array | null {
    const f = this.filelike;
    if (isFsFile(f)) {
      const buf = new Uint8Array(this.blksize);
      const n = f.readSync(buf);
      return n === null || n === 0 ? null : buf.subarray(0, n);
    }
    const data = (f as FileLike).read(this.blksize);
    if (data instanceof Promise) {
      throw new TypeError(
        "This FileWrapper's filelike reads asynchronously: iterate it with `for await`",
      );
    }
    return data && data.length ? data : null;
  }

  /** Reads the next block; `null` at the end of the file. */
  async #read(): Promise<Uint8Array | null> {
    const f = this.filelike;
    if (isFsFile(f)) {
      const buf = new Uint8Array(this.blksize);
      const n = await f.read(buf);
      return n === null || n === 0 ? null : buf.subarray(0, n);
    }
    const data = await (f as FileLike).read(this.blksize);
    return data && data.length ? data : null;
  }

  /** Yields the file's blocks, read synchronously. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let b = this.#readSync(); b !== null; b = this.#readSync()) yield b;
  }

  /** Yields the file's blocks. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let b = await this.#read(); b !== null; b = await this.#read()) {
      yield b;
    }
  }

  /**
   * Closes the wrapped file if it can be closed; later calls do nothing. A
   * `Deno.FsFile` closed already (a server that sent the file as its own
   * stream closes it at the end) is left as it is, as Python's `close()`
   * of a closed file does nothing.
   */
  close(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const f = this.filelike as { close?: () => void | Promise<void> };
    if (typeof f.close !== "function") return;
    try {
      return f.close();
    } catch (e) {
      if (!(isFsFile(f) && e instanceof Deno.errors.BadResource)) throw e;
    }
  }
}

const NL = 0x0a;
const EMPTY = new Uint8Array(0);

/**
 * An in-memory byte stream, like Python's `io.BytesIO`: an
 * {@linkcode InputStream} for `wsgi.input` over the given bytes, and a sink
 * for handlers' output (`write` appends and returns the count; `getValue`
 * returns everything written). Reads consume from the front; writes append
 * at the end.
 *
 * Reads return views into the stream's buffer, not copies.
 *
 * @example A request body and a response sink
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BytesIO } from "@wsgiref/wsgiref/util";
 *
 * const text = (b: Uint8Array) => new TextDecoder().decode(b);
 * const input = new BytesIO(new TextEncoder().encode("a=1\nb=2\n"));
 * assertEquals(text(input.readline()), "a=1\n");
 * assertEquals(text(input.read()), "b=2\n");
 *
 * const out = new BytesIO();
 * out.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n"));
 * assertEquals(text(out.getValue()), "HTTP/1.0 200 OK\r\n");
 * ```
 */
export class BytesIO implements InputStream {
  #buf: Uint8Array;
  #len: number;
  #pos = 0;

  /**
   * Makes a stream over `initial`, which is not copied.
   *
   * @param initial the bytes to read from
   */
  constructor(initial: Uint8Array = EMPTY) {
    if (!(initial instanceof Uint8Array)) {
      throw new TypeError(
        `BytesIO takes a Uint8Array, got ${typeof initial}: encode text first`,
      );
    }
    this.#buf = initial;
    this.#len = initial.length;
  }

  /** How many bytes are left to read. */
  get remaining(): number {
    return this.#len - this.#pos;
  }

  /** Reads up to `size` bytes; everything left when `size` is omitted or negative. */
  read(size?: number | null): Uint8Array {
    const left = this.#len - this.#pos;
    const n = size === undefined || size === null || size < 0
      ? left
      : Math.min(size, left);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Copies up to `buffer.length` bytes into `buffer`; returns how many (0 at the end). */
  readinto(buffer: Uint8Array): number {
    const n = Math.min(buffer.length, this.#len - this.#pos);
    buffer.set(this.#buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return n;
  }

  /** Reads one line, `\n` included, or at most `size` bytes of it. */
  readline(size?: number | null): Uint8Array {
    let end = this.#buf.indexOf(NL, this.#pos);
    end = end === -1 || end >= this.#len ? this.#len : end + 1;
    if (size !== undefined && size !== null && size >= 0) {
      end = Math.min(end, this.#pos + size);
    }
    const out = this.#buf.subarray(this.#pos, end);
    this.#pos = end;
    return out;
  }

  /**
   * Reads the remaining lines; with a positive `hint`, stops once the
   * lines read total at least `hint` bytes.
   */
  readlines(hint?: number | null): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let total = 0;
    const limit = hint === undefined || hint === null || hint <= 0
      ? Infinity
      : hint;
    while (total < limit) {
      const line = this.readline();
      if (line.length === 0) break;
      lines.push(line);
      total += line.length;
    }
    return lines;
  }

  /** Iterates over the remaining lines. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let line = this.readline(); line.length; line = this.readline()) {
      yield line;
    }
  }

  /** Appends `p` and returns its length. */
  write(p: Uint8Array): number {
    if (!(p instanceof Uint8Array)) {
      throw new TypeError(`BytesIO.write takes a Uint8Array, got ${typeof p}`);
    }
    const need = this.#len + p.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 256));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(p, this.#len);
    this.#len = need;
    return p.length;
  }

  /** A copy of every byte the stream holds, read or not. */
  getValue(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/**
 * An in-memory text stream, like Python's `io.StringIO`: an
 * {@linkcode ErrorStream} for `wsgi.errors` that keeps everything written,
 * so tests can read it back with `getValue()`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StringIO } from "@wsgiref/wsgiref/util";
 *
 * const errors = new StringIO();
 * errors.write("oops\n");
 * errors.writelines(["a\n", "b\n"]);
 * assertEquals(errors.getValue(), "oops\na\nb\n");
 * ```
 */
export class StringIO implements ErrorStream {
  #parts: string[] = [];

  /**
   * Makes a stream holding `initial`.
   *
   * @param initial text the stream starts with
   */
  constructor(initial = "") {
    if (initial) this.#parts.push(initial);
  }

  /** Appends `s`; a non-string is a `TypeError`. */
  write(s: string): void {
    if (typeof s !== "string") {
      throw new TypeError(
        `wsgi.errors takes strings, got ${typeof s}: decode bytes first`,
      );
    }
    this.#parts.push(s);
  }

  /** Appends each string in turn. */
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  /** Does nothing: nothing is buffered. */
  flush(): void {}

  /** Everything written so far. */
  getValue(): string {
    if (this.#parts.length > 1) this.#parts = [this.#parts.join("")];
    return this.#parts[0] ?? "";
  }
}

// ---------------------------------------------------------------------------
// Native strings and text

/** `bytes[from..to)` as hex pairs, for a message. */
function hexBytes(bytes: Uint8Array, from: number, to: number): string {
  return Array.from(
    bytes.subarray(from, to),
    (b) => b.toString(16).toUpperCase().padStart(2, "0"),
  ).join(" ");
}

/**
 * Why `bytes` do not decode as `encoding` (a `TextDecoder` that refused
 * them): where the first bad character starts, and its bytes.
 */
function undecodable(bytes: Uint8Array, encoding: string): string {
  const decodes = (n: number, stream: boolean): boolean => {
    try {
      new TextDecoder(encoding, { fatal: true, ignoreBOM: true })
        .decode(bytes.subarray(0, n), { stream });
      return true;
    } catch {
      return false;
    }
  };
  // The longest prefix that could still go on (a prefix of one that can
  // goes on too), then the last character boundary at or before it.
  let ok = 0;
  let bad = bytes.length + 1;
  while (bad - ok > 1) {
    const mid = (ok + bad) >>> 1;
    if (decodes(mid, true)) ok = mid;
    else bad = mid;
  }
  let start = ok;
  for (let m = ok; m >= Math.max(0, ok - 8); m--) {
    if (decodes(m, false)) {
      start = m;
      break;
    }
  }
  return ok === bytes.length
    ? `they end inside a character: ${
      hexBytes(bytes, start, ok)
    } at byte offset ${start} is incomplete`
    : `${hexBytes(bytes, start, ok + 1)} at byte offset ${start} is not ` +
      `a character`;
}

/**
 * The text a native string's bytes encode: PEP 3333's environ holds the
 * request's bytes read as ISO-8859-1 ("bytes in unicode"), so `PATH_INFO`
 * for `/caf%C3%A9` is `"/caf\xc3\xa9"`, and `nativeToText` gives back
 * `"/café"`. Use it on `PATH_INFO`, `SCRIPT_NAME`, a header value or a
 * decoded query parameter before treating them as text (a file name, a
 * greeting); keep the native string where bytes matter (building URLs with
 * {@linkcode requestUri}, passing the environ on).
 *
 * `label` names the bytes' encoding, as `TextDecoder` takes it. A byte
 * order mark is kept. Throws a `TypeError` when `native` has a code unit
 * above 0xFF (it is not a native string: probably text already), and when
 * the bytes are not valid in `label`, naming the byte offset of the first
 * bad character; catch it to answer such a request with a 400 or a 404.
 *
 * @example
 * ```ts
 * import { nativeToText } from "@wsgiref/wsgiref/util";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(nativeToText("/caf\xc3\xa9"), "/café");
 * assertEquals(nativeToText("/caf\xe9", "windows-1252"), "/café");
 * // Latin-1 bytes are not UTF-8:
 * assertThrows(
 *   () => nativeToText("/caf\xe9/x"),
 *   TypeError,
 *   "E9 2F at byte offset 4 is not a character",
 * );
 * // Text is not a native string:
 * assertThrows(() => nativeToText("/日本"), TypeError, "U+65E5 at index 1");
 * ```
 *
 * @param native a native string (code units 0-255)
 * @param label the encoding of its bytes (`TextDecoder` labels); UTF-8 by default
 * @returns the text
 */
export function nativeToText(native: string, label = "utf-8"): string {
  if (typeof native !== "string") {
    throw new TypeError(
      `nativeToText takes a native string, got ${
        native === null ? "null" : typeof native
      }`,
    );
  }
  const bytes = latin1Encode(
    native,
    "nativeToText's input",
    "it is text already (or was converted twice), and needs no conversion",
  );
  const decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
  try {
    return decoder.decode(bytes);
  } catch {
    throw new TypeError(
      `nativeToText: the bytes are not valid ${decoder.encoding}: ${
        undecodable(bytes, decoder.encoding)
      }; name their encoding (nativeToText(s, "windows-1252")) or answer ` +
        `the request with a 400`,
    );
  }
}

const utf8Encoder = new TextEncoder();

/**
 * The native string of a text's UTF-8 bytes: `"/café"` becomes
 * `"/caf\xc3\xa9"`, what a server puts in `PATH_INFO` for `/caf%C3%A9`.
 * The inverse of {@linkcode nativeToText}; use it to build an environ by
 * hand (a test, a gateway) or to compare an environ value with text.
 *
 * Throws a `TypeError` for a lone surrogate (half of a UTF-16 pair), which
 * UTF-8 cannot encode.
 *
 * @example
 * ```ts
 * import { nativeToText, textToNative } from "@wsgiref/wsgiref/util";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(textToNative("/café"), "/caf\xc3\xa9");
 * assertEquals(nativeToText(textToNative("/日本")), "/日本");
 * ```
 *
 * @param text any well-formed string
 * @returns a native string (code units 0-255)
 */
export function textToNative(text: string): string {
  if (typeof text !== "string") {
    throw new TypeError(
      `textToNative takes a string, got ${
        text === null ? "null" : typeof text
      }`,
    );
  }
  if (!text.isWellFormed()) {
    let i = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff) break;
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = text.charCodeAt(i + 1);
        if (!(d >= 0xdc00 && d <= 0xdfff)) break;
        i++;
      }
    }
    throw new TypeError(
      `textToNative: the text has a lone surrogate U+${
        text.charCodeAt(i).toString(16).toUpperCase()
      } at index ${i}, which UTF-8 cannot encode (a string cut in the ` +
        `middle of a character?)`,
    );
  }
  return latin1Decode(utf8Encoder.encode(text));
}
