// A server process for the upload tests and bench/upload.ts: the simple
// server, or toFetchHandler on Deno.serve, with an app that reads
// wsgi.input to its end in 1 MiB reads and answers its length and SHA-256
// (hashed as it is read, never held whole), and the process's memory.
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

import { createHash } from "node:crypto";
import { makeServer } from "../simple_server.ts";
import type { InputStream, WSGIApplication } from "../types.ts";

const [kind = "simple", spoolDir, threshold] = Deno.args;
const options = {
  spoolDir: spoolDir || undefined,
  spoolThreshold: threshold ? Number(threshold) : undefined,
};

/** VmRSS and VmHWM of this process, in KiB. */
function memory(): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/**
 * The body in blocks: read into one buffer of the app's own with
 * `readinto` (the default), or one new array per `read()` (`?read`), which
 * the runtime frees only now and then.
 */
function* blocks(input: InputStream, fresh: boolean): Generator<Uint8Array> {
  if (fresh || input.readinto === undefined) {
    for (let b = input.read(1 << 20); b.length > 0; b = input.read(1 << 20)) {
      yield b;
    }
    return;
  }
  const buf = new Uint8Array(1 << 20);
  for (let n = input.readinto(buf); n > 0; n = input.readinto(buf)) {
    yield buf.subarray(0, n);
  }
}

const json = (
  value: unknown,
) => [new TextEncoder().encode(JSON.stringify(value))];

const app: WSGIApplication = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  if (environ.REQUEST_METHOD === "GET") {
    // Writing 5 to clear_refs resets the peak RSS (Linux >= 4.0).
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return json(memory());
  }
  let length = 0;
  const hash = createHash("sha256");
  const fresh = environ.QUERY_STRING === "read";
  for (const b of blocks(environ["wsgi.input"]!, fresh)) {
    length += b.length;
    hash.update(b);
  }
  const sha256 = hash.digest("hex");
  return json({ length, sha256, ...memory() });
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
  throw new Error(`unknown server kind ${kind}`);
}
