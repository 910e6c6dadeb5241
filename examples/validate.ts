/**
 * The example from wsgiref's documentation of `wsgiref.validate`: an app
 * that breaks the rules, wrapped in `validator`, served by `makeServer`.
 *
 * ```sh
 * deno run --allow-net examples/validate.ts        # port 8000
 * deno run --allow-net examples/validate.ts 8080   # another port (0: any)
 * curl -i localhost:8000/
 * ```
 *
 * Every request gets wsgiref's error page, and the server's stderr says
 * what the app got wrong:
 *
 * ```text
 * AssertionError: You should not return a Uint8Array as your application iterator, instead return a single-item array containing a Uint8Array.
 * ```
 *
 * @module
 */

import { validator } from "../validate.ts";
import { makeServer } from "../simple_server.ts";
import type { StartResponse, WSGIEnvironment } from "../types.ts";

// Our callable object which is intentionally not compliant to the
// standard, so the validator is going to break.
function simpleApp(_environ: WSGIEnvironment, startResponse: StartResponse) {
  const status = "200 OK"; // HTTP Status
  const headers: [string, string][] = [["Content-type", "text/plain"]]; // HTTP Headers
  startResponse(status, headers);

  // This is going to break because we need to return an array of chunks,
  // and the validator is going to inform us.
  return new TextEncoder().encode("Hello World");
}

// This is the application wrapped in a validator. TypeScript sees the
// mistake too (a Uint8Array is not an iterable of Uint8Array chunks); the
// validator catches it at run time, for JavaScript callers and casts.
// @ts-expect-error: simpleApp returns a bare Uint8Array
const validatorApp = validator(simpleApp);

const port = Number(Deno.args[0] ?? 8000);
await using httpd = makeServer("", port, validatorApp);
console.log(`Listening on port ${httpd.port}....`);
await httpd.serveForever();
