// The checks and wrappers behind validate.ts: a port of wsgiref's
// validate.py (Paste's lint), check for check, plus the traps that
// TypeScript adds (bare Uint8Array or string bodies, async bodies).

import { AssertionError, check } from "./_gateway.ts";
import { repr, typeName } from "./_repr.ts";
import type {
  ErrorStream,
  InputStream,
  ResponseBody,
  WriteFn,
} from "./types.ts";

/** Reports a questionable (not broken) use of WSGI. */
export type Warn = (message: string) => void;

const HEADER_NAME = /^[a-zA-Z][a-zA-Z0-9\-_]*$/;
// deno-lint-ignore no-control-regex
const BAD_HEADER_VALUE = /[\x00-\x1f]/;
const REQUIRED_KEYS = [
  "REQUEST_METHOD",
  "SERVER_NAME",
  "SERVER_PORT",
  "wsgi.version",
  "wsgi.input",
  "wsgi.errors",
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
];
const KNOWN_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "OPTIONS",
  "PATCH",
  "PUT",
  "DELETE",
  "TRACE",
];
const NO_MESSAGE_BODY = [204, 304];

function fail(message: string): never {
  throw new AssertionError(message);
}

/**
 * Runs `body`; an {@linkcode AssertionError} it throws gets its stack
 * recaptured above `boundary`, so that the first frame of the traceback is
 * the caller's line (the app's call to `startResponse`, say), not the
 * validator's internals.
 */
// deno-lint-ignore ban-types
export function blame<T>(boundary: Function, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof AssertionError) {
      Error.captureStackTrace(error, boundary);
    }
    throw error;
  }
}

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return (typeof value === "object" && value !== null) ||
    typeof value === "function";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A key counts as present when it is an own key whose value is not `undefined`. */
function has(environ: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(environ, key) && environ[key] !== undefined;
}

function checkStringType(value: unknown, title: string): string {
  if (typeof value === "string") return value;
  fail(`${title} must be of type string (got ${repr(value)})`);
}

function plural(n: number): string {
  return n === 1 ? "1 argument" : `${n} arguments`;
}

// ---------------------------------------------------------------------------
// The environ

/** wsgiref's `check_environ`, in the same order. */
export function checkEnviron(
  environ: unknown,
  warn: Warn,
): asserts environ is Record<string, unknown> {
  check(
    isPlainObject(environ),
    () =>
      `Environment is not of the right type: ${typeName(environ)} ` +
      `(environment: ${repr(environ)})`,
  );

  for (const key of REQUIRED_KEYS) {
    check(
      has(environ, key),
      () => `Environment missing required key: ${repr(key)}`,
    );
  }

  for (const key of ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"]) {
    check(
      !has(environ, key),
      () =>
        `Environment should not have the key: ${key} ` +
        `(use ${key.slice(5)} instead)`,
    );
  }

  if (!has(environ, "QUERY_STRING")) {
    warn(
      "QUERY_STRING is not in the WSGI environment; the cgi " +
        "module will use sys.argv when this variable is missing, " +
        "so application errors are more likely",
    );
  }

  for (const key of Object.keys(environ)) {
    if (key.includes(".")) continue; // an extension: any type
    const value = environ[key];
    if (value === undefined) continue;
    check(
      typeof value === "string",
      () =>
        `Environmental variable ${key} is not a string: ${typeName(value)} ` +
        `(value: ${repr(value)})`,
    );
  }

  const version = environ["wsgi.version"];
  check(
    Array.isArray(version) && version.length === 2 &&
      version.every((n) => Number.isInteger(n) && n >= 0),
    () => `wsgi.version should be an array like [1, 0] (${repr(version)})`,
  );
  const scheme = environ["wsgi.url_scheme"];
  check(
    scheme === "http" || scheme === "https",
    () => `wsgi.url_scheme unknown: ${repr(scheme)}`,
  );

  checkInput(environ["wsgi.input"]);
  checkErrors(environ["wsgi.errors"]);

  const method = environ.REQUEST_METHOD as string;
  if (!KNOWN_METHODS.includes(method)) {
    warn(`Unknown REQUEST_METHOD: ${repr(method)}`);
  }

  const scriptName = environ.SCRIPT_NAME as string | undefined;
  const pathInfo = environ.PATH_INFO as string | undefined;
  check(
    !scriptName || scriptName.startsWith("/"),
    () => `SCRIPT_NAME doesn't start with /: ${repr(scriptName)}`,
  );
  check(
    !pathInfo || pathInfo.startsWith("/"),
    () => `PATH_INFO doesn't start with /: ${repr(pathInfo)}`,
  );
  const contentLength = environ.CONTENT_LENGTH as string | undefined;
  if (contentLength) {
    check(
      /^[0-9]+$/.test(contentLength),
      () => `Invalid CONTENT_LENGTH: ${repr(contentLength)}`,
    );
  }

  if (!scriptName) {
    check(
      has(environ, "PATH_INFO"),
      "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO " +
        "should at least be '/' if SCRIPT_NAME is empty)",
    );
  }
  check(
    scriptName !== "/",
    "SCRIPT_NAME cannot be '/'; it should instead be '', and " +
      "PATH_INFO should be '/'",
  );
}

