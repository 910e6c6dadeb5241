#!/usr/bin/env -S deno run --allow-env --no-lock
/**
 * A Hono app (a real Fetch-API framework) run as a CGI program: the
 * {@linkcode fromFetchHandler} bridge makes it a WSGI app, and
 * {@linkcode CGIHandler} runs that on the CGI environment, stdin and stdout.
 *
 * Deploy it as any CGI program: make it executable and let the web server
 * run it (`deno` on the PATH the server gives CGI programs, and a
 * `DENO_DIR` cache the server's user may write). It finds the repository's
 * `deno.json` (the import map) from its own location; `--allow-env` is the
 * only permission it needs. Try it from a shell:
 *
 *     REQUEST_METHOD=GET PATH_INFO=/hello/Ada ./examples/hono_cgi.ts
 *
 * @module
 */

// Pinned inline so that the program needs nothing but this repository.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
import { fromFetchHandler } from "../fetch.ts";
import { CGIHandler } from "../handlers.ts";

/**
 * The Hono app: plain Hono, nothing WSGI-specific. Its routes answer under
 * the CGI program's own URL path wherever the web server mounts it:
 * `fromFetchHandler` gives it the URL without `SCRIPT_NAME`, as if it ran
 * at the site's root.
 */
export const hono = new Hono({ strict: false }) // "/hono" and "/hono/" alike
  .get("/", (c) => c.text("Hello from Hono, as CGI\n"))
  .get("/hello/:name", (c) =>
    c.json({
      hello: c.req.param("name"),
      lang: c.req.query("lang") ?? null,
      agent: c.req.header("User-Agent") ?? null,
    }))
  .post("/echo", async (c) => {
    const text = await c.req.text();
    return c.text(`${c.req.header("Content-Type")}: ${text}`, 201);
  })
  .get("/cookies", (c) => {
    c.header("Set-Cookie", "a=1; Path=/", { append: true });
    c.header("Set-Cookie", "b=2; Path=/; HttpOnly", { append: true });
    return c.body(null, 204);
  });

if (import.meta.main) {
  await new CGIHandler().run(fromFetchHandler(hono));
}
