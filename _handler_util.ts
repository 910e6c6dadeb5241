// Small helpers for handlers.ts.

/** True for a promise or any thenable. */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Formats a thrown value for the error log, as Python's traceback does:
 * `Name: message`, the stack, then each `cause` in turn. Ends in a newline.
 */
export function formatError(error: unknown): string {
  let out = "";
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (true) {
    seen.add(current);
    out += formatOne(current);
    if (!(current instanceof Error) || current.cause === undefined) break;
    if (seen.has(current.cause)) break;
    out += "\nCaused by: ";
    current = current.cause;
  }
  return out.endsWith("\n") ? out : out + "\n";
}

function formatOne(error: unknown): string {
  if (!(error instanceof Error)) {
    return `Uncaught ${Deno.inspect(error)}`;
  }
  const header = `${error.name}: ${error.message}`;
  const stack = typeof error.stack === "string" ? error.stack : "";
  if (stack.startsWith(header)) return stack;
  // The stack's first lines were written under another name: keep the frames.
  const frames = stack.split("\n").filter((l) => /^\s+at /.test(l));
  return frames.length ? `${header}\n${frames.join("\n")}` : header;
}
