// A CGI program built on CGIHandler, for the CGI tests: run it with
// `deno run --no-config --no-lock --allow-env tests/_cgi_app.ts` (or `-A`),
// the request in the environment and the body on stdin.
//
// Routes (PATH_INFO):
//   /fail...    throws (the error page, the stack on stderr)
//   /custom     "299 Custom Thing", X-Custom header, two chunks
//   /post       echoes wsgi.input (CONTENT_LENGTH bytes at most)
//   /log        writes a marker line to wsgi.errors
//   anything    the CGI variables, one per line, as ISO-8859-1 bytes
// Set WSGIREF_TEST_HANDLER=iis to run IISCGIHandler instead.

import { CGIHandler, IISCGIHandler } from "../handlers.ts";
import type { WSGIApplication } from "../types.ts";
import { latin1Encode } from "../_latin1.ts";

const KEYS = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "SERVER_PROTOCOL",
  "HTTP_X_RAW",
  "HTTP_HOST",
  "SERVER_NAME",
  "SERVER_PORT",
  "wsgi.url_scheme",
  "wsgi.run_once",
  "wsgi.multithread",
  "wsgi.multiprocess",
];

export const app: WSGIApplication = (environ, startResponse) => {
  const path = environ.PATH_INFO ?? "";
  if (path.startsWith("/fail")) {
    throw new Error(`boom from the app at ${path}`);
  }
  if (path === "/custom") {
    startResponse("299 Custom Thing", [
      ["Content-Type", "text/plain"],
      ["X-Custom", "yes; ok"],
    ]);
    return [latin1Encode("custom "), latin1Encode("body\n")];
  }
  if (path === "/post") {
    const body = environ["wsgi.input"]!.read();
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [body];
  }
  if (path === "/log") {
    environ["wsgi.errors"]!.write(
      `app log line ${environ.QUERY_STRING}\n`,
    );
    startResponse("204 No Content", []);
    return [];
  }
  let text = "";
  for (const k of KEYS) {
    if (k in environ) text += `${k}=${String(environ[k])}\n`;
  }
  startResponse("200 OK", [["Content-Type", "text/plain; charset=iso-8859-1"]]);
  return [latin1Encode(text)];
};

if (import.meta.main) {
  const handler = Deno.env.get("WSGIREF_TEST_HANDLER") === "iis"
    ? new IISCGIHandler()
    : new CGIHandler();
  await handler.run(app);
}
