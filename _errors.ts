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
