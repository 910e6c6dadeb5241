// HTTP dates (RFC 9110 IMF-fixdate), as wsgiref's format_date_time writes
// them: "Sun, 06 Nov 1994 08:49:37 GMT". Shared by the handlers and the
// simple server.

let cachedSecond = -1;
let cachedDate = "";

/**
 * Formats a time (milliseconds since the epoch, as `Date.now()`) as an HTTP
 * date: `Sun, 06 Nov 1994 08:49:37 GMT`. `Date#toUTCString` writes exactly
 * that form (ECMA-262 §21.4.4.43) for years 0-9999.
 */
export function formatDateTime(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * The current time as an HTTP date, formatted at most once per second: the
 * value for a `Date:` response header.
 */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedDate = formatDateTime(second * 1000);
    cachedSecond = second;
  }
  return cachedDate;
}
