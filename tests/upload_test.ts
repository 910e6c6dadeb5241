// Request bodies of any size with bounded memory: 64 MiB uploads through
// the servers (Content-Length and chunked) read whole through wsgi.input,
// and the spool's temporary file closed and gone on every path a request
// can end by (served, the app throws, the client goes away, 413, a
// timeout, shutdown, a missing permission, a full disk).

import { assert, assertEquals, assertMatch } from "@std/assert";
import { makeServer, type ServerOptions } from "../simple_server.ts";
import { toFetchHandler, type ToFetchHandlerOptions } from "../fetch.ts";
import type { WSGIApplication } from "../types.ts";
import { curl } from "./_tools.ts";
import { loggingTo, RawClient, sleep } from "./_tcp.ts";
import { StringIO } from "../util.ts";
import { openSpoolFiles, spoolFilesClosed } from "./_spool_files.ts";

const MiB = 1024 * 1024;
const here = new URL(".", import.meta.url).pathname;

/** A temporary directory for the length of `fn`; asserted empty after it. */
async function withSpoolDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-spool-test-" });
  try {
    await fn(dir);
    assertEquals([...Deno.readDirSync(dir)], [], "files left in the spool dir");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A file of `size` pseudo-random bytes; its SHA-256 in hex. */
async function bigFile(
  dir: string,
  size: number,
): Promise<{ path: string; sha256: string }> {
  const path = `${dir}/upload.bin`;
  const block = new Uint8Array(MiB);
  let x = 7;
  for (let i = 0; i < block.length; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = x;
    block[i + 1] = x >>> 8;
    block[i + 2] = x >>> 16;
    block[i + 3] = x >>> 24;
  }
  const all = new Uint8Array(size);
  for (let o = 0; o < size; o += MiB) {
    block[0] = o / MiB; // every MiB differs
    all.set(block.subarray(0, Math.min(MiB, size - o)), o);
  }
  await Deno.writeFile(path, all);
  const digest = await crypto.subtle.digest("SHA-256", all);
  const sha256 = [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return { path, sha256 };
}

/** The upload server (tests/_upload_server.ts) in its own process. */
async function startUploadServer(
  kind: "simple" | "fetch",
  spoolDir: string,
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // /proc/self/clear_refs (to reset the peak RSS) needs --allow-all.
      "--allow-all",
      `${here}_upload_server.ts`,
      kind,
      spoolDir,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the upload server exited before listening");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    port: Number(text.trim()),
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

for (const kind of ["simple", "fetch"] as const) {
  Deno.test(`64 MiB through ${kind === "simple" ? "makeServer" : "toFetchHandler"}, with Content-Length and chunked`, async (t) => {
    await withSpoolDir(async (spoolDir) => {
      const data = await Deno.makeTempDir({ prefix: "wsgiref-upload-" });
      const server = await startUploadServer(kind, spoolDir);
      try {
        const { path, sha256 } = await bigFile(data, 64 * MiB);
        const url = `http://127.0.0.1:${server.port}/`;
        for (const chunked of [false, true]) {
          await t.step(chunked ? "chunked" : "Content-Length", async () => {
            const before = JSON.parse(await curl([`${url}reset`]));
            const args = ["-T", path, url];
            if (chunked) args.unshift("-H", "Transfer-Encoding: chunked");
            const got = JSON.parse(await curl(args));
            assertEquals(got.length, 64 * MiB);
            assertEquals(got.sha256, sha256);
            const grew = (got.hwm - before.rss) / 1024;
            assert(
              grew < 32,
              `the server's RSS grew by ${grew.toFixed(1)} MiB`,
            );
            assertEquals(await spoolFilesClosed(server.pid), []);
          });
        }
      } finally {
        await server.stop();
        await Deno.remove(data, { recursive: true });
      }
    });
  });
}

/** An app that reads its whole body and answers its length. */
const lengthApp: WSGIApplication = (environ, startResponse) => {
  const n = environ["wsgi.input"].read().length;
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(String(n))];
};

/**
 * A simple server with a small spool threshold in a fresh spool dir, for
 * `fn`; afterwards the dir is empty, no spool file is open, and the server
 * still serves.
 */
async function withSpoolingServer(
  app: WSGIApplication,
  fn: (port: number, log: StringIO, close: () => void) => Promise<void>,
  options: ServerOptions = {},
): Promise<void> {
  await withSpoolDir(async (spoolDir) => {
    const log = new StringIO();
    const server = makeServer("127.0.0.1", 0, app, {
      handlerClass: loggingTo(log),
      spoolDir,
      spoolThreshold: 64 * 1024,
      ...options,
    });
    const serving = server.serveForever();
    try {
      await fn(server.port, log, () => server.close());
      assertEquals(await spoolFilesClosed(), [], "spool files left open");
      if (!server.shuttingDown) {
        const body = await curl([
          "--data-binary",
          "abc",
          `http://127.0.0.1:${server.port}/`,
        ]);
        assertEquals(body, "3", "the server still serves");
      }
    } finally {
      await server.shutdown();
      await serving;
      server.close();
    }
  });
}

/** Sends a head announcing `length` body bytes and `sent` of them. */
async function partialUpload(
  port: number,
  length: number,
  sent: number,
  chunked = false,
): Promise<RawClient> {
  const c = await RawClient.open(port);
  await c.send(
    `PUT / HTTP/1.1\r\nHost: a\r\n${
      chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${length}`
    }\r\n\r\n`,
  );
  const block = new Uint8Array(64 * 1024).fill(0x61);
  for (let n = 0; n < sent; n += block.length) {
    const k = Math.min(block.length, sent - n);
    if (chunked) await c.trySend(`${k.toString(16)}\r\n`);
    await c.trySend(block.subarray(0, k));
    if (chunked) await c.trySend("\r\n");
  }
  return c;
}

Deno.test("spool cleanup on every path", async (t) => {
  await t.step(
    "served: the file is closed once the response ends",
    async () => {
      await withSpoolingServer(lengthApp, async (port) => {
        using c = await partialUpload(port, 1 * MiB, 1 * MiB);
        const r = await c.response();
        assertEquals(new TextDecoder().decode(r.body), String(1 * MiB));
      });
    },
  );

  await t.step("the app throws after reading some of it", async () => {
    const app: WSGIApplication = (environ, startResponse) => {
      if (environ.CONTENT_LENGTH === "3") {
        return lengthApp(environ, startResponse);
      }
      environ["wsgi.input"].read(1000);
      throw new Error("app failed");
    };
    await withSpoolingServer(app, async (port, log) => {
      using c = await partialUpload(port, 1 * MiB, 1 * MiB);
      assertEquals((await c.response()).status, 500);
      assertMatch(log.getValue(), /app failed/);
    }, {});
  });

  await t.step("the client goes away in the middle of the body", async () => {
    await withSpoolingServer(lengthApp, async (port) => {
      const c = await partialUpload(port, 8 * MiB, 1 * MiB);
      await sleep(100); // the server spools what came
      assert(openSpoolFiles().length === 1, "the body went to a spool file");
      c.close();
    });
  });

  await t.step("413 as a chunked body passes maxRequestBody", async () => {
    await withSpoolingServer(lengthApp, async (port) => {
      using c = await partialUpload(port, 0, 2 * MiB, true);
      assertEquals((await c.response()).status, 413);
    }, { maxRequestBody: 1 * MiB });
  });

  await t.step("the body stalls: dropped at the timeout", async () => {
    await withSpoolingServer(lengthApp, async (port, log) => {
      using c = await partialUpload(port, 8 * MiB, 1 * MiB);
      await c.expectClosed(5000);
      assertMatch(log.getValue(), /timed out/i);
    }, { headerTimeout: 300 });
  });

  await t.step("the server shuts down with a body on its way", async () => {
    await withSpoolingServer(lengthApp, async (port, _log, close) => {
      using c = await partialUpload(port, 8 * MiB, 1 * MiB);
      await sleep(100);
      assert(openSpoolFiles().length === 1, "the body went to a spool file");
      close();
      await c.expectClosed(5000);
    });
  });
});

/**
 * toFetchHandler on Deno.serve with a small spool threshold in a fresh
 * spool dir, for `fn`; afterwards the dir is empty, no spool file is open,
 * and the server still serves. `shutdown` starts Deno.serve's graceful
 * shutdown.
 */
async function withSpoolingBridge(
  app: WSGIApplication,
  fn: (port: number, log: StringIO, shutdown: () => void) => Promise<void>,
  options: ToFetchHandlerOptions = {},
): Promise<void> {
  await withSpoolDir(async (spoolDir) => {
    const log = new StringIO();
    let shutdown: Promise<void> | undefined;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      toFetchHandler(app, {
        errors: log,
        spoolDir,
        spoolThreshold: 64 * 1024,
        ...options,
      }),
    );
    try {
      await fn(server.addr.port, log, () => {
        shutdown = server.shutdown();
      });
      assertEquals(await spoolFilesClosed(), [], "spool files left open");
      if (shutdown === undefined) {
        const body = await curl([
          "--data-binary",
          "abc",
          `http://127.0.0.1:${server.addr.port}/`,
        ]);
        assertEquals(body, "3", "the server still serves");
      }
    } finally {
      await (shutdown ?? server.shutdown());
    }
  });
}

