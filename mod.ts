/**
 * wsgiref for Deno: the Web Server Gateway Interface (PEP 3333) in
 * TypeScript, as Python's `wsgiref`. This module re-exports every flat
 * module: the gateway types, the environ helpers, the response headers, the
 * handlers (CGI included), the simple server, the validator and the Fetch
 * API bridges.
 *
 * @example A WSGI app on the simple server
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { makeServer, type WSGIApplication } from "@wsgiref/wsgiref";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 * await using server = makeServer("127.0.0.1", 0, app, { logRequests: false });
 * const serving = server.serveForever(); // until shutdown()
 * const response = await fetch(`http://127.0.0.1:${server.port}/`);
 * assertEquals(await response.text(), "Hello world!");
 * await server.shutdown();
 * await serving;
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./util.ts";
export * from "./headers.ts";
export * from "./handlers.ts";
export * from "./simple_server.ts";
export * from "./validate.ts";
export * from "./fetch.ts";
