// The benchmark: one command starts every target side by side, drives each
// with wrk, downloads a file (1 GiB by default) through each, measures the
// RSS of a fresh server holding 10,000 idle keep-alive connections, and
// prints a Markdown table (also written to bench/results/).
//
// The wrk runs are interleaved: each round runs every target once, and a
// ratio is taken within each round, so that a slow minute on a shared
// machine slows every target of that round alike. The table gives the median
// req/s, the median of the per-round ratios, and the server's CPU time per
// request (user + system, from /proc/PID/stat, over the requests wrk
// counted): steadier than req/s when other work shares the machine.
//
// The servers run on core 1 and the load (wrk, curl, the idle clients) on
// core 0 when `taskset` exists (it says so when it does not).
//
//   deno task bench                  # or: deno run --allow-all bench/run.ts
//   deno task bench --duration 5     # seconds per wrk run (default 4)
//   deno task bench --rounds 9       # wrk rounds (default 5)
//   deno task bench --only "Deno.serve,simple_server"
//   deno task bench --skip file,idle
//   deno task bench --no-pin         # do not pin (the default pins)
//   deno task bench --idle 2000      # idle connections (default 10,000)
//   deno task bench --file-mib 256   # size of the download (default 1024)
//   deno task bench --compare /path/to/other/checkout/
//                                    # adds "toFetchHandler (compare)" and
//                                    # "simple_server (compare)": the other
//                                    # checkout's fetch.ts / simple_server.ts
//
// To add a target, add one entry to TARGETS: a name, the command that starts
// it ("{port}" is replaced by the port) and the port. A target must answer
// GET / with "Hello world!" (Content-Type: text/plain), and GET /file with
// the file named by the BENCH_FILE environment variable; to hold idle
// connections, it must not time them out within a few minutes.
//
// The idle row starts each target afresh (its RSS then does not depend on
// how its heap grew under wrk) with its open-file limit raised (`ulimit -n`
// in a shell that then runs it), and opens the connections from
// bench/_idle_conns.ts, raised likewise: one request each, then idle. It
// then times one new client's request, and checks that the idle ones are
// still served.

import { median } from "./_stats.ts";
import { onPath } from "./_tools.ts";

const DENO = Deno.execPath();
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;

/** One server under test. */
interface Target {
  /** Row name in the table. */
  name: string;
  /** argv; "{port}" is replaced with `port`. Run from the repository root. */
  command: string[];
  /** Port it listens on (127.0.0.1). */
  port: number;
  /** False if it cannot hold a keep-alive connection (skips the idle row). */
  keepAlive?: boolean;
  /** False if it serves no file (skips the download). */
  file?: boolean;
  /** More environment variables for it. */
  env?: Record<string, string>;
}

const DENO_RUN = [DENO, "run", "--allow-net", "--allow-read", "--allow-env"];

const TARGETS: Target[] = [
  {
    name: "simple_server (this)",
    command: [...DENO_RUN, `${here}wsgi_hello.ts`, "{port}"],
    port: 8301,
  },
  {
    name: "Deno.serve",
    command: [...DENO_RUN, `${here}deno_serve_hello.ts`, "{port}"],
    port: 8302,
  },
  {
    name: "Deno.serve, string body",
    command: [...DENO_RUN, `${here}deno_serve_hello.ts`, "{port}", "string"],
    port: 8305,
  },
  {
    name: "toFetchHandler (this)",
    command: [...DENO_RUN, `${here}fetch_hello.ts`, "{port}"],
    port: 8304,
  },
  {
    name: "bare Deno.listen, no parsing",
    command: [
      DENO,
      "run",
      "--allow-net",
      `${here}bare_listen_hello.ts`,
      "{port}",
    ],
    port: 8309,
    file: false,
  },
  {
    name: "Python wsgiref",
    command: ["python3", `${here}python_wsgiref_hello.py`, "{port}"],
    port: 8303,
    keepAlive: false,
  },
];

/** One wrk load. */
interface Scenario {
  name: string;
  wrk: string[];
}

