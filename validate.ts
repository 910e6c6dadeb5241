/**
 * WSGI conformance checking, as Python's `wsgiref.validate`: wrap an
 * application with {@linkcode validator} and every call between it and the
 * server is checked, on both sides, against PEP 3333.
 *
 * A broken rule throws an {@linkcode AssertionError} whose message reads as
 * wsgiref's; what is only questionable becomes a {@linkcode WSGIWarning}.
 * The wrapped application behaves exactly as the original otherwise, so it
 * can stay in place during development and tests.
 *
 * @example Catching a broken app in a test
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { AssertionError, validator } from "@wsgiref/wsgiref/validate";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", []); // no Content-Type
 *   return [];
 * };
 * const environ: Partial<WSGIEnvironment> = { QUERY_STRING: "" };
 * setupTestingDefaults(environ);
 * assertThrows(
 *   () => validator(app)(environ, () => () => {}),
 *   AssertionError,
 *   "No Content-Type header found in headers ([])",
 * );
 * ```
 *
 * @module
 */

import { AssertionError, check, isPromiseLike } from "./_gateway.ts";
import { repr } from "./_repr.ts";
import {
  blame,
  checkBody,
  checkContentType,
  checkEnviron,
  checkExcInfo,
  checkHeaders,
  checkStatus,
  ErrorWrapper,
  InputWrapper,
  wrapBody,
  wrapWrite,
} from "./_validate.ts";
import type {
  ErrorStream,
  InputStream,
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";

export { AssertionError };
// The types the validator's signature names, so that this module's
// documentation is complete on its own.
export type {
  ErrorStream,
  FileLike,
  FileWrapperFactory,
  InputStream,
  ResponseBody,
  ResponseChunks,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "./types.ts";
export type { FileWrapper } from "./util.ts";

/**
 * A questionable, but not forbidden, use of WSGI noticed by
 * {@linkcode validator}: a missing `QUERY_STRING`, an unknown
 * `REQUEST_METHOD`, a status line without a reason phrase. Python's
 * `wsgiref.validate.WSGIWarning`.
 *
 * Warnings are not thrown: they go to the `onWarning` option of
 * {@linkcode validator}, or to `console.warn` when none is given.
 *
 * @example Collecting warnings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { validator, WSGIWarning } from "@wsgiref/wsgiref/validate";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [];
 * };
 * const warnings: WSGIWarning[] = [];
 * const checked = validator(app, { onWarning: (w) => warnings.push(w) });
 * const environ: Partial<WSGIEnvironment> = { QUERY_STRING: "", REQUEST_METHOD: "BREW" };
 * setupTestingDefaults(environ);
 * const body = await checked(environ, () => () => {});
 * await body.close?.(); // a server always closes the body
 * assertEquals(warnings[0].message, "Unknown REQUEST_METHOD: 'BREW'");
 * ```
 */
export class WSGIWarning extends Error {
  /** Creates a warning with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WSGIWarning";
  }
}

/**
 * Options for {@linkcode validator}.
 *
 * @example Turning warnings into failures
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import {
 *   type ValidatorOptions,
 *   validator,
 *   WSGIWarning,
 * } from "@wsgiref/wsgiref/validate";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const strict: ValidatorOptions = {
 *   onWarning(warning: WSGIWarning) {
 *     throw warning;
 *   },
 * };
 *
 * const environ: Partial<WSGIEnvironment> = {}; // no QUERY_STRING: a warning
 * setupTestingDefaults(environ);
 * const app = validator((_environ, startResponse) => {
 *   startResponse("204 No Content", []);
 *   return [];
 * }, strict);
 * assertThrows(() => app(environ, () => () => {}), WSGIWarning, "QUERY_STRING");
 * ```
 */
export interface ValidatorOptions {
  /**
   * Receives every {@linkcode WSGIWarning}. By default each one is printed
   * with `console.warn` as `WSGIWarning: <message>`. Whatever this function
   * throws propagates to the caller of the checked function (the server or
   * the app), so throwing turns warnings into errors.
   */
  onWarning?: (warning: WSGIWarning) => void;
}

function defaultOnWarning(warning: WSGIWarning): void {
  console.warn(`${warning.name}: ${warning.message}`);
}

/**
 * Wraps a WSGI application so that every interaction with the server is
 * checked against PEP 3333, as Python's `wsgiref.validate.validator` does,
 * check for check.
 *
 * What is checked:
 *
 * - the call: exactly two arguments; the environ is a plain object with the
 *   keys PEP 3333 requires, CGI values (keys without a dot) are strings,
 *   `wsgi.version` is like `[1, 0]`, `wsgi.url_scheme` is `http` or
 *   `https`, `SCRIPT_NAME` and `PATH_INFO` are well formed,
 *   `CONTENT_LENGTH` is a non-negative integer, `wsgi.input` and
 *   `wsgi.errors` have their methods. All before the app runs;
 * - `wsgi.input` and `wsgi.errors`, which the app sees wrapped: `read`
 *   takes exactly one size, `readline` and `readlines` at most one, results
 *   are `Uint8Array`s, `close()` is never called, `wsgi.errors` takes
 *   strings only;
 * - `startResponse`: two or three arguments, a status like `"200 OK"`,
 *   headers as an array of `[name, value]` string pairs with valid names and
 *   values, no `Status` header, a `Content-Type` except in 204 and 304
 *   responses (where it is an error), `excInfo` absent or an `Error`;
 * - `write()`: `Uint8Array` only;
 * - the body: not `undefined`/`null`/`false`, not a bare `string` or
 *   `Uint8Array`, every chunk a `Uint8Array`, not iterated before
 *   `startResponse`, not read after `close()`, `close()` called exactly
 *   once. A body dropped without `close()` is reported on stderr
 *   (`console.error`) when it is garbage-collected, as wsgiref does.
 *
 * Sync and async apps are both supported: when the app returns a promise,
 * so does the checked app. A sync-iterable body stays sync-iterable; an
 * async iterable or a `ReadableStream` is checked through an async
 * iterable.
 *
 * A broken rule throws an {@linkcode AssertionError}; questionable uses are
 * reported as {@linkcode WSGIWarning}s through `options.onWarning`.
 * Messages quote values Python-style (`'text/plain'`, `['Date', 'x']`).
 *
 * @param app The application to check.
 * @param options Where warnings go.
 * @returns An application that behaves as `app` and checks every call.
 *
 * @example Validating an app served by `makeServer`
 * ```ts ignore
 * import { validator } from "@wsgiref/wsgiref/validate";
 * import { makeServer } from "@wsgiref/wsgiref/simple_server";
 * import type { WSGIApplication } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello World")];
 * };
 * await using server = makeServer("", 8000, validator(app));
 * await server.serveForever();
 * ```
 *
 * @example Asserting warnings in a test
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { validator, type WSGIWarning } from "@wsgiref/wsgiref/validate";
 * import { setupTestingDefaults } from "@wsgiref/wsgiref/util";
 * import type { WSGIApplication, WSGIEnvironment } from "@wsgiref/wsgiref/types";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200", [["Content-Type", "text/plain"]]); // no reason phrase
 *   return [];
 * };
 * const warnings: WSGIWarning[] = [];
 * const checked = validator(app, { onWarning: (w) => warnings.push(w) });
 * const environ: Partial<WSGIEnvironment> = { QUERY_STRING: "" };
 * setupTestingDefaults(environ);
 * const body = await checked(environ, () => () => {});
 * await body.close?.(); // a server always closes the body
 * assertEquals(warnings.map((w) => w.message), [
 *   "The status string ('200') should be a three-digit integer followed " +
 *   "by a single space and a status explanation",
 * ]);
 * ```
 */
export function validator(
  app: WSGIApplication,
  options: ValidatorOptions = {},
): WSGIApplication {
  const onWarning = options.onWarning ?? defaultOnWarning;
  const warn = (message: string) => onWarning(new WSGIWarning(message));

  return function validatedApp(...args: unknown[]) {
    const [environ, startResponse] = args;
    blame(validatedApp, () => {
      check(args.length === 2, "Two arguments required");
      checkEnviron(environ, warn);
      check(
        typeof startResponse === "function",
        () => `startResponse must be a function (got ${repr(startResponse)})`,
      );
    });
    const env = environ as Record<string, unknown>;

    // Set once the app has called startResponse with valid arguments.
    let started = false;

    const checkedStartResponse: StartResponse = function startResponse_(
      ...srArgs: unknown[]
    ) {
      blame(startResponse_, () => {
        check(
          srArgs.length === 2 || srArgs.length === 3,
          () => `Invalid number of arguments: ${repr(srArgs)}`,
        );
        const [status, headers, excInfo] = srArgs;
        const code = checkStatus(status, warn);
        checkHeaders(headers);
        checkContentType(code, headers);
        checkExcInfo(excInfo);
      });
      started = true;
      return wrapWrite(
        (startResponse as (...a: unknown[]) => ReturnType<StartResponse>)(
          ...srArgs,
        ),
      );
    };

    env["wsgi.input"] = new InputWrapper(env["wsgi.input"] as InputStream);
    env["wsgi.errors"] = new ErrorWrapper(env["wsgi.errors"] as ErrorStream);

    const finish = function finish(body: unknown): ResponseBody {
      blame(finish, () => checkBody(body));
      return wrapBody(body as ResponseBody, () => started);
    };
    const result: unknown = app(
      environ as WSGIEnvironment,
      checkedStartResponse,
    );
    return isPromiseLike(result)
      ? Promise.resolve(result).then(finish)
      : finish(result);
  };
}