Deno.test("spool cleanup on every path, through toFetchHandler", async (t) => {
  await t.step(
    "served: the file is closed once the response ends",
    async () => {
      await withSpoolingBridge(lengthApp, async (port) => {
        using c = await partialUpload(port, 1 * MiB, 1 * MiB);
        const r = await c.response();
        assertEquals(new TextDecoder().decode(r.body), String(1 * MiB));
      });
    },
  );

  await t.step("the app throws after reading some of it", async () => {
    const app: WSGIApplication = (environ, startResponse) => {
      if (environ.CONTENT_LENGTH === "3") {
        return lengthApp(environ, startResponse);
      }
      environ["wsgi.input"].read(1000);
      throw new Error("app failed");
    };
    await withSpoolingBridge(app, async (port, log) => {
      using c = await partialUpload(port, 1 * MiB, 1 * MiB);
      assertEquals((await c.response()).status, 500);
      assertMatch(log.getValue(), /app failed/);
    });
  });

  await t.step("a streamed body read as the response is sent", async () => {
    // The app reads wsgi.input while its body is pulled: the spool lives
    // until the response ends.
    const app: WSGIApplication = (environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        const input = environ["wsgi.input"];
        let n = 0;
        for (let b = input.read(65536); b.length; b = input.read(65536)) {
          n += b.length;
          yield new Uint8Array(0); // read as the body is pulled
        }
        yield new TextEncoder().encode(String(n));
      })();
    };
    await withSpoolingBridge(app, async (port) => {
      using c = await partialUpload(port, 1 * MiB, 1 * MiB);
      const text = new TextDecoder().decode((await c.response()).body);
      assertEquals(text, String(1 * MiB));
    });
  });

  await t.step("the client goes away in the middle of the body", async () => {
    await withSpoolingBridge(lengthApp, async (port) => {
      const c = await partialUpload(port, 8 * MiB, 1 * MiB);
      await sleep(100); // the handler spools what came
      assert(openSpoolFiles().length === 1, "the body went to a spool file");
      c.close();
    });
  });

  await t.step("413 as a chunked body passes maxRequestBody", async () => {
    await withSpoolingBridge(lengthApp, async (port) => {
      using c = await partialUpload(port, 0, 2 * MiB, true);
      assertEquals((await c.response()).status, 413);
    }, { maxRequestBody: 1 * MiB });
  });

  await t.step("the server shuts down with a body on its way", async () => {
    await withSpoolingBridge(lengthApp, async (port, _log, shutdown) => {
      const c = await partialUpload(port, 8 * MiB, 1 * MiB);
      await sleep(100);
      assert(openSpoolFiles().length === 1, "the body went to a spool file");
      shutdown(); // Deno.serve waits for the request: the client ends it
      c.close();
    });
  });
});

