// Which request header fields become HTTP_* variables of a CGI/WSGI
// environ. (A rule of the environ, kept alone so that it can move with the
// environ builder.)

/**
 * True if a request header field named `name` may become an `HTTP_*`
 * variable. A name with `_` is dropped, as nginx, Apache httpd and gunicorn
 * (since 22.0) drop it: `-` and `_` both become `_` in the environ, so
 * `X_Auth_User` would pose as `X-Auth-User`, a header that a proxy in
 * front may strip and set itself.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { headerReachesEnviron } from "./_environ_names.ts";
 *
 * assertEquals(headerReachesEnviron("X-Auth-User"), true);
 * assertEquals(headerReachesEnviron("X_Auth_User"), false);
 * ```
 */
export function headerReachesEnviron(name: string): boolean {
  return name.indexOf("_") === -1;
}
