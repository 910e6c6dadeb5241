/**
 * A WSGI app on `Deno.serve`, through {@linkcode toFetchHandler}: Deno's
 * own HTTP server (HTTP/1.1 and HTTP/2, TLS) runs it, and `deno serve
 * --parallel` runs it on every core.
 *
 * One thread, `Deno.serve` (the port is the first argument; `0` picks a
 * free one):
 *
 *     deno run --allow-net examples/deno_serve.ts 8000
 *
 * Every core, `deno serve` (the default export; one worker per core, each
 * with its own copy of the app, so `wsgi.multiprocess` is true):
 *
 *     deno serve --parallel --port 8000 examples/deno_serve.ts
 *
 * (`deno serve` gives the module no arguments, which is how this file tells
 * the two apart; `deno run` notes the default export in a warning.)
 *
 * @module
 */

import { toFetchHandler } from "../fetch.ts";
import type { WSGIApplication } from "../types.ts";
import { nativeToText } from "../util.ts";

const utf8 = new TextEncoder();

/** Says hello, with what the environ says about the request and server. */
export const app: WSGIApplication = (environ, startResponse) => {
  let path: string;
  try {
    path = nativeToText(environ.PATH_INFO ?? ""); // "/caf\xc3\xa9" → "/café"
  } catch {
    startResponse("400 Bad Request", [["Content-Type", "text/plain"]]);
    return [utf8.encode("The path is not UTF-8.\n")];
  }
  const input = environ["wsgi.input"];
  const body = environ.REQUEST_METHOD === "POST" ? input.read() : undefined;
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  const lines = [
    `Hello from WSGI on Deno ${Deno.version.deno}!`,
    `${environ.REQUEST_METHOD} ${path}` +
    (environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : ""),
    `wsgi.multithread: ${environ["wsgi.multithread"]}`,
    `wsgi.multiprocess: ${environ["wsgi.multiprocess"]}`,
  ];
  if (body !== undefined) lines.push(`body: ${body.length} bytes`);
  return [utf8.encode(lines.join("\n") + "\n")];
};

/** For `deno serve` (with or without `--parallel`). */
export default {
  fetch: toFetchHandler(app, { multiprocess: true }),
} satisfies Deno.ServeDefaultExport;

if (import.meta.main && Deno.args.length > 0) {
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.args[0]),
    onListen: ({ hostname, port }) =>
      console.log(`Listening on http://${hostname}:${port}/`),
  }, toFetchHandler(app));
}
