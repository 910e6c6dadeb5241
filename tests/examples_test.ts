// The examples, run as their comments and the README say:
// examples/hello.ts, examples/file_server.ts and examples/deno_serve.ts as
// `deno run` / `deno serve` child processes,
// examples/hono_cgi.ts as a CGI program under a real lighttpd (skipped with
// a printed reason when lighttpd is missing, except under CI=true; see
// tests/_cgi_servers.ts).

import {
  assertEquals,
  assertFalse,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { serverMissing, startCgiServer } from "./_cgi_servers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FILE_SERVER = `${ROOT}examples/file_server.ts`;
const DENO_SERVE = `${ROOT}examples/deno_serve.ts`;
const HONO_CGI = `${ROOT}examples/hono_cgi.ts`;
const HELLO = `${ROOT}examples/hello.ts`;

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array) => {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
};

/** A child process and the address it printed once it was listening. */
interface Running extends AsyncDisposable {
  port: number;
  child: Deno.ChildProcess;
}

/**
 * Spawns `deno <args>` in the repository and waits for a line on stdout or
 * stderr that matches `ready` (its first group is the port).
 */
async function spawn(args: string[], ready: RegExp): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output.push(decoder.decode(chunk, { stream: true }));
      const m = ready.exec(output.join(""));
      if (m) resolve(Number(m[1]));
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  child.status.then((s) =>
    reject(
      new Error(`exited (${s.code}) before listening:\n${output.join("")}`),
    )
  );
  const timer = setTimeout(
    () => reject(new Error(`not listening after 30 s:\n${output.join("")}`)),
    30000,
  );
  let port: number;
  try {
    port = await promise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await pumps;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    child,
    async [Symbol.asyncDispose]() {
      const kill = (signal: Deno.Signal) => {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await pumps;
    },
  };
}

