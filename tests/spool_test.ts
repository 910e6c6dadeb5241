// The request-body spool (_spool.ts) on its own: memory up to the
// threshold, a temporary file past it, read back synchronously, and no file
// or descriptor left once it is closed.

import { assert, assertEquals, assertRejects } from "@std/assert";
import { BodySpool, SpoolError } from "../_spool.ts";
import { openSpoolFiles } from "./_spool_files.ts";

/** Deterministic bytes: `n` of them, from a seed. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function withDir(
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spool-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a body up to the threshold stays in memory", async () => {
  await withDir((dir) => {
    using spool = new BodySpool({ threshold: 100, dir });
    const a = bytes(60, 1);
    const b = bytes(40, 2);
    assertEquals(spool.append(a), undefined); // no promise: no I/O
    a.fill(0); // the caller may reuse its buffer
    assertEquals(spool.append(b), undefined);
    assertEquals(spool.end(), undefined);
    assertEquals(spool.onDisk, false);
    assertEquals(spool.length, 100);
    assertEquals(spool.input().read(), concat([bytes(60, 1), b]));
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("past the threshold the body goes to a file, read back whole", async () => {
  await withDir(async (dir) => {
    const parts = [bytes(70_000, 1), bytes(1, 2), bytes(200_000, 3)];
    {
      using spool = new BodySpool({ threshold: 65536, dir });
      for (const p of parts) {
        await spool.append(p);
        p.fill(0xaa); // reused by the caller: the spool kept a copy
      }
      assert(spool.onDisk);
      assertEquals(spool.length, 270_001);
      // The file is out of the directory from the start.
      assertEquals([...Deno.readDirSync(dir)], []);
      assertEquals(openSpoolFiles().length, 1);
      await spool.end();
      const input = spool.input();
      const first = input.read(10);
      const rest = input.read();
      assertEquals(
        concat([first, rest]),
        concat([bytes(70_000, 1), bytes(1, 2), bytes(200_000, 3)]),
      );
      assertEquals(input.read().length, 0);
    }
    assertEquals(openSpoolFiles(), [], "the file was closed");
  });
});

Deno.test("memory moves to the file when a body grows past the threshold", async () => {
  await withDir(async (dir) => {
    using spool = new BodySpool({ threshold: 1000, dir });
    const lines = [];
    for (let i = 0; i < 200; i++) {
      const line = new TextEncoder().encode(`line ${i}\n`);
      lines.push(line);
      await spool.append(line);
    }
    assert(spool.onDisk);
    await spool.end();
    const input = spool.input();
    assertEquals(input.readline(), lines[0]);
    assertEquals(input.readlines().length, 199);
  });
});

Deno.test("a known length over the threshold goes to the file at once", async () => {
  await withDir(async (dir) => {
    using spool = new BodySpool({ threshold: 10, dir }, 20);
    await spool.append(bytes(5));
    assert(spool.onDisk);
    await spool.append(bytes(15, 9));
    await spool.end();
    assertEquals(spool.input().read(), concat([bytes(5), bytes(15, 9)]));
  });
});

Deno.test("close() during the first write leaves no file open", async () => {
  await withDir(async (dir) => {
    const spool = new BodySpool({ threshold: 1, dir });
    const writing = spool.append(bytes(100));
    spool.close();
    await Promise.resolve(writing).catch(() => {});
    assertEquals(openSpoolFiles(), []);
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("a directory that cannot be written: SpoolError", async () => {
  const spool = new BodySpool({
    threshold: 1,
    dir: "/nonexistent/wsgiref-spool",
  });
  const e = await assertRejects(
    async () => await spool.append(bytes(10)),
    SpoolError,
  );
  assertEquals(e.permission, false);
  assert(e.message.includes("/nonexistent/wsgiref-spool"), e.message);
  spool.close();
});

Deno.test("without --allow-write: a SpoolError that names the permission", async () => {
  await withDir(async (dir) => {
    const code = `
      import { BodySpool, SpoolError } from ${
      JSON.stringify(new URL("../_spool.ts", import.meta.url).href)
    };
      const spool = new BodySpool({ threshold: 1, dir: ${
      JSON.stringify(dir)
    } });
      try {
        await spool.append(new Uint8Array(10));
        console.log("no error");
      } catch (e) {
        console.log(e instanceof SpoolError, e.permission, e.message);
      }
    `;
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(script, code);
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-lock",
          `--allow-read=${dir}`,
          script,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } finally {
      await Deno.remove(script);
    }
    const text = new TextDecoder().decode(out.stdout);
    assert(
      text.startsWith("true true "),
      text + new TextDecoder().decode(out.stderr),
    );
    assert(text.includes("--allow-write"), text);
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});
