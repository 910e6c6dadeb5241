// The README (and docs/) kept true where that needs no web server: its size,
// its local links, every ```ts block type-checked, and its commands run.
//
// JSR is unreachable from the machines this is tested on, so each command
// that names `jsr:@wsgiref/wsgiref/...` runs as its in-repo equivalent, as
// tests/simple_server_cli_test.ts does: the same flags, with
// `jsr:@wsgiref/wsgiref/simple_server` replaced by this checkout's
// simple_server.ts and a `--config` whose import map sends every
// `jsr:@wsgiref/wsgiref/...` import to this checkout's files. Those files are
// local where JSR's are remote, so `--allow-read` is widened to the checkout
// (a module from JSR needs no read permission).

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Cli } from "./_cli.ts";
import { curl, selfSignedCert } from "./_tools.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const README = `${ROOT}README.md`;
const JSR = "jsr:@wsgiref/wsgiref";
const JSR_SERVER = `${JSR}/simple_server`;
/** What the README's hello app answers for /caf%C3%A9. */
const HELLO = "Hello from /café\n";
/** A request body over the default spoolThreshold (1 MiB). */
const LARGE_BODY = 2 * 1024 * 1024;

/** The Markdown files whose links and code blocks are checked. */
async function markdownFiles(): Promise<string[]> {
  const files = [README, `${ROOT}CHANGELOG.md`, `${ROOT}bench/README.md`];
  for await (const e of Deno.readDir(`${ROOT}docs`)) {
    if (e.isFile && e.name.endsWith(".md")) files.push(`${ROOT}docs/${e.name}`);
  }
  return files;
}

/** The fenced code blocks of `lang` in a Markdown text. */
function codeBlocks(markdown: string, lang: string): string[] {
  const blocks: string[] = [];
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm");
  for (const m of markdown.matchAll(re)) blocks.push(m[1]);
  return blocks;
}

/** The file a ts block names on its first line (after a `#!` line): `// app.ts`. */
function blockFileName(block: string): string | undefined {
  const lines = block.split("\n");
  const first = lines[0].startsWith("#!") ? lines[1] : lines[0];
  return /^\/\/ ([\w.-]+\.ts)$/.exec(first ?? "")?.[1];
}

/**
 * A deno.json whose import map sends `jsr:@wsgiref/wsgiref[/module]` and
 * `@wsgiref/wsgiref[/module]` (as after `deno add`) to this checkout.
 */
async function writeImportMap(dir: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const imports: Record<string, string> = {};
  for (const [sub, file] of Object.entries<string>(config.exports)) {
    const target = new URL(file, `file://${ROOT}`).href;
    const suffix = sub === "." ? "" : sub.slice(1);
    imports[`${JSR}${suffix}`] = target;
    imports[`@wsgiref/wsgiref${suffix}`] = target;
  }
  const path = `${dir}/deno.json`;
  await Deno.writeTextFile(path, JSON.stringify({ imports }, null, 2));
  return path;
}

/** GitHub's anchor for a heading's text. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replaceAll(" ", "-");
}

/** The anchors of a Markdown file's headings, as GitHub makes them. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (
    const m of markdown.replace(/^```[\s\S]*?^```$/gm, "").matchAll(
      /^#+ (.+)$/gm,
    )
  ) {
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** A free TCP port on 127.0.0.1 (for commands that cannot take port 0). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** GETs (or POSTs `body` to) `url`, retrying a refused connection for 30 s. */
async function request(
  url: string,
  body?: Uint8Array<ArrayBuffer>,
): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const res = await fetch(url, {
        method: body === undefined ? "GET" : "POST",
        body,
        signal: AbortSignal.timeout(20000),
      });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      if (!(e instanceof TypeError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Sends SIGINT and expects the process to end within 20 s with `code`. */
async function interrupt(cli: Cli): Promise<Deno.CommandStatus> {
  cli.kill("SIGINT");
  const status = await cli.exitWithin(20000);
  if (status === null) {
    throw new Error(`still running 20 s after SIGINT:\n${cli.err}`);
  }
  return status;
}

/** Waits (at most 10 s) until nothing listens on `port` any more. */
async function closed(port: number): Promise<void> {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`port ${port} still open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("README.md is at most 20 KB", async () => {
  const { size } = await Deno.stat(README);
  assert(size <= 20_000, `README.md is ${size} bytes; move details to docs/`);
});

Deno.test("local links in the README, CHANGELOG, docs/ and bench/README.md", async () => {
  const broken: string[] = [];
  for (const file of await markdownFiles()) {
    const text = (await Deno.readTextFile(file)).replace(
      /^```[\s\S]*?^```$/gm,
      "",
    );
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto: …
      const [path, anchor] = target.split("#");
      const dest = path === ""
        ? file
        : new URL(path, `file://${file}`).pathname;
      const where = `${file.slice(ROOT.length)}: ${target}`;
      let destText: string;
      try {
        destText = (await Deno.stat(dest)).isFile
          ? await Deno.readTextFile(dest)
          : "";
      } catch {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor !== undefined && !anchors(destText).has(anchor)) {
        broken.push(`${where} (no such heading)`);
      }
    }
  }
  assertEquals(broken, []);
});

