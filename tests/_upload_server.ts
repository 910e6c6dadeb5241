// A server process for the upload tests and bench/upload.ts: the simple
// server, or toFetchHandler on Deno.serve, serving tests/_upload_app.ts.
//
//   deno run --allow-all tests/_upload_server.ts simple|fetch [spoolDir] [spoolThreshold]
//
// (--allow-all: Deno lets nothing less write /proc/self/clear_refs.)
//
// It prints the port it listens on (127.0.0.1), then serves:
//   GET /reset    resets the process's peak RSS (VmHWM); answers {"rss"}
//   PUT/POST /    {"length", "sha256", "rss", "hwm"} (KiB), once the body is read
//                 (with readinto; PUT /?read reads with read() instead)
// and stops on SIGTERM.

import { makeServer } from "../simple_server.ts";
import { toFetchHandler } from "../fetch.ts";
import { uploadApp as app } from "./_upload_app.ts";

const [kind = "simple", spoolDir, threshold] = Deno.args;
const options = {
  spoolDir: spoolDir || undefined,
  spoolThreshold: threshold ? Number(threshold) : undefined,
};

if (kind === "simple") {
  const server = makeServer("127.0.0.1", 0, app, {
    ...options,
    logRequests: false,
  });
  console.log(server.port);
  Deno.addSignalListener("SIGTERM", () => server.close());
  await server.serveForever();
} else {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(port),
  }, toFetchHandler(app, options));
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
}
