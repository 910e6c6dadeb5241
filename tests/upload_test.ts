// Request bodies of any size with bounded memory: 64 MiB uploads through
// the servers (Content-Length and chunked) read whole through wsgi.input,
// and the spool's temporary file closed and gone on every path a request
// can end by (served, the app throws, the client goes away, 413, a
// timeout, shutdown, a missing permission, a full disk), through both
// makeServer and toFetchHandler.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { makeServer, type ServerOptions } from "../simple_server.ts";
import { toFetchHandler, type ToFetchHandlerOptions } from "../fetch.ts";
import type { WSGIApplication } from "../types.ts";
import { curl, curlStatus } from "./_tools.ts";
import { loggingTo, RawClient, sleep } from "./_tcp.ts";
import { StringIO } from "../util.ts";
import { openSpoolFiles, spoolFilesClosed } from "./_spool_files.ts";
import { lengthApp } from "./_upload_app.ts";
import { spawnUploadServer } from "./_upload_server.ts";

const MiB = 1024 * 1024;
const KINDS = ["simple", "fetch"] as const;
type Kind = typeof KINDS[number];
const NAMES: Record<Kind, string> = {
  simple: "makeServer",
  fetch: "toFetchHandler",
};

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

for (const kind of KINDS) {
  Deno.test(`64 MiB through ${NAMES[kind]}, with Content-Length and chunked`, async (t) => {
    await withSpoolDir(async (spoolDir) => {
      const data = await Deno.makeTempDir({ prefix: "wsgiref-upload-" });
      const server = await spawnUploadServer(kind, spoolDir);
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

/** A server in this process for one cleanup step. */
interface Served {
  port: number;
  /** Its error log (the simple server's log, the bridge's `errors`). */
  log: StringIO;
  /** Stops it while a request is under way (close(), Deno.serve's shutdown). */
  stop(): void;
}

/** Options of both servers (each takes what it knows). */
type Options = ServerOptions & ToFetchHandlerOptions;

/**
 * `kind`'s server for `app`, with a small spool threshold in a fresh spool
 * dir, for `fn`; afterwards the dir is empty, no spool file is open, and
 * (unless `fn` stopped it) the server still serves.
 */
async function withSpooling(
  kind: Kind,
  app: WSGIApplication,
  fn: (served: Served) => Promise<void>,
  options: Options = {},
): Promise<void> {
  await withSpoolDir(async (spoolDir) => {
    const log = new StringIO();
    const spooling = { spoolDir, spoolThreshold: 64 * 1024 };
    let stopped: Promise<void> | undefined;
    let port: number;
    let finish: () => Promise<void>;
    if (kind === "simple") {
      const server = makeServer("127.0.0.1", 0, app, {
        handlerClass: loggingTo(log),
        ...spooling,
        ...options,
      });
      const serving = server.serveForever();
      port = server.port;
      finish = async () => {
        await server.shutdown();
        await serving;
        server.close();
      };
      await fnWith(() => {
        server.close();
        stopped = Promise.resolve();
      });
    } else {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        toFetchHandler(app, { errors: log, ...spooling, ...options }),
      );
      port = server.addr.port;
      // Deno.serve's shutdown waits for the request: the client ends it.
      finish = () => stopped ?? server.shutdown();
      await fnWith(() => (stopped = server.shutdown()));
    }

    async function fnWith(stop: () => void): Promise<void> {
      try {
        await fn({ port, log, stop });
        assertEquals(await spoolFilesClosed(), [], "spool files left open");
        if (stopped === undefined) {
          const url = `http://127.0.0.1:${port}/`;
          const body = await curl(["--data-binary", "abc", url]);
          assertEquals(body, "3", "the server still serves");
        }
      } finally {
        await finish();
      }
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

/** An app that throws after reading some of a large body. */
const throwingApp: WSGIApplication = (environ, startResponse) => {
  if (environ.CONTENT_LENGTH === "3") return lengthApp(environ, startResponse);
  environ["wsgi.input"].read(1000);
  throw new Error("app failed");
};

/** An app that reads wsgi.input while its body is pulled. */
const lazyApp: WSGIApplication = (environ, startResponse) => {
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

for (const kind of KINDS) {
  Deno.test(`spool cleanup on every path (${NAMES[kind]})`, async (t) => {
    await t.step(
      "served: the file is closed once the response ends",
      async () => {
        await withSpooling(kind, lengthApp, async ({ port }) => {
          using c = await partialUpload(port, 1 * MiB, 1 * MiB);
          const r = await c.response();
          assertEquals(new TextDecoder().decode(r.body), String(1 * MiB));
        });
      },
    );

    await t.step("the app reads the body as its response is sent", async () => {
      await withSpooling(kind, lazyApp, async ({ port }) => {
        using c = await partialUpload(port, 1 * MiB, 1 * MiB);
        const text = new TextDecoder().decode((await c.response()).body);
        assertEquals(text, String(1 * MiB));
      });
    });

    await t.step("the app throws after reading some of it", async () => {
      await withSpooling(kind, throwingApp, async ({ port, log }) => {
        using c = await partialUpload(port, 1 * MiB, 1 * MiB);
        assertEquals((await c.response()).status, 500);
        assertMatch(log.getValue(), /app failed/);
      });
    });

    await t.step("the client goes away in the middle of the body", async () => {
      await withSpooling(kind, lengthApp, async ({ port }) => {
        const c = await partialUpload(port, 8 * MiB, 1 * MiB);
        await sleep(100); // the server spools what came
        assert(openSpoolFiles().length === 1, "the body went to a spool file");
        c.close();
      });
    });

    await t.step("413 as a chunked body passes maxRequestBody", async () => {
      await withSpooling(kind, lengthApp, async ({ port }) => {
        using c = await partialUpload(port, 0, 2 * MiB, true);
        assertEquals((await c.response()).status, 413);
      }, { maxRequestBody: 1 * MiB });
    });

    if (kind === "simple") {
      // Deno.serve has no timeout for a request body.
      await t.step("the body stalls: dropped at the timeout", async () => {
        await withSpooling(kind, lengthApp, async ({ port, log }) => {
          using c = await partialUpload(port, 8 * MiB, 1 * MiB);
          await c.expectClosed(5000);
          assertMatch(log.getValue(), /timed out/i);
        }, { headerTimeout: 300 });
      });
    }

    await t.step("the server stops with a body on its way", async () => {
      await withSpooling(kind, lengthApp, async ({ port, stop }) => {
        const c = await partialUpload(port, 8 * MiB, 1 * MiB);
        await sleep(100);
        assert(openSpoolFiles().length === 1, "the body went to a spool file");
        stop();
        // makeServer drops the connection; Deno.serve waits for the client.
        if (kind === "simple") await c.expectClosed(5000);
        c.close();
      });
    });
  });

  Deno.test(`without write permission for the spool dir (${NAMES[kind]}): 413 past the threshold, said once in the log`, async () => {
    await withSpoolDir(async (spoolDir) => {
      const server = await spawnUploadServer(kind, spoolDir, {
        flags: ["--allow-net=127.0.0.1"],
        threshold: 1024,
        app: "length",
      });
      try {
        const url = `http://127.0.0.1:${server.port}/`;
        const big = "x".repeat(4096);
        for (let i = 0; i < 2; i++) {
          const status = await curlStatus([
            "--data-binary",
            big,
            url,
          ]);
          assertEquals(status, "413");
        }
        assertEquals(await curl(["--data-binary", "small", url]), "5");
      } finally {
        await server.stop();
      }
      const said = server.stderr().split("\n")
        .filter((l) => l.includes("--allow-write"));
      assertEquals(said.length, 1, server.stderr());
      assertMatch(said[0], new RegExp(spoolDir.replaceAll("/", "\\/")));
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
      for (const kind of KINDS) {
        await t.step(
          `${NAMES[kind]}: 4 MiB into a 1 MiB file system`,
          async () => {
            await withSpooling(kind, lengthApp, async ({ port, log }) => {
              using c = await partialUpload(port, 4 * MiB, 4 * MiB);
              assertEquals((await c.response()).status, 507);
              assertMatch(log.getValue(), /No space left|space/i);
            }, { spoolDir: dir });
          },
        );
      }
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