/** One HTTP/1.0 exchange over a raw socket: nothing is normalised. */
async function raw(
  port: number,
  method: string,
  target: string,
): Promise<{ status: number; headers: Headers; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // A server that never closes fails the test instead of stalling it.
  const timer = setTimeout(() => conn.close(), 20000);
  try {
    await conn.write(
      enc(`${method} ${target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`),
    );
    const parts: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      parts.push(buf.slice(0, n));
    }
    const text = parts.map(latin1).join("");
    const end = text.indexOf("\r\n\r\n");
    const lines = text.slice(0, end).split("\r\n");
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return {
      status: Number(lines[0].split(" ")[1]),
      headers,
      body: text.slice(end + 4),
    };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

Deno.test("examples/file_server.ts", async (t) => {
  const top = await Deno.makeTempDir({ prefix: "wsgiref-files-" });
  const www = `${top}/www`;
  try {
    await Deno.writeTextFile(`${top}/secret.txt`, "top secret\n");
    await Deno.mkdir(`${www}/sub`, { recursive: true });
    await Deno.mkdir(`${www}/empty`);
    await Deno.writeTextFile(`${www}/index.html`, "<h1>home</h1>\n");
    await Deno.writeTextFile(`${www}/hello.txt`, "hello, file\n");
    await Deno.writeTextFile(`${www}/caf\u00e9.txt`, "accented\n");
    await Deno.writeTextFile(`${www}/data.json`, '{"a":1}\n');
    await Deno.writeFile(`${www}/blob.bin`, new Uint8Array(200_000).fill(7));
    await Deno.writeTextFile(`${www}/sub/index.html`, "<h1>sub</h1>\n");
    await Deno.symlink("hello.txt", `${www}/link-in.txt`);
    await Deno.symlink("../secret.txt", `${www}/link-out.txt`);
    await Deno.symlink("..", `${www}/dir-out`);
    const fifo = await new Deno.Command("mkfifo", { args: [`${www}/pipe`] })
      .output();

    await using server = await spawn(
      ["run", "--allow-net", "--allow-read", FILE_SERVER, www, "0"],
      /Serving .* on port (\d+), control-C to stop/,
    );
    const get = (target: string, method = "GET") =>
      raw(server.port, method, target);

    await t.step("files, with their MIME types and lengths", async () => {
      const cases: [string, string, string][] = [
        ["/hello.txt", "text/plain; charset=UTF-8", "hello, file\n"],
        ["/data.json", "application/json; charset=UTF-8", '{"a":1}\n'],
        ["/caf%C3%A9.txt", "text/plain; charset=UTF-8", "accented\n"],
        ["/link-in.txt", "text/plain; charset=UTF-8", "hello, file\n"],
      ];
      for (const [target, type, body] of cases) {
        const res = await get(target);
        assertEquals(res.status, 200, target);
        assertEquals(res.headers.get("content-type"), type, target);
        assertEquals(res.headers.get("content-length"), String(body.length));
        assertEquals(res.body, body, target);
      }
      const blob = await get("/blob.bin");
      assertEquals(blob.status, 200);
      assertEquals(
        blob.headers.get("content-type"),
        "application/octet-stream",
      );
      assertEquals(blob.body, "\x07".repeat(200_000));
    });

    await t.step("directories answer their index.html", async () => {
      for (
        const [target, body] of [["/", "<h1>home</h1>\n"], [
          "/sub/",
          "<h1>sub</h1>\n",
        ], ["/sub", "<h1>sub</h1>\n"]]
      ) {
        const res = await get(target);
        assertEquals(res.status, 200, target);
        assertEquals(
          res.headers.get("content-type"),
          "text/html; charset=UTF-8",
        );
        assertEquals(res.body, body, target);
      }
    });

    await t.step("missing: 404", async () => {
      const targets = ["/nope.txt", "/empty/", "/sub/nope", "/%FF.txt"];
      // Not a regular file: answered without opening it (a FIFO would block).
      if (fifo.success) targets.push("/pipe");
      for (const target of targets) {
        const res = await get(target);
        assertEquals(res.status, 404, target);
        assertEquals(res.body, "not found");
      }
    });

    await t.step("HEAD has no body; other methods: 405", async () => {
      const head = await get("/hello.txt", "HEAD");
      assertEquals(head.status, 200);
      assertEquals(head.headers.get("content-length"), "12");
      assertEquals(head.body, "");
      const post = await get("/hello.txt", "POST");
      assertEquals(post.status, 405);
      assertEquals(post.headers.get("allow"), "GET, HEAD");
    });

    await t.step("no way out of the directory", async () => {
      const escapes = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/sub/..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/link-out.txt",
        "/dir-out/secret.txt",
        "/dir-out/",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/hello.txt%00.html",
      ];
      for (const target of escapes) {
        const res = await get(target);
        assertEquals(res.status, 404, target);
        assertFalse(res.body.includes("top secret"), target);
        assertFalse(res.body.includes("root:"), target);
      }
      // A symlink that leaves and comes back in lands inside: allowed.
      const back = await get("/dir-out/www/hello.txt");
      assertEquals(back.status, 200);
      assertEquals(back.body, "hello, file\n");
    });
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("examples/hello.ts: wsgiref's hello world, with --allow-net only", async () => {
  await using server = await spawn(
    ["run", "--allow-net", HELLO, "0"],
    /Serving on port (\d+)\.\.\./,
  );
  const res = await raw(server.port, "GET", "/");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assertEquals(res.body, "Hello World");
});

Deno.test("examples/deno_serve.ts", async (t) => {
  await t.step("deno run: Deno.serve through toFetchHandler", async () => {
    await using server = await spawn(
      ["run", "--allow-net", DENO_SERVE, "0"],
      /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    );
    const res = await fetch(`http://127.0.0.1:${server.port}/caf%C3%A9?x=1`, {
      signal: AbortSignal.timeout(30000),
      method: "POST",
      body: "four",
    });
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
    const text = await res.text();
    assertMatch(text, /^Hello from WSGI on Deno /);
    assertStringIncludes(text, "\nPOST /café?x=1\n");
    assertStringIncludes(text, "\nwsgi.multiprocess: false\n");
    assertStringIncludes(text, "\nbody: 4 bytes\n");
    // A path that is not UTF-8: nativeToText refuses it, the app says 400.
    const bad = await fetch(`http://127.0.0.1:${server.port}/caf%E9`, {
      signal: AbortSignal.timeout(30000),
    });
    assertEquals(bad.status, 400);
    assertEquals(await bad.text(), "The path is not UTF-8.\n");
  });

  await t.step("deno serve --parallel: the default export", async () => {
    // Not port 0: each worker would pick its own.
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = free.addr.port;
    free.close();
    await using server = await spawn(
      [
        "serve",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        DENO_SERVE,
      ],
      /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    );
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`http://127.0.0.1:${server.port}/n/${i}`, {
        signal: AbortSignal.timeout(30000),
      });
      const text = await res.text();
      assertEquals(res.status, 200);
      assertStringIncludes(text, `\nGET /n/${i}\n`);
      assertStringIncludes(text, "\nwsgi.multiprocess: true\n");
    }
  });
});

/** Deno's cache, so the CGI program finds npm:hono without downloading it. */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

/** fetch(), with the whole body read within 30 s. */
async function fetchT(url: string, init: RequestInit = {}) {
  const signal = AbortSignal.timeout(30000);
  const res = await fetch(url, { ...init, signal });
  return { res, text: await res.text() };
}

Deno.test("examples/hono_cgi.ts run as docs/cgi.md's warm-up command", async () => {
  // `env DENO_DIR=… REQUEST_METHOD=GET /srv/cgi/form.ts`: no SERVER_NAME,
  // no PATH_INFO, no SCRIPT_NAME; the Hono app still answers its "/" route.
  const out = await new Deno.Command(HONO_CGI, {
    clearEnv: true,
    env: {
      PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:/usr/bin:/bin`,
      DENO_DIR: await denoDir(),
      REQUEST_METHOD: "GET",
    },
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(
    text,
    "Status: 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\n\r\n" +
      "Hello from Hono, as CGI\n",
    new TextDecoder().decode(out.stderr),
  );
});

Deno.test({
  name: "examples/hono_cgi.ts under lighttpd",
  ignore: serverMissing("lighttpd"),
  async fn(t) {
    await using server = await startCgiServer("lighttpd", {
      programs: { hono: { executable: HONO_CGI } },
      denoDir: await denoDir(),
    });
    const url = `${server.url}/hono`;

    await t.step("GET /: text", async () => {
      for (const path of ["/", ""]) {
        const { res, text } = await fetchT(`${url}${path}`);
        assertEquals(res.status, 200);
        assertEquals(
          res.headers.get("content-type"),
          "text/plain;charset=UTF-8",
        );
        assertEquals(text, "Hello from Hono, as CGI\n");
      }
    });

    await t.step("a route parameter, a query and a header", async () => {
      const { res, text } = await fetchT(`${url}/hello/caf%C3%A9?lang=fr`, {
        headers: { "User-Agent": "examples-test" },
      });
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-type"), "application/json");
      assertEquals(JSON.parse(text), {
        hello: "café",
        lang: "fr",
        agent: "examples-test",
      });
    });

    await t.step("a POST body, through wsgi.input, and a 201", async () => {
      const payload = "x".repeat(300_000);
      const { res, text } = await fetchT(`${url}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/x-test" },
        body: payload,
      });
      assertEquals(res.status, 201);
      assertEquals(text, `application/x-test: ${payload}`);
    });

    await t.step("two Set-Cookie headers, kept apart", async () => {
      const { res } = await fetchT(`${url}/cookies`);
      assertEquals(res.status, 204);
      assertEquals(res.headers.getSetCookie(), [
        "a=1; Path=/",
        "b=2; Path=/; HttpOnly",
      ]);
    });

    await t.step("an unknown route: Hono's 404", async () => {
      const { res, text } = await fetchT(`${url}/nope`);
      assertEquals(res.status, 404);
      assertEquals(text, "404 Not Found");
    });
  },
});
