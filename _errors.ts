/**
 * The error wsgiref raises for a broken WSGI rule (Python's `AssertionError`):
 * an `Error` whose `name` is `"AssertionError"`. The handlers throw it for a
 * bad status or a second `startResponse`, and `validator` for every rule.
 *
 * @example Telling a broken WSGI rule from other errors
 * ```ts
 * import { AssertionError, validator } from "@wsgiref/wsgiref/validate";
 *
 * const app = validator((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new Uint8Array(0)];
 * });
 * try {
 *   app({}, () => () => {});
 * } catch (e) {
 *   console.log(e instanceof AssertionError); // true: the environ is empty
 * }
 * ```
 */
export class AssertionError extends Error {
  /** Makes an error with `message`; `options.cause` is kept. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionError";
  }
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/**
 * wsgiref's `_validate_status`: at least 4 characters, 3 digits, then a
 * space; an {@linkcode AssertionError} with wsgiref's message otherwise.
 */
export function checkStatus(status: string): void {
  if (status.length < 4) {
    throw new AssertionError("Status must be at least 4 characters");
  }
  if (!isDigit(status, 0) || !isDigit(status, 1) || !isDigit(status, 2)) {
    throw new AssertionError("Status message must begin w/3-digit code");
  }
  if (status[3] !== " ") {
    throw new AssertionError("Status message must have a space after code");
  }
}

/** Throws an {@linkcode AssertionError} with `message` unless `cond` holds. */
export function check(
  cond: unknown,
  message: string | (() => string),
): asserts cond {
  if (!cond) {
    throw new AssertionError(
      typeof message === "function" ? message() : message,
    );
  }
}