for (const kind of ["simple", "fetch"] as const) {
  Deno.test(`without write permission for the spool dir (${kind === "simple" ? "makeServer" : "toFetchHandler"}): 413 past the threshold, said once in the log`, async () => {
    await withSpoolDir(async (spoolDir) => {
      const script = `
      import { makeServer } from ${
        JSON.stringify(new URL("../simple_server.ts", import.meta.url).href)
      };
      import { toFetchHandler } from ${
        JSON.stringify(new URL("../fetch.ts", import.meta.url).href)
      };
      const app = (environ, startResponse) => {
        const n = environ["wsgi.input"].read().length;
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return [new TextEncoder().encode(String(n))];
      };
      const options = {
        spoolDir: ${JSON.stringify(spoolDir)},
        spoolThreshold: 1024,
      };
      if (${JSON.stringify(kind)} === "simple") {
        const server = makeServer("127.0.0.1", 0, app, options);
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
    `;
      const file = await Deno.makeTempFile({ suffix: ".ts" });
      await Deno.writeTextFile(file, script);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-lock",
          "--no-config",
          "--allow-net=127.0.0.1",
          file,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const reader = child.stdout.getReader();
        const { value } = await reader.read();
        const port = Number(new TextDecoder().decode(value).trim());
        const url = `http://127.0.0.1:${port}/`;
        const big = "x".repeat(4096);
        for (let i = 0; i < 2; i++) {
          const status = await curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--data-binary",
            big,
            url,
          ]);
          assertEquals(status, "413");
        }
        assertEquals(await curl(["--data-binary", "small", url]), "5");
        child.kill("SIGTERM");
        reader.releaseLock();
        const out = await child.output();
        const err = new TextDecoder().decode(out.stderr);
        const said = err.split("\n").filter((l) => l.includes("--allow-write"));
        assertEquals(said.length, 1, err);
        assertMatch(said[0], new RegExp(spoolDir.replaceAll("/", "\\/")));
      } finally {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await Deno.remove(file);
      }
    });
  });
}

/** Mounts a tmpfs of `size` bytes at `dir`; false if this machine won't. */
async function mountTmpfs(dir: string, size: number): Promise<boolean> {
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test("a full disk: 507, the file gone, the server serving on", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-full-" });
  try {
    if (!(await mountTmpfs(dir, 1 * MiB))) {
      console.log(
        "SKIP the full-disk steps: this machine cannot mount a small tmpfs " +
          "(needs root); a failed spool write is then not tested",
      );
      return;
    }
    try {
      const upload = async (port: number, log: StringIO) => {
        using c = await partialUpload(port, 4 * MiB, 4 * MiB);
        assertEquals((await c.response()).status, 507);
        assertMatch(log.getValue(), /No space left|space/i);
      };
      await t.step("makeServer: 4 MiB into a 1 MiB file system", async () => {
        await withSpoolingServer(lengthApp, upload, { spoolDir: dir });
      });
      await t.step(
        "toFetchHandler: 4 MiB into a 1 MiB file system",
        async () => {
          await withSpoolingBridge(lengthApp, upload, { spoolDir: dir });
        },
      );
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
