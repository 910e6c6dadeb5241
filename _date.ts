// HTTP dates (RFC 9110 IMF-fixdate), as wsgiref's format_date_time writes
// them: "Sun, 06 Nov 1994 08:49:37 GMT"; and a per-second memory of a
// formatted time, which a server keeps for its responses and its log.

/**
 * Formats a time (milliseconds since the epoch, as `Date.now()`) as an HTTP
 * date: `Sun, 06 Nov 1994 08:49:37 GMT`. `Date#toUTCString` writes exactly
 * that form (ECMA-262 §21.4.4.43) for years 0-9999.
 */
export function formatDateTime(ms: number): string {
  return new Date(ms).toUTCString();
}

/** The current time as an HTTP date: the value for a `Date:` response header. */
export function httpDate(): string {
  return formatDateTime(Date.now());
}

/**
 * A text made from the current second, made again only when the second
 * changes: a server that writes many `Date:` headers (or log lines) a
 * second keeps one (formatting a date takes longer than the rest of a
 * small response's head).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { formatDateTime, PerSecond } from "./_date.ts";
 *
 * const dates = new PerSecond(formatDateTime);
 * assertEquals(dates.at(1500), "Thu, 01 Jan 1970 00:00:01 GMT");
 * assertEquals(dates.at(1999), dates.at(1000)); // the same second
 * ```
 */
export class PerSecond {
  #second = -1;
  #text = "";

  /** @param format makes the text for a time (ms since the epoch, a whole second) */
  constructor(readonly format: (ms: number) => string) {}

  /** The text of the second of `ms` (default: now). */
  at(ms: number = Date.now()): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      this.#text = this.format(second * 1000);
      this.#second = second;
    }
    return this.#text;
  }
}