Deno.test("every ts block of the README and docs/ type-checks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-readme-check-" });
  try {
    const config = await writeImportMap(dir);
    const files: string[] = [];
    for (const md of await markdownFiles()) {
      const blocks = codeBlocks(await Deno.readTextFile(md), "ts");
      if (blocks.length === 0) continue;
      // One folder per Markdown file: its blocks may import each other.
      const sub = `${dir}/${md.slice(ROOT.length).replaceAll("/", "_")}`;
      await Deno.mkdir(sub);
      for (const [i, block] of blocks.entries()) {
        const file = `${sub}/${blockFileName(block) ?? `block_${i}.ts`}`;
        await Deno.writeTextFile(file, block);
        files.push(file);
      }
    }
    assert(files.length >= 8, `only ${files.length} ts blocks found`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", config, "--no-lock", ...files],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const errors = new TextDecoder().decode(out.stderr);
    assert(out.success, `deno check of the Markdown ts blocks:\n${errors}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's commands, run as written (JSR ones from this checkout)", async (t) => {
  const readme = await Deno.readTextFile(README);
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-readme-run-" });
  try {
    const config = await writeImportMap(dir);
    for (const block of codeBlocks(readme, "ts")) {
      const name = blockFileName(block);
      if (name) await Deno.writeTextFile(`${dir}/${name}`, block);
    }
    const { certFile } = await selfSignedCert(dir); // cert.pem, key.pem
    const deno = (args: string[]) => new Cli(args, dir, { TMPDIR: "/tmp" });
    const lines = codeBlocks(readme, "sh").flatMap((b) => b.split("\n"))
      .map((line) => line.replace(/\s+#.*$/, "").trim());
    const jsrServerLines = lines.filter((l) => l.includes(JSR_SERVER));
    assert(jsrServerLines.length >= 4, "the README's command lines");
    /** Commands that took a body over spoolThreshold. */
    let spooled = 0;

    for (const line of jsrServerLines) {
      await t.step(line, async () => {
        const words = line.split(/\s+/);
        assertEquals(words.slice(0, 2), ["deno", "run"]);
        const args = ["run", "--config", config, "--no-lock"];
        for (const word of words.slice(2)) {
          if (word === JSR_SERVER) args.push(`${ROOT}simple_server.ts`);
          else if (word.startsWith("--allow-read=")) {
            args.push(`${word},${ROOT}`);
          } else args.push(word);
        }
        const unix = words.includes("--unix");
        if (!unix && !words.includes("--port")) {
          args.push("--host", "127.0.0.1", "--port", "0");
        }
        const serving = words.includes("./app.ts");
        await using cli = deno(args);
        const get = async (path: string) => {
          if (unix) {
            await cli.waitFor("out", /^Serving HTTP on unix:/);
            const socket = new URL(
              words[words.indexOf("--unix") + 1],
              `file://${dir}/`,
            ).pathname; // curl runs elsewhere
            return await curl([
              "--unix-socket",
              socket,
              `http://localhost${path}`,
            ]);
          }
          const { scheme, port } = await cli.listening();
          if (scheme === "HTTPS") {
            return await curl([
              "--cacert",
              certFile,
              `https://localhost:${port}${path}`,
            ]);
          }
          return (await request(`http://127.0.0.1:${port}${path}`)).text;
        };
        const text = await get("/caf%C3%A9");
        if (serving) assertEquals(text, HELLO);
        else assertMatch(text, /^Hello world!\n/); // demoApp
        if (!unix && !words.includes("--cert")) {
          // Bodies over spoolThreshold: spooled with the temp dir's
          // permissions, else 413 (and the log says which are missing).
          const { port } = await cli.listening();
          const res = await request(
            `http://127.0.0.1:${port}/`,
            new Uint8Array(LARGE_BODY),
          );
          const spools = words.includes("--allow-write=/tmp");
          assertEquals(res.status, spools ? 200 : 413, cli.err);
          if (spools) spooled++;
          // The log says which permissions are missing (written in batches).
          else await cli.waitFor("err", /needs --allow-read and --allow-write/);
        }
        assertEquals((await interrupt(cli)).code, 0, cli.err);
      });
    }

    assert(spooled > 0, "no command of the README takes a body over 1 MiB");

    await t.step(
      "deno run --allow-net server.ts (makeServer, stopped by Ctrl-C)",
      async () => {
        assertStringIncludes(readme, "`deno run --allow-net server.ts`");
        const port = freePort();
        const source = await Deno.readTextFile(`${dir}/server.ts`);
        assertStringIncludes(source, "8000");
        await Deno.writeTextFile(
          `${dir}/server.ts`,
          source.replace("8000", String(port)),
        );
        await using cli = deno([
          "run",
          "--config",
          config,
          "--no-lock",
          "--allow-net",
          "server.ts",
        ]);
        assertEquals(
          (await request(`http://127.0.0.1:${port}/caf%C3%A9`)).text,
          HELLO,
        );
        assertEquals((await interrupt(cli)).code, 0, cli.err);
      },
    );

    await t.step(
      "deno serve --parallel --port 8000 serve.ts (toFetchHandler)",
      async () => {
        const command = "deno serve --parallel --port 8000 serve.ts";
        assert(lines.includes(command), command);
        const port = freePort();
        await using _server = deno([
          "serve",
          "--config",
          config,
          "--no-lock",
          ...command.split(" ").slice(2).map((w) =>
            w === "8000" ? String(port) : w
          ),
        ]);
        for (let i = 0; i < 2; i++) {
          assertEquals(
            (await request(`http://127.0.0.1:${port}/caf%C3%A9`)).text,
            HELLO,
          );
        }
        // (Disposing of _server ends it.)
      },
    );

    await t.step(
      "hello.cgi.ts, the CGI program, run as a server and as the warm-up runs it",
      async () => {
        const program = await Deno.readTextFile(`${dir}/hello.cgi.ts`);
        const shebang = program.split("\n")[0];
        const flags = shebang.replace("#!/usr/bin/env -S deno ", "").split(" ");
        assertEquals(flags.slice(0, 2), ["run", "--no-config"]);
        const args = [
          "run",
          "--config",
          config,
          ...flags.slice(2),
          "hello.cgi.ts",
        ];
        const cgi = async (env: Record<string, string>) => {
          const out = await new Deno.Command(Deno.execPath(), {
            args,
            cwd: dir,
            env,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output();
          const dec = new TextDecoder();
          assert(out.success, dec.decode(out.stderr));
          return dec.decode(out.stdout);
        };
        // As a web server runs it: PATH_INFO is the UTF-8 path.
        const served = await cgi({ REQUEST_METHOD: "GET", PATH_INFO: "/café" });
        assertMatch(served, /^Status: 200 OK\r\n/);
        assert(served.endsWith(`\r\n\r\n${HELLO}`), served);
        // The README's warm-up: REQUEST_METHOD only.
        assertStringIncludes(
          readme,
          "REQUEST_METHOD=GET /srv/cgi/hello.cgi.ts",
        );
        const warm = await cgi({ REQUEST_METHOD: "GET" });
        assertMatch(warm, /^Status: 200 OK\r\n/);
      },
    );

    await t.step("deno task demo, in the clone", async () => {
      assert(lines.includes("deno task demo"));
      await using cli = new Cli([
        "task",
        "demo",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ], ROOT);
      const { port } = await cli.listening();
      assertMatch(
        (await request(`http://127.0.0.1:${port}/`)).text,
        /^Hello world!\n/,
      );
      // Ctrl-C: the server shuts down gracefully. (deno task's own status,
      // 0 or 130, depends on which of the two saw the signal end first.)
      await interrupt(cli);
      await cli.waitFor("err", /SIGINT received, shutting down/);
      await closed(port);
    });

    await t.step(
      "deno task test and the Deno versions, as .ci/run has them",
      async () => {
        // The test task itself cannot run inside it; its versions can be read.
        assert(lines.includes("deno task test"));
        const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
        const version = /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1];
        const oldest = /^DENO_MIN_VERSION=(\S+)$/m.exec(ci)?.[1];
        const flat = readme.replace(/\s+/g, " ");
        assertStringIncludes(flat, `\`npx -y deno@${version} task test\``);
        assertStringIncludes(flat, `(Deno ${oldest} or later)`);
        assertStringIncludes(
          flat,
          `on Deno ${version} and on ${oldest}, the oldest`,
        );
        const tasks =
          JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
        assert(
          typeof tasks.test === "string" && typeof tasks.demo === "string",
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs/cgi.md's nginx recipe is the one the CGI tests run", async () => {
  const doc = await Deno.readTextFile(`${ROOT}docs/cgi.md`);
  const recipe = codeBlocks(doc, "nginx").find((b) => b.includes("location"));
  if (recipe === undefined) throw new Error("no nginx location in docs/cgi.md");
  // The lines that decide which requests reach the program, and how its
  // path splits, as tests/_cgi_servers.ts writes them for a program `name`.
  const servers = await Deno.readTextFile(`${ROOT}tests/_cgi_servers.ts`);
  const routing = recipe.split("\n").map((l) => l.trim())
    .filter((l) => /^(location|fastcgi_split_path_info) /.test(l));
  assertEquals(routing.length, 2, recipe);
  for (const line of routing) {
    assertStringIncludes(servers, line.replaceAll("/form", "/${name}"));
  }
  for (const param of ["SCRIPT_NAME", "PATH_INFO"]) {
    const line = recipe.split("\n").find((l) => l.includes(`param ${param} `));
    assertMatch(line ?? "", /\$fastcgi_(script_name|path_info);$/);
    assertMatch(servers, new RegExp(`fastcgi_param ${param} \\$fastcgi_`));
  }
});