const SCENARIOS: Scenario[] = [
  { name: "keep-alive, 50 conns", wrk: ["-t2", "-c50"] },
  {
    name: "Connection: close, 10 conns",
    wrk: ["-t2", "-c10", "-H", "Connection: close"],
  },
];

// ---------------------------------------------------------------- options

function option(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? undefined : Deno.args[i + 1];
}
const duration = Number(option("duration") ?? 4);
const rounds = Number(option("rounds") ?? 5);
const only = option("only")?.split(",");
const skip = new Set(option("skip")?.split(",") ?? []);
const idleConns = Number(option("idle") ?? 10_000);
const fileMiB = Number(option("file-mib") ?? 1024);
const compare = option("compare");
if (compare !== undefined) {
  const env = { WSGIREF_ROOT: compare.endsWith("/") ? compare : compare + "/" };
  TARGETS.push({
    name: "toFetchHandler (compare)",
    command: [...DENO_RUN, `${here}fetch_hello.ts`, "{port}"],
    port: 8306,
    env,
  }, {
    name: "simple_server (compare)",
    command: [...DENO_RUN, `${here}wsgi_hello.ts`, "{port}"],
    port: 8307,
    env,
  });
}
const targets = TARGETS.filter((t) =>
  only === undefined || only.some((o) => t.name.includes(o))
);

// ---------------------------------------------------------------- helpers

/** True if `command` is on the PATH. */

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  return { code: out.code, out: text };
}

async function waitForPort(port: number, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** The CPU seconds (user + system) that process `pid` has used. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces): utime is the
  // 14th field of the line, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

interface WrkResult {
  rps: number;
  requests: number;
  errors: string;
}

async function wrk(port: number, args: string[], secs: number) {
  const { code, out } = await run([
    ...LOAD_CPU,
    "wrk",
    ...args,
    `-d${secs}s`,
    `http://127.0.0.1:${port}/`,
  ]);
  if (code !== 0) throw new Error(`wrk failed:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const errs: string[] = [];
  const sock = /Socket errors: (.*)/.exec(out);
  if (sock) errs.push(sock[1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errs.push(`non-2xx ${non2xx[1]}`);
  return { rps, requests, errors: errs.join("; ") } satisfies WrkResult;
}

/** Downloads /file with curl; returns GB/s (10^9 bytes per second). */
async function download(port: number, size: number): Promise<number> {
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const { code, out } = await run([
      ...LOAD_CPU,
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{time_total}",
      `http://127.0.0.1:${port}/file`,
    ]);
    const [got, secs] = out.trim().split(" ").map(Number);
    if (code !== 0 || got !== size) {
      throw new Error(`download: curl exit ${code}, ${got} of ${size} bytes`);
    }
    best = Math.max(best, size / secs / 1e9);
  }
  return best;
}

/** Runs `command` with its open-file limit raised to `limit`. */
function withFileLimit(command: string[], limit: number): string[] {
  return ["sh", "-c", `ulimit -n ${limit} && exec "$@"`, "sh", ...command];
}

/** Sends one request on a new connection; resolves to the milliseconds it took. */
async function timeNewClient(port: number): Promise<number> {
  const start = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    );
    const buf = new Uint8Array(1024);
    let text = "";
    while (!text.includes("Hello world!")) {
      const k = await conn.read(buf);
      if (k === null) throw new Error("the server closed the new connection");
      text += new TextDecoder().decode(buf.subarray(0, k));
    }
  } finally {
    conn.close();
  }
  return performance.now() - start;
}

interface IdleResult {
  /** RSS of the fresh server, and with the idle connections (KiB). */
  fresh: number;
  idle: number;
  /** A new client's request while they are open (ms). */
  newClient: number;
  /** How many of the sampled idle connections still answered. */
  alive: string;
}

/**
 * Starts `target` afresh on `port`, opens `n` idle keep-alive connections
 * to it (bench/_idle_conns.ts), and measures.
 */
