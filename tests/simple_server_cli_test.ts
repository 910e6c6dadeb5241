// The command line of simple_server.ts, run as a user runs it: `deno run`
// with the fewest permissions that work, from the repository and from a URL
// (as from JSR); --help; --unix and --cert/--key; and stopping: the first
// SIGINT or SIGTERM shuts down gracefully, a second one ends the process at
// once even while an app awaits a long timer.
import { Cli } from "./_cli.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { curl, curlStatus, selfSignedCert } from "./_tools.ts";

const SCRIPT = new URL("../simple_server.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const JSR_COMMAND =
  "deno run --allow-net --allow-read=./app.ts jsr:@wsgiref/wsgiref/simple_server ./app.ts";

/** GET `path` over HTTP/1.0 on 127.0.0.1; the body, bounded to 20 s. */
async function get(port: number, path = "/x"): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(20000),
  });
  return await res.text();
}

Deno.test("command line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-cli-" });
  const app = `${dir}/my app.ts`;
  await Deno.writeTextFile(
    app,
    `export function app(environ, startResponse) {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("app " + environ.PATH_INFO)];
}
export const other = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("other " + environ.PATH_INFO)];
};
`,
  );
  // Awaits a ten-minute timer for /slow, a short one for /short.
  await Deno.writeTextFile(
    `${dir}/slow.ts`,
    `export default async (environ, startResponse) => {
  console.error("entered " + environ.PATH_INFO);
  const ms = environ.PATH_INFO === "/slow" ? 600_000 : 300;
  await new Promise((r) => setTimeout(r, ms));
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("done " + environ.PATH_INFO)];
};
`,
  );
  const run = (args: string[], env?: Record<string, string>) =>
    new Cli(["run", "--no-lock", ...args], dir, env);
  const runSlow = () =>
    run([
      "--allow-net",
      "--allow-read=./slow.ts",
      SCRIPT,
      "slow.ts",
      "--host=127.0.0.1",
      "--port=0",
    ]);

  try {
    await t.step(
      "--help: the JSR command, its permissions; the module doc agrees",
      async () => {
        await using cli = run([SCRIPT, "--help"]);
        assertEquals((await cli.status).code, 0);
        assertStringIncludes(cli.out, JSR_COMMAND);
        assertStringIncludes(cli.out, "--cert FILE");
        assertStringIncludes(cli.out, "--unix PATH");
        assert(!/ -A /.test(cli.out), "--help says -A");
        const source = await Deno.readTextFile(SCRIPT);
        const moduleDoc = source.slice(0, source.indexOf("@module"));
        assertStringIncludes(moduleDoc.replaceAll("\n * ", "\n"), JSR_COMMAND);
        assert(!/ -A /.test(moduleDoc), "the module doc says -A");
      },
    );

    await t.step(
      "an app file, with --allow-read for it only; Ctrl-C exits 0",
      async () => {
        await using cli = run([
          "--allow-net",
          "--allow-read=./my app.ts",
          SCRIPT,
          "my app.ts",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
        ]);
        const { host, port } = await cli.listening();
        assertEquals(host, "127.0.0.1");
        assertEquals(await get(port), "app /x");
        cli.kill("SIGINT");
        assertEquals((await cli.status).code, 0);
        assertMatch(cli.err, /"GET \/x HTTP\/1\.1" 200 6\n/);
      },
    );

    await t.step("a named export, by absolute path", async () => {
      await using cli = run([
        "--allow-net",
        `--allow-read=${app}`,
        SCRIPT,
        `${app}:other`,
        "--port=0",
        "--host=127.0.0.1",
      ]);
      assertEquals(await get((await cli.listening()).port), "other /x");
      cli.kill("SIGTERM");
      assertEquals((await cli.status).code, 0);
    });

    await t.step(
      "without --allow-read for the app: exit 1, saying so",
      async () => {
        await using cli = run(["--allow-net", SCRIPT, "my app.ts", "--port=0"]);
        assertEquals((await cli.status).code, 1);
        assertStringIncludes(cli.err, "--allow-read");
      },
    );

    await t.step("demoApp by default, with --allow-net only", async () => {
      await using cli = run(["--allow-net", SCRIPT, "--port", "0"]);
      const { host, port } = await cli.listening();
      assertEquals(host, "0.0.0.0");
      assert((await get(port)).startsWith("Hello world!\n\n"));
      cli.kill("SIGINT");
      assertEquals((await cli.status).code, 0);
    });

    await t.step(
      "a body over the spool threshold, with the demo task's permissions",
      async () => {
        const tmp = await Deno.makeTempDir({ prefix: "wsgiref-cli-spool-" });
        try {
          const task = JSON.parse(
            await Deno.readTextFile(`${ROOT}deno.json`),
          ).tasks.demo as string;
          const flags = task.split(" ").filter((a) => a.startsWith("--"))
            .map((a) => a.replaceAll("/tmp", tmp));
          await using cli = run(
            [...flags, SCRIPT, "--port", "0"],
            { TMPDIR: tmp },
          );
          const { port } = await cli.listening();
          const body = `${tmp}/body`;
          await Deno.writeFile(body, new Uint8Array(2 * 1024 * 1024));
          const status = await curlStatus([
            "--data-binary",
            `@${body}`,
            `http://127.0.0.1:${port}/`,
          ]);
          assertEquals(status, "200");
          cli.kill("SIGINT");
          assertEquals((await cli.status).code, 0);
          assertEquals(cli.err.includes("--allow-write"), false, cli.err);
        } finally {
          await Deno.remove(tmp, { recursive: true });
        }
      },
    );

    await t.step("usage errors exit 2", async () => {
      const cases: [string[], string][] = [
        [["--unix", "s.sock", "--port", "1"], "--unix listens instead of"],
        [["--port", "http"], 'invalid port "http"'],
        [["--bogus"], "unknown option --bogus"],
      ];
      for (const [args, message] of cases) {
        await using cli = run([SCRIPT, ...args]);
        assertEquals((await cli.status).code, 2, args.join(" "));
        assertStringIncludes(cli.err, `error: ${message}`);
      }
    });

    await t.step(
      "from a URL, as from JSR: --allow-net --allow-read=./app.ts",
      async () => {
        // The repository served over HTTP stands in for JSR (unreachable
        // here); a remote main module is what `jsr:` gives. Its only extra
        // flag is --allow-import for this host, which jsr.io needs not.
        await Deno.copyFile(app, `${dir}/app.ts`);
        const repo = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen() {} },
          async (req) => {
            const path = new URL(req.url).pathname;
            if (!/^\/\w+\.ts$/.test(path)) {
              return new Response(null, { status: 404 });
            }
            const body = await Deno.readFile(`${ROOT}${path.slice(1)}`).catch(
              () => null,
            );
            return body === null
              ? new Response(null, { status: 404 })
              : new Response(body, {
                headers: { "Content-Type": "application/typescript" },
              });
          },
        );
        try {
          const host = `127.0.0.1:${repo.addr.port}`;
          await using cli = run([
            "--no-config",
            "--allow-net",
            "--allow-read=./app.ts",
            `--allow-import=${host}`,
            `http://${host}/simple_server.ts`,
            "./app.ts",
            "--port=0",
          ], { DENO_DIR: `${dir}/deno_dir` });
          assertEquals(await get((await cli.listening()).port), "app /x");
          cli.kill("SIGINT");
          assertEquals((await cli.status).code, 0);
        } finally {
          await repo.shutdown();
        }
      },
    );

    await t.step(
      "--unix PATH, with --allow-read and --allow-write for it",
      async () => {
        const socket = `${dir}/cli.sock`;
        await using cli = run([
          "--allow-net",
          `--allow-read=${socket},./my app.ts`,
          `--allow-write=${socket}`,
          SCRIPT,
          "my app.ts",
          "--unix",
          socket,
        ]);
        await cli.waitFor("out", /^Serving HTTP on unix:\S+ \.\.\.\n/);
        assertStringIncludes(cli.out, `unix:${socket} ...`);
        assertEquals(
          await curl(["--unix-socket", socket, "http://localhost/u"]),
          "app /u",
        );
        cli.kill("SIGTERM");
        assertEquals((await cli.status).code, 0);
        await Deno.lstat(socket).then(
          () => assert(false, "the socket file is left"),
          (e) => assert(e instanceof Deno.errors.NotFound, String(e)),
        );
      },
    );

    await t.step("--cert and --key: HTTPS", async () => {
      const { certFile, keyFile } = await selfSignedCert(dir);
      await using cli = run([
        "--allow-net",
        `--allow-read=./my app.ts,${certFile},${keyFile}`,
        SCRIPT,
        "my app.ts",
        "--cert",
        certFile,
        "--key",
        keyFile,
        "--host=127.0.0.1",
        "--port=0",
      ]);
      const { scheme, port } = await cli.listening();
      assertEquals(scheme, "HTTPS");
      assertEquals(
        await curl(["--cacert", certFile, `https://localhost:${port}/s`]),
        "app /s",
      );
      cli.kill("SIGINT");
      assertEquals((await cli.status).code, 0);
    });

    await t.step(
      "the first signal lets a request in flight finish; exit 0",
      async () => {
        await using cli = runSlow();
        const { port } = await cli.listening();
        const answer = get(port, "/short");
        await cli.waitFor("err", /entered \/short\n/);
        cli.kill("SIGTERM");
        assertEquals(await answer, "done /short");
        assertEquals((await cli.status).code, 0);
        assertStringIncludes(cli.err, "SIGTERM received, shutting down");
      },
    );

    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      await t.step(
        `a second ${signal} ends it at once (${code}), even mid-await`,
        async () => {
          await using cli = runSlow();
          const { port } = await cli.listening();
          const answer = get(port, "/slow").catch((e) => e);
          await cli.waitFor("err", /entered \/slow\n/);
          cli.kill(signal);
          await cli.waitFor("err", new RegExp(`${signal} received`));
          // The app still awaits its ten-minute timer: graceful would wait.
          assertEquals(await cli.exitWithin(500), null);
          cli.kill(signal);
          const status = await cli.exitWithin(20000);
          if (status === null) {
            throw new Error(`still running 20 s after the second ${signal}`);
          }
          assertEquals(status.code, code);
          assert((await answer) instanceof Error, "the request was answered");
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