const INPUT_METHODS: [PropertyKey, string][] = [
  ["read", "read"],
  ["readline", "readline"],
  ["readlines", "readlines"],
  [Symbol.iterator, "[Symbol.iterator]"],
];

function checkInput(input: unknown): void {
  for (const [key, label] of INPUT_METHODS) {
    check(
      isObject(input) && typeof input[key] === "function",
      () => `wsgi.input (${repr(input)}) doesn't have the attribute ${label}`,
    );
  }
}

function checkErrors(errors: unknown): void {
  for (const attr of ["flush", "write", "writelines"]) {
    check(
      isObject(errors) && typeof errors[attr] === "function",
      () => `wsgi.errors (${repr(errors)}) doesn't have the attribute ${attr}`,
    );
  }
}

// ---------------------------------------------------------------------------
// wsgi.input and wsgi.errors

function checkBytes(value: unknown, what: string): Uint8Array {
  check(
    value instanceof Uint8Array,
    () => `${what} returned a non-Uint8Array: ${repr(value)}`,
  );
  return value;
}

/** wsgiref's `InputWrapper`: `wsgi.input` as the application sees it. */
export class InputWrapper implements InputStream {
  #input: InputStream;

  constructor(input: InputStream) {
    this.#input = input;
  }

  read(...args: [size?: number]): Uint8Array {
    return blame(this.read, () => {
      check(
        args.length === 1,
        () =>
          `wsgi.input.read() must be called with exactly one argument, ` +
          `the size (got ${plural(args.length)})`,
      );
      return checkBytes(this.#input.read(...args), "wsgi.input.read()");
    });
  }

  readline(...args: [size?: number]): Uint8Array {
    return blame(this.readline, () => {
      check(
        args.length <= 1,
        () =>
          `wsgi.input.readline() takes at most one argument ` +
          `(got ${plural(args.length)})`,
      );
      return checkBytes(this.#input.readline(...args), "wsgi.input.readline()");
    });
  }

  readlines(...args: [hint?: number]): Uint8Array[] {
    return blame(this.readlines, () => {
      check(
        args.length <= 1,
        () =>
          `wsgi.input.readlines() takes at most one argument ` +
          `(got ${plural(args.length)})`,
      );
      const lines: unknown = this.#input.readlines(...args);
      check(
        Array.isArray(lines),
        () => `wsgi.input.readlines() returned a non-array: ${repr(lines)}`,
      );
      for (const line of lines) checkBytes(line, "wsgi.input.readlines()");
      return lines;
    });
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (;;) {
      const line = this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  close(): never {
    return blame(this.close, () => fail("input.close() must not be called"));
  }
}

/** wsgiref's `ErrorWrapper`: `wsgi.errors` as the application sees it. */
export class ErrorWrapper implements ErrorStream {
  #errors: ErrorStream;

  constructor(errors: ErrorStream) {
    this.#errors = errors;
  }

  write(...args: [s: string]): void {
    return blame(this.write, () => {
      check(
        args.length === 1,
        () =>
          `wsgi.errors.write() takes exactly one argument ` +
          `(got ${plural(args.length)})`,
      );
      const [s] = args;
      check(
        typeof s === "string",
        () => `wsgi.errors.write() argument must be a string (got ${repr(s)})`,
      );
      this.#errors.write(s);
    });
  }

  writelines(lines: Iterable<string>): void {
    return blame(this.writelines, () => {
      for (const line of lines) this.write(line);
    });
  }

  flush(): void {
    this.#errors.flush();
  }

  close(): never {
    return blame(this.close, () => fail("errors.close() must not be called"));
  }
}

/** wsgiref's `WriteWrapper`: the `write()` callable the application gets. */
export function wrapWrite(write_: WriteFn): WriteFn {
  return function write(...args: unknown[]) {
    blame(write, () => checkWrite(args));
    write_(args[0] as Uint8Array);
  };
}

function checkWrite(args: unknown[]): void {
  check(
    args.length === 1,
    () => `write() takes exactly one argument (got ${plural(args.length)})`,
  );
  const [data] = args;
  check(
    data instanceof Uint8Array,
    () => `write() argument must be a Uint8Array (got ${repr(data)})`,
  );
}

// ---------------------------------------------------------------------------
// startResponse

/** wsgiref's `check_status`. Returns the numeric code. */
export function checkStatus(status: unknown, warn: Warn): number {
  const s = checkStringType(status, "Status");
  const statusCode = s.trim().split(/\s+/, 1)[0];
  check(
    statusCode.length === 3,
    () => `Status codes must be three characters: ${repr(statusCode)}`,
  );
  const code = /^[0-9]{3}$/.test(statusCode) ? Number(statusCode) : NaN;
  check(
    code >= 100,
    () =>
      `Status code is invalid: ${Number.isNaN(code) ? repr(statusCode) : code}`,
  );
  if (s.length < 4 || s[3] !== " ") {
    warn(
      `The status string (${repr(s)}) should be a three-digit integer ` +
        "followed by a single space and a status explanation",
    );
  }
  return code;
}

/** wsgiref's `check_headers`. */
export function checkHeaders(
  headers: unknown,
): asserts headers is [string, string][] {
  check(
    Array.isArray(headers),
    () =>
      `Headers (${repr(headers)}) must be of type array: ${typeName(headers)}`,
  );
  for (const item of headers as unknown[]) {
    check(
      Array.isArray(item),
      () =>
        `Individual headers (${repr(item)}) must be of type array: ` +
        typeName(item),
    );
    check(
      item.length === 2,
      () =>
        `Individual headers (${repr(item)}) must be [name, value] pairs ` +
        `(got ${item.length} items)`,
    );
    const name = checkStringType(item[0], "Header name");
    const value = checkStringType(item[1], "Header value");
    check(
      name.toLowerCase() !== "status",
      () =>
        "The Status header cannot be used; it conflicts with CGI " +
        "script, and HTTP status is not given through headers " +
        `(value: ${repr(value)}).`,
    );
    check(
      !name.includes("\n") && !name.includes(":"),
      () => `Header names may not contain ':' or '\\n': ${repr(name)}`,
    );
    check(HEADER_NAME.test(name), () => `Bad header name: ${repr(name)}`);
    check(
      !name.endsWith("-") && !name.endsWith("_"),
      () => `Names may not end in '-' or '_': ${repr(name)}`,
    );
    const bad = BAD_HEADER_VALUE.exec(value);
    if (bad) {
      fail(`Bad header value: ${repr(value)} (bad char: ${repr(bad[0])})`);
    }
  }
}

/** wsgiref's `check_content_type`. */
export function checkContentType(
  code: number,
  headers: [string, string][],
): void {
  const noBody = NO_MESSAGE_BODY.includes(code);
  for (const [name] of headers) {
    if (name.toLowerCase() === "content-type") {
      if (!noBody) return;
      fail(
        `Content-Type header found in a ${code} response, ` +
          "which must not return content.",
      );
    }
  }
  if (!noBody) {
    fail(`No Content-Type header found in headers (${repr(headers)})`);
  }
}

/** wsgiref's `check_exc_info`: absent, or the value that was thrown. */
export function checkExcInfo(excInfo: unknown): void {
  check(
    excInfo === undefined || excInfo === null || excInfo instanceof Error,
    () => `excInfo (${repr(excInfo)}) is not an Error: ${typeName(excInfo)}`,
  );
}

// ---------------------------------------------------------------------------
// The response body

/** wsgiref's `check_iterator`, plus "is it iterable at all". */
export function checkBody(body: unknown): asserts body is ResponseBody {
  check(
    body !== undefined && body !== null && body !== false,
    "The application must return an iterator, if only an empty array",
  );
  if (typeof body === "string" || body instanceof Uint8Array) {
    fail(
      `You should not return a ${
        typeof body === "string" ? "string" : "Uint8Array"
      } as your application iterator, instead return a single-item ` +
        "array containing a Uint8Array.",
    );
  }
  check(
    isObject(body) &&
      (typeof body[Symbol.iterator] === "function" ||
        typeof body[Symbol.asyncIterator] === "function"),
    () =>
      "The application must return an iterator, if only an empty array " +
      `(got ${repr(body)})`,
  );
}

/** What a body wrapper shares with its iterators and the GC check. */
interface BodyState {
  closed: boolean;
}

const UNCLOSED = "Iterator garbage collected without being closed";

const unclosedBodies = new FinalizationRegistry<BodyState>((state) => {
  // wsgiref prints this from __del__; there is no caller left to throw to.
  if (!state.closed) console.error(UNCLOSED);
});

/**
 * wsgiref's `IteratorWrapper`, for sync and async bodies: checks every
 * chunk, that `startResponse` came first, that nothing is read after
 * `close()`, and that `close()` is called exactly once (and, through a
 * `FinalizationRegistry`, at all).
 */
class BodyWrapper {
  #original: ResponseBody;
  #state: BodyState = { closed: false };
  #started: () => boolean;
  #checkStart = true;
  #sync?: Iterator<Uint8Array>;
  #async?: AsyncIterator<Uint8Array>;

  constructor(original: ResponseBody, started: () => boolean) {
    this.#original = original;
    this.#started = started;
    unclosedBodies.register(this, this.#state, this);
  }

  #checkChunk(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      fail(
        `Iterator yielded non-bytestring (${repr(value)}); ` +
          "body chunks must be Uint8Array",
      );
    }
    if (this.#checkStart) {
      check(
        this.#started(),
        "The application returns and we started iterating over its body, " +
          "but start_response has not yet been called",
      );
      this.#checkStart = false;
    }
    return value;
  }

  #checkOpen(): void {
    check(!this.#state.closed, "Iterator read after closed");
  }

  protected syncIterator(): IterableIterator<Uint8Array> {
    this.#sync ??= (this.#original as Iterable<Uint8Array>)
      [Symbol.iterator]();
    const inner = this.#sync;
    const next = (): IteratorResult<Uint8Array> => {
      this.#checkOpen();
      const result = inner.next();
      if (result.done) return result;
      return { done: false, value: this.#checkChunk(result.value) };
    };
    const iterator: IterableIterator<Uint8Array> = {
      next: function next_() {
        return blame(next_, next);
      },
      return: (value?: unknown) => {
        inner.return?.(value);
        return { done: true, value };
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  protected asyncIterator(): AsyncIterableIterator<Uint8Array> {
    this.#async ??= (this.#original as AsyncIterable<Uint8Array>)
      [Symbol.asyncIterator]();
    const inner = this.#async;
    const checkOpen = () => this.#checkOpen();
    const checkChunk = (value: unknown) => this.#checkChunk(value);
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: async function next() {
        blame(next, checkOpen);
        const result = await inner.next();
        if (result.done) return result;
        return {
          done: false,
          value: blame(next, () => checkChunk(result.value)),
        };
      },
      return: async (value?: unknown) => {
        await inner.return?.(value);
        return { done: true, value };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Passes `close()` through to the original body, exactly once. */
  close(): void | Promise<void> {
    blame(this.close, () =>
      check(
        !this.#state.closed,
        "Iterator closed twice: close() must be called exactly once",
      ));
    this.#state.closed = true;
    unclosedBodies.unregister(this);
    if (typeof this.#original.close === "function") {
      return this.#original.close();
    }
  }
}

class SyncBodyWrapper extends BodyWrapper implements Iterable<Uint8Array> {
  [Symbol.iterator](): IterableIterator<Uint8Array> {
    return this.syncIterator();
  }
}

class AsyncBodyWrapper extends BodyWrapper
  implements AsyncIterable<Uint8Array> {
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.asyncIterator();
  }
}

class DualBodyWrapper extends BodyWrapper
  implements Iterable<Uint8Array>, AsyncIterable<Uint8Array> {
  [Symbol.iterator](): IterableIterator<Uint8Array> {
    return this.syncIterator();
  }
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.asyncIterator();
  }
}

/**
 * Wraps a checked body: sync-iterable if the original is, async-iterable
 * if the original is (a `ReadableStream` is), both if both.
 */
export function wrapBody(
  body: ResponseBody,
  started: () => boolean,
): ResponseBody {
  const sync = typeof (body as Partial<Iterable<Uint8Array>>)[
    Symbol.iterator
  ] === "function";
  const async = typeof (body as Partial<AsyncIterable<Uint8Array>>)[
    Symbol.asyncIterator
  ] === "function";
  if (sync && async) return new DualBodyWrapper(body, started);
  if (sync) return new SyncBodyWrapper(body, started);
  return new AsyncBodyWrapper(body, started);
}
