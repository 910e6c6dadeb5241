// Bench target: a hello-world WSGI app through toFetchHandler on Deno.serve,
// as bench/deno_serve_hello.ts answers it without WSGI.
//
//   deno run --allow-net --allow-read --allow-env bench/fetch_hello.ts PORT
//
// With BENCH_FILE set, GET /file answers that file through
// wsgi.file_wrapper with its default block size (the download of
// bench/run.ts). With WSGIREF_ROOT set to another checkout of the library
// (a path ending in "/"), its fetch.ts is served instead: bench/run.ts
// --compare uses that to time two versions side by side.
import type { ResponseBody, StartResponse, WSGIEnvironment } from "../types.ts";

const root = Deno.env.get("WSGIREF_ROOT") || undefined;
const { toFetchHandler } = await import(
  root === undefined ? "../fetch.ts" : `file://${root}fetch.ts`
) as typeof import("../fetch.ts");

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
  return environ["wsgi.file_wrapper"]!(file);
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

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log("ready") },
  toFetchHandler(app),
);
