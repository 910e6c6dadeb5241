// The upload benchmark: 1 GiB PUT through each server (with Content-Length,
// then chunked), read whole by the app of tests/_upload_app.ts (SHA-256
// checked), with throughput and the peak RSS of the process that ran the
// app.
//
//   deno task bench:upload                 # or: deno run --allow-all bench/upload.ts
//   deno task bench:upload --mib 256       # a smaller body
//   deno task bench:upload --only simple   # simple | fetch | lighttpd
//   deno task bench:upload --read          # the app reads with read() (a new
//                                          # array per read) instead of readinto
//   deno task bench:upload --rounds 5      # uploads per row (default 3)
//
// Targets: the simple server and toFetchHandler on Deno.serve (each a
// process of tests/_upload_server.ts, spooling to a temporary directory),
// and a CGI program (bench/_upload_cgi.ts) under lighttpd, which buffers
// the body in its upload dir and then streams it to the program's stdin.
// With taskset, each server runs on CPU 1 and curl on CPU 0.
//
// The peak RSS of a server process is reset (GET) before each upload and
// read after it (VmHWM); the CGI program is a new process per request.

import { createHash } from "node:crypto";
import { startCgiServer } from "../tests/_cgi_servers.ts";
import { spawnUploadServer } from "../tests/_upload_server.ts";
import { median } from "./_stats.ts";
import { onPath } from "./_tools.ts";

const root = new URL("..", import.meta.url).pathname;
const args = Deno.args;
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const MiB = 1024 * 1024;
const size = Number(option("mib") ?? 1024) * MiB;
const only = option("only")?.split(",");
const query = args.includes("--read") ? "?read" : "";
const rounds = Number(option("rounds") ?? 3);

if (!onPath("curl")) {
  console.error("bench/upload.ts needs curl: apt-get install -y curl");
  Deno.exit(1);
}
const pinned = onPath("taskset");
if (!pinned) console.error("taskset not found: server and curl are not pinned");
const pin = (cpu: number, cmd: string[]) =>
  pinned ? ["taskset", "-c", String(cpu), ...cmd] : cmd;

const work = await Deno.makeTempDir({ prefix: "wsgiref-upload-bench-" });
const file = `${work}/body.bin`;
const spoolDir = `${work}/spool`;
await Deno.mkdir(spoolDir);

/** A body of `size` bytes: a random MiB, varied per MiB; its SHA-256. */
async function makeBody(): Promise<string> {
  const block = new Uint8Array(MiB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < MiB; i *= 2) block.copyWithin(i, 0, i);
  const hash = createHash("sha256");
  using f = await Deno.open(file, { write: true, create: true });
  for (let o = 0; o < size; o += MiB) {
    block[0] = o / MiB;
    block[1] = o / MiB / 256;
    const part = block.subarray(0, Math.min(MiB, size - o));
    hash.update(part);
    let off = 0;
    while (off < part.length) off += await f.write(part.subarray(off));
  }
  return hash.digest("hex");
}

interface Upload {
  mbps: number;
  hwmMiB: number;
}

/**
 * `rounds` uploads (after `before`, if given): the median throughput and
 * the largest peak RSS.
 */
async function uploads(
  url: string,
  chunked: boolean,
  sha256: string,
  before?: () => Promise<unknown>,
): Promise<Upload> {
  const all: Upload[] = [];
  for (let i = 0; i < rounds; i++) {
    await before?.();
    all.push(await upload(url, chunked, sha256));
  }
  return {
    mbps: median(all.map((u) => u.mbps)),
    hwmMiB: Math.max(...all.map((u) => u.hwmMiB)),
  };
}

/** PUTs the body to `url`; throughput and the app's peak RSS. */
async function upload(
  url: string,
  chunked: boolean,
  sha256: string,
): Promise<Upload> {
  const cmd = [
    "curl",
    "-sS",
    "--max-time",
    "600",
    "-T",
    file,
    "-w",
    "\n%{time_total}",
    ...(chunked ? ["-H", "Transfer-Encoding: chunked"] : []),
    url + query,
  ];
  const out = await new Deno.Command(pin(0, cmd)[0], {
    args: pin(0, cmd).slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const nl = text.lastIndexOf("\n");
  const body = JSON.parse(text.slice(0, nl));
  const secs = Number(text.slice(nl + 1));
  if (body.length !== size || body.sha256 !== sha256) {
    throw new Error(`${url}: got ${body.length} bytes, SHA-256 ${body.sha256}`);
  }
  return { mbps: size / secs / 1e6, hwmMiB: body.hwm / 1024 };
}

/** A server process of tests/_upload_server.ts (on CPU 1); its URL and a stop. */
async function serverProcess(kind: "simple" | "fetch") {
  const server = await spawnUploadServer(kind, spoolDir, {
    prefix: pinned ? ["taskset", "-c", "1"] : [],
  });
  const url = `http://127.0.0.1:${server.port}/`;
  return {
    url,
    /** Resets the peak RSS; the RSS now in MiB. */
    async reset(): Promise<number> {
      const r = await fetch(`${url}reset`);
      return (await r.json()).rss / 1024;
    },
    stop: () => server.stop(),
  };
}

const rows: string[] = [];
try {
  console.error(`making a ${size / MiB} MiB body…`);
  const sha256 = await makeBody();
  // Written back before the runs: the first upload must not compete with
  // the kernel flushing the file it reads.
  await new Deno.Command("sync").output().catch(() => {});
  for (const kind of ["simple", "fetch"] as const) {
    if (only !== undefined && !only.includes(kind)) continue;
    const server = await serverProcess(kind);
    try {
      for (const chunked of [false, true]) {
        const before = await server.reset();
        const r = await uploads(server.url, chunked, sha256, server.reset);
        const name = kind === "simple" ? "simple_server" : "toFetchHandler";
        const line = `| ${name} | ${chunked ? "chunked" : "Content-Length"} | ${
          r.mbps.toFixed(0)
        } | ${before.toFixed(0)} | ${r.hwmMiB.toFixed(0)} |`;
        console.error(line);
        rows.push(line);
      }
    } finally {
      await server.stop();
    }
  }
  if (only === undefined || only.includes("lighttpd")) {
    await using cgi = await startCgiServer("lighttpd", {
      programs: {
        upload: {
          script: `${root}bench/_upload_cgi.ts`,
          flags: ["--allow-all"],
        },
      },
    });
    for (const chunked of [false, true]) {
      const r = await uploads(`${cgi.url}/upload`, chunked, sha256);
      const line = `| CGIHandler under lighttpd | ${
        chunked ? "chunked" : "Content-Length"
      } | ${r.mbps.toFixed(0)} | — | ${r.hwmMiB.toFixed(0)} |`;
      console.error(line);
      rows.push(line);
    }
  }
} finally {
  await Deno.remove(work, { recursive: true });
}

const report = [
  `${size / MiB} MiB PUT by curl on 127.0.0.1 (median of ${rounds} uploads; ` +
  `the largest peak RSS), read by the app with ${
    query ? "read() (a new array per 1 MiB read)" : "readinto() (one buffer)"
  }; Deno ${Deno.version.deno}${
    pinned ? ", server on CPU 1, curl on CPU 0" : ", not pinned"
  }.`,
  "",
  "| server | framing | MB/s | RSS before (MiB) | peak RSS (MiB) |",
  "|---|---|---:|---:|---:|",
  ...rows,
  "",
].join("\n");
console.log(report);
await Deno.mkdir(`${root}bench/results`, { recursive: true });
await Deno.writeTextFile(`${root}bench/results/upload.md`, report);
