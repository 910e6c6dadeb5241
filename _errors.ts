/**
 * The error wsgiref raises for a broken WSGI rule (Python's `AssertionError`):
 * an `Error` whose `name` is `"AssertionError"`.
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