async function idleRow(
  target: Target,
  port: number,
  n: number,
  limit: number,
): Promise<IdleResult> {
  const command = withFileLimit([...SERVER_CPU, ...target.command], limit);
  const server = new Deno.Command(command[0], {
    args: command.slice(1).map((a) => a.replace("{port}", String(port))),
    cwd: root,
    env: target.env,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitForPort(port);
    await new Promise((r) => setTimeout(r, 500));
    const fresh = rssKiB(server.pid);
    const clientCommand = withFileLimit([
      ...LOAD_CPU,
      DENO,
      "run",
      "--allow-net",
      `${here}_idle_conns.ts`,
      String(port),
      String(n),
    ], limit);
    const client = new Deno.Command(clientCommand[0], {
      args: clientCommand.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = client.stdout.pipeThrough(new TextDecoderStream())
      .values();
    let said = "";
    const line = async () => {
      while (!said.includes("\n")) {
        const { done, value } = await lines.next();
        if (done) throw new Error("the idle client ended early");
        said += value;
      }
      const i = said.indexOf("\n");
      const first = said.slice(0, i);
      said = said.slice(i + 1);
      return first;
    };
    try {
      const opened = await line();
      if (opened !== `open ${n}`) throw new Error(`idle client: ${opened}`);
      await new Promise((r) => setTimeout(r, 2000));
      const idle = rssKiB(server.pid);
      const newClient = await timeNewClient(port);
      await client.stdin.close();
      const alive = (await line()).replace(/^alive /, "");
      return { fresh, idle, newClient, alive };
    } finally {
      try {
        client.kill("SIGTERM");
      } catch { /* already gone */ }
      await client.status;
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

const fmt = (x: number, digits = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    })
    : "n/a";

// ---------------------------------------------------------------- main

if (!onPath("wrk")) {
  console.error("wrk is not installed (apt-get install wrk)");
  Deno.exit(1);
}
if (!skip.has("file") && !onPath("curl")) {
  console.error("curl is not installed: skipping the download");
  skip.add("file");
}
/** Pinned: the servers on core 1, the load (wrk, curl, idle clients) on core 0. */
const pin = !Deno.args.includes("--no-pin") && onPath("taskset");
if (!pin && !Deno.args.includes("--no-pin")) {
  console.error(
    "taskset is not installed (util-linux): the servers and the load are " +
      "not pinned, and share every core",
  );
}
const SERVER_CPU = pin ? ["taskset", "-c", "1"] : [];
const LOAD_CPU = pin ? ["taskset", "-c", "0"] : [];
/** The open-file limit of the idle row: the hard limit, or enough. */
const hardLimit = (await run(["sh", "-c", "ulimit -Hn"])).out.trim();
const fileLimit = hardLimit === "unlimited"
  ? idleConns + 1024
  : Math.min(Number(hardLimit), idleConns + 1024);
if (!skip.has("idle") && fileLimit < idleConns + 64) {
  console.error(
    `the open-file hard limit (${hardLimit}) is too low for ${idleConns} ` +
      `idle connections: skipping them (--idle N for fewer)`,
  );
  skip.add("idle");
}

const FILE_SIZE = fileMiB * (1 << 20);
const bigFile = await Deno.makeTempFile({ prefix: "wsgiref-bench-" });
if (!skip.has("file")) {
  const block = new Uint8Array(1 << 20);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < block.length; i *= 2) block.copyWithin(i, 0, i);
  using f = await Deno.open(bigFile, { write: true });
  for (let i = 0; i < FILE_SIZE / block.length; i++) {
    let off = 0;
    while (off < block.length) off += await f.write(block.subarray(off));
  }
}

const procs: { target: Target; child: Deno.ChildProcess }[] = [];
for (const target of targets) {
  const command = [...SERVER_CPU, ...target.command];
  const child = new Deno.Command(command[0], {
    args: command.slice(1).map((a) => a.replace("{port}", String(target.port))),
    cwd: root,
    env: { BENCH_FILE: bigFile, ...target.env },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  procs.push({ target, child });
}

interface Row {
  /** Per scenario, the req/s of each round. */
  rps: number[][];
  /** Per scenario, the server's CPU µs per request in each round. */
  cpu: number[][];
  errors: string[];
  gbps?: number;
  /** RSS after the wrk runs (KiB). */
  rssAfter?: number;
  idle?: IdleResult;
}
const rows = new Map<string, Row>();

try {
  for (const { target } of procs) await waitForPort(target.port);
  console.error(
    `targets up: ${targets.map((t) => `${t.name} :${t.port}`).join(", ")}`,
  );

  for (const { target } of procs) {
    rows.set(target.name, {
      rps: SCENARIOS.map(() => []),
      cpu: SCENARIOS.map(() => []),
      errors: SCENARIOS.map(() => ""),
    });
  }
  for (const [i, sc] of SCENARIOS.entries()) {
    for (const { target } of procs) await wrk(target.port, sc.wrk, 2); // warm-up
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const { target, child } of procs) {
        await new Promise((r) => setTimeout(r, 500)); // let sockets settle
        const cpu = cpuSeconds(child.pid);
        const r = await wrk(target.port, sc.wrk, duration);
        const us = (cpuSeconds(child.pid) - cpu) / r.requests * 1e6;
        const row = rows.get(target.name)!;
        row.rps[i].push(r.rps);
        row.cpu[i].push(us);
        if (r.errors) row.errors[i] = r.errors;
        line.push(`${target.name} ${fmt(r.rps)} (${fmt(us, 1)} µs)`);
      }
      console.error(
        `${sc.name}, round ${round}: ${
          line.join(", ")
        } req/s (CPU per request)`,
      );
    }
  }
  for (const { target, child } of procs) {
    const row = rows.get(target.name)!;
    if (!skip.has("file") && target.file !== false) {
      row.gbps = await download(target.port, FILE_SIZE);
      console.error(
        `${target.name} | ${fileMiB} MiB download: ${fmt(row.gbps, 2)} GB/s`,
      );
    }
    row.rssAfter = rssKiB(child.pid);
  }
  // The idle connections, each target afresh (after the others are
  // stopped, so that they do not share the memory or the core).
  for (const { child } of procs) {
    child.kill("SIGTERM");
    await child.status;
  }
  for (const { target } of procs) {
    if (skip.has("idle") || target.keepAlive === false) continue;
    const row = rows.get(target.name)!;
    row.idle = await idleRow(target, target.port + 100, idleConns, fileLimit);
    const { fresh, idle, newClient, alive } = row.idle;
    console.error(
      `${target.name} | RSS ${fmt(fresh / 1024, 1)} MiB fresh, ` +
        `${fmt(idle / 1024, 1)} MiB with ${fmt(idleConns)} idle keep-alive ` +
        `conns (${fmt((idle - fresh) / idleConns, 2)} KiB each); a new ` +
        `client served in ${fmt(newClient, 1)} ms; ${alive} idle ones ` +
        `still answered`,
    );
  }
} finally {
  for (const { child } of procs) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
  await Deno.remove(bigFile);
}

// ---------------------------------------------------------------- table

/** The median over rounds of `row`'s req/s over `base`'s in the same round. */
function ratio(row: Row, base: string, i: number): number {
  const of = rows.get(base)?.rps[i];
  if (of === undefined) return NaN;
  return median(row.rps[i].map((x, round) => x / of[round]));
}
/** The median over rounds of `row`'s CPU per request over `base`'s in the same round. */
function cpuRatio(row: Row, base: string, i: number): number {
  const of = rows.get(base)?.cpu[i];
  if (of === undefined) return NaN;
  return median(row.cpu[i].map((x, round) => x / of[round]));
}
const head = ["server"];
for (const sc of SCENARIOS) {
  head.push(
    `${sc.name} (req/s)`,
    "vs Deno.serve",
    "vs wsgiref",
    "CPU µs/req",
  );
}
head.push(
  `${fileMiB} MiB FileWrapper (GB/s)`,
  "RSS after the runs (MiB)",
  `RSS fresh / + ${fmt(idleConns)} idle keep-alive conns (MiB)`,
  "new client (ms)",
);
const lines = [
  `| ${head.join(" | ")} |`,
  `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
];
for (const [name, row] of rows) {
  const cells = [name];
  SCENARIOS.forEach((_, i) => {
    cells.push(
      fmt(median(row.rps[i])),
      `${fmt(ratio(row, "Deno.serve", i), 2)}×`,
      `${fmt(ratio(row, "Python wsgiref", i), 1)}×`,
      fmt(median(row.cpu[i]), 1),
    );
  });
  cells.push(row.gbps === undefined ? "—" : fmt(row.gbps, 2));
  cells.push(row.rssAfter === undefined ? "—" : fmt(row.rssAfter / 1024, 1));
  const idle = row.idle;
  cells.push(
    idle === undefined
      ? "—"
      : `${fmt(idle.fresh / 1024, 1)} / ${fmt(idle.idle / 1024, 1)}`,
    idle === undefined ? "—" : fmt(idle.newClient, 1),
  );
  lines.push(`| ${cells.join(" | ")} |`);
}
// The ratios against the other Deno.serve rows, for the rows of this
// library.
const others = [...rows.keys()].filter((n) =>
  n.startsWith("Deno.serve") && n !== "Deno.serve"
);
for (const other of others) {
  const parts = [...rows].filter(([name]) => name.includes("(this)")).map((
    [name, row],
  ) =>
    `${name} ${
      SCENARIOS.map((_, i) => `${fmt(ratio(row, other, i), 2)}×`).join(" / ")
    }`
  );
  lines.push(
    "",
    `Against "${other}" (${SCENARIOS.map((s) => s.name).join(" / ")}): ` +
      `${parts.join(", ")}.`,
  );
}
for (const name of ["toFetchHandler", "simple_server"]) {
  const row = rows.get(`${name} (this)`);
  if (row === undefined || !rows.has(`${name} (compare)`)) continue;
  const other = `${name} (compare)`;
  lines.push(
    "",
    `"${name} (this)" against "${other}" (${compare}; ` +
      `${SCENARIOS.map((s) => s.name).join(" / ")}): req/s ` +
      SCENARIOS.map((_, i) => `${fmt(ratio(row, other, i), 2)}×`).join(" / ") +
      ", CPU per request " +
      SCENARIOS.map((_, i) => `${fmt(cpuRatio(row, other, i), 2)}×`)
        .join(" / ") +
      " (medians of per-round ratios; per-round req/s ratios " +
      SCENARIOS.map((_, i) => spread(row, other, i)).join(" / ") + ").",
  );
}
/** The lowest, median and highest per-round req/s ratio of `row` over `base`. */
function spread(row: Row, base: string, i: number): string {
  const of = rows.get(base)!.rps[i];
  const r = row.rps[i].map((x, round) => x / of[round]).sort((a, b) => a - b);
  return `${fmt(r[0], 2)}–${fmt(r[r.length - 1], 2)}`;
}
const errors = [...rows].flatMap(([name, row]) =>
  row.errors.map((e, i) => e ? `- ${name}, ${SCENARIOS[i].name}: ${e}` : "")
    .filter(Boolean)
);
const cpu = /model name\s*:\s*(.*)/.exec(
  Deno.readTextFileSync("/proc/cpuinfo"),
)?.[1];
const report = [
  `wrk -t2, ${rounds} interleaved rounds of ${duration} s per target ` +
  `(medians; ratios are medians of per-round ratios), after a 2 s ` +
  `warm-up, hello world ` +
  `(12-byte body), 127.0.0.1; Deno ${Deno.version.deno}, ` +
  (pin
    ? "servers pinned to core 1 and wrk/curl to core 0 (taskset), "
    : "not pinned, ") +
  `${navigator.hardwareConcurrency} cores (${cpu ?? "unknown CPU"}).`,
  "",
  ...lines,
  ...(errors.length ? ["", "wrk errors:", ...errors] : []),
  "",
].join("\n");

console.log(report);
await Deno.mkdir(`${here}results`, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
await Deno.writeTextFile(`${here}results/${stamp}.md`, report);
await Deno.writeTextFile(`${here}results/latest.md`, report);
console.error(`written to bench/results/${stamp}.md`);
