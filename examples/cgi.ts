#!/usr/bin/env -S deno run --no-config --no-lock --allow-env
/**
 * A CGI program: a WSGI app behind {@linkcode CGIHandler} that answers a
 * small form, by GET (the query string) and by POST (a urlencoded body).
 *
 * Deploy it as any CGI program (see docs/cgi.md): make it executable, let
 * the web server run it, and make sure `deno` is on the PATH the server
 * gives CGI programs and that `DENO_DIR` names a cache directory the
 * server's user may write. `--no-config --no-lock` make it run the same
 * from any directory; `--allow-env` is the only permission it needs (use
 * `-A` on Linux for a byte-exact environ even for raw 8-bit request
 * headers). No remote import: it also builds with `deno compile`.
 *
 * Try it from a shell:
 *
 *     REQUEST_METHOD=GET QUERY_STRING='name=Ada' ./examples/cgi.ts
 *
 * @module
 */

import { CGIHandler } from "../handlers.ts";
import { nativeToText } from "../util.ts";
import type { WSGIApplication, WSGIEnvironment } from "../types.ts";

const utf8 = new TextEncoder();

/** Escapes text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The form sent: a urlencoded POST body (bytes) or the query string (a
 * native string), read as UTF-8 text. A `TypeError` when it is not UTF-8.
 */
function readForm(environ: WSGIEnvironment): URLSearchParams {
  if (environ.REQUEST_METHOD === "POST") {
    const length = Number(environ.CONTENT_LENGTH) || 0;
    const body = environ["wsgi.input"].read(length);
    return new URLSearchParams(
      new TextDecoder("utf-8", { fatal: true }).decode(body),
    );
  }
  return new URLSearchParams(nativeToText(environ.QUERY_STRING ?? ""));
}

function page(name: string | null, method: string): Uint8Array {
  const greeting = name
    ? `<p>Hello, ${escapeHtml(name)}! (sent by ${method})</p>`
    : "<p>Who are you?</p>";
  return utf8.encode(`<!doctype html>
<html><head><meta charset="utf-8"><title>wsgiref CGI form</title></head>
<body>
${greeting}
<form method="get"><input name="name"><button>GET</button></form>
<form method="post"><input name="name"><button>POST</button></form>
</body></html>
`);
}

/** The form app: GET reads the query string, POST the body. */
export const app: WSGIApplication = (environ, startResponse) => {
  const method = environ.REQUEST_METHOD ?? "GET";
  if (method !== "GET" && method !== "HEAD" && method !== "POST") {
    startResponse("405 Method Not Allowed", [
      ["Allow", "GET, HEAD, POST"],
      ["Content-Type", "text/plain"],
    ]);
    return [utf8.encode("Use GET or POST.\n")];
  }
  let form: URLSearchParams;
  try {
    form = readForm(environ);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    startResponse("400 Bad Request", [["Content-Type", "text/plain"]]);
    return [utf8.encode("The form is not UTF-8 text.\n")];
  }
  const body = page(form.get("name"), method);
  startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return method === "HEAD" ? [] : [body];
};

if (import.meta.main) {
  await new CGIHandler().run(app);
}
