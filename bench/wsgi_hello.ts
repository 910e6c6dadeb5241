// Bench target: this library's simple_server answering hello world, as
// bench/deno_serve_hello.ts and bench/python_wsgiref_hello.py do.
//
//   deno run --allow-net --allow-read --allow-env bench/wsgi_hello.ts PORT
//
// With BENCH_FILE set, GET /file answers that file through
// wsgi.file_wrapper (the download of bench/run.ts). With WSGIREF_ROOT set to
// another checkout of the library (a path ending in "/"), its
// simple_server.ts is served instead (bench/run.ts --compare).
import type { ResponseBody, StartResponse, WSGIEnvironment } from "../types.ts";

const root = Deno.env.get("WSGIREF_ROOT") || undefined;
const { makeServer } = await import(
  root === undefined ? "../simple_server.ts" : `file://${root}simple_server.ts`
) as typeof import("../simple_server.ts");

const port = Number(Deno.args[0] ?? 8000);
const bigFile = Deno.env.get("BENCH_FILE");
const hello = [new TextEncoder().encode("Hello world!")];

async function sendFile(
  environ: WSGIEnvironment,
  startResponse: StartResponse,
  path: string,
): Promise<ResponseBody> {
  const file = await Deno.open(path);
  const { size } = await file.stat();
  startResponse("200 OK", [
    ["Content-Type", "application/octet-stream"],
    ["Content-Length", String(size)],
  ]);
  return environ["wsgi.file_wrapper"]!(file, 1 << 18);
}

function app(
  environ: WSGIEnvironment,
  startResponse: StartResponse,
): ResponseBody | Promise<ResponseBody> {
  if (bigFile !== undefined && environ.PATH_INFO === "/file") {
    return sendFile(environ, startResponse, bigFile);
  }
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return hello;
}

// Idle connections are kept an hour, and more than 10,000 at once: the idle
// row of bench/run.ts holds 10,000 and then times one more client.
const server = makeServer("127.0.0.1", port, app, {
  logRequests: false,
  keepAliveTimeout: 3_600_000,
  maxConnections: 20_000,
});
console.log("ready");
await server.serveForever();
