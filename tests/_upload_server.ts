// A server process for the upload tests and bench/upload.ts: the simple
// server, or toFetchHandler on Deno.serve, with an app of _upload_app.ts.
//
//   deno run --allow-all tests/_upload_server.ts simple|fetch spoolDir [spoolThreshold] [upload|length]
//
// (--allow-all for the `upload` app: Deno lets nothing less write
// /proc/self/clear_refs.) It prints the port it listens on (127.0.0.1),
// then serves the app (see _upload_app.ts), and stops on SIGTERM.
// `spawnUploadServer` starts one.

import { makeServer } from "../simple_server.ts";
import { toFetchHandler } from "../fetch.ts";
import { lengthApp, uploadApp } from "./_upload_app.ts";

/** A running server process of this file. */
export interface UploadServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** Its standard error so far (the simple server logs there). */
  stderr(): string;
  /** Stops it (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts this file as a server process: `flags` are `deno run`'s (the
 * permissions), `prefix` a command it runs under (such as `taskset -c 1`).
 */
export async function spawnUploadServer(
  kind: "simple" | "fetch",
  spoolDir: string,
  options: {
    flags?: string[];
    threshold?: number;
    app?: "upload" | "length";
    prefix?: string[];
  } = {},
): Promise<UploadServer> {
  const cmd = [
    ...(options.prefix ?? []),
    Deno.execPath(),
    "run",
    "--no-lock",
    ...(options.flags ?? ["--allow-all"]),
    new URL(import.meta.url).pathname,
    kind,
    spoolDir,
    String(options.threshold ?? ""),
    options.app ?? "upload",
  ];
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const errDone = (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
      err += t;
    }
  })();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) {
      await errDone;
      throw new Error(`the ${kind} upload server exited: ${err}`);
    }
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    port: Number(text.trim()),
    pid: child.pid,
    stderr: () => err,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await errDone;
    },
  };
}

if (import.meta.main) {
  const [kind, spoolDir, threshold, which = "upload"] = Deno.args;
  const app = which === "length" ? lengthApp : uploadApp;
  const options = {
    spoolDir: spoolDir || undefined,
    spoolThreshold: threshold ? Number(threshold) : undefined,
  };
  if (kind === "simple") {
    const server = makeServer("127.0.0.1", 0, app, {
      ...options,
      logRequests: which === "length", // the upload app's runs stay quiet
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
}
