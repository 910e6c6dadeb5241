/**
 * wsgiref for Deno: the Web Server Gateway Interface (PEP 3333) in
 * TypeScript, as Python's `wsgiref`. This module re-exports every flat
 * module: the gateway types, the environ helpers, the response headers, the
 * handlers (CGI included), the simple server, the validator and the Fetch
 * API bridges.
 *
 * @example A WSGI app on the simple server
 * ```ts
 * import { makeServer, type WSGIApplication } from "@wsgiref/wsgiref";
 *
 * const app: WSGIApplication = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!")];
 * };
 * await using server = makeServer("127.0.0.1", 8000, app);
 * await server.serveForever();
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
