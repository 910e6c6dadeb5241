// Soak benchmark: wrk with 256 keep-alive connections for 20 s against
// simple_server (bench/wsgi_hello.ts) in its own process. Reports requests,
// errors (wrk's socket errors plus non-2xx/3xx answers: must be 0) and the
// server's resident memory (VmRSS from /proc/<pid>/status) idle, after a
// warm-up, at its peak during the soak, right after it and once settled:
// it must stay flat. Prints a Markdown table, also written to
// bench/results/soak.md; exits 1 if a check fails.
//
//   deno run --allow-all bench/soak.ts
//   deno run --allow-all bench/soak.ts --duration 60 --connections 512
//
// Checks: 0 errors; the server still answers afterwards; RSS flat: sampled
// every 250 ms, its peak in the second half of the soak at most 10 % +
// 8 MiB above its peak in the first half (V8 grows its heap for the first
// several seconds under load, so a before/after difference alone would
// flag that; a leak keeps growing with the requests served).

const DENO = Deno.execPath();
import { onPath } from "./_tools.ts";

const here = new URL(".", import.meta.url).pathname;

interface Options {
  duration: number;
  connections: number;
  threads: number;
  warmup: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { duration: 20, connections: 256, threads: 2, warmup: 3 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = Number(inline ?? args[++i]);
    const key = flag.replace(/^--/, "") as keyof Options;
    if (!(key in o) || !Number.isInteger(value) || value <= 0) {
      throw new Error(
        `unknown option or bad value: ${args[i - (inline ? 0 : 1)]} ` +
          `(options: --duration S, --connections N, --threads N, --warmup S)`,
      );
    }
    o[key] = value;
  }
  return o;
}

/** A free port on 127.0.0.1 (the listener is closed again at once). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr;
  l.close();
  return port;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (e) {
      if (Date.now() > until) {
        throw new Error(
          `the server did not listen on ${port} within ${ms} ms: ${e}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** VmRSS of `pid` in KiB. */
function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+)/.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

interface WrkResult {
  requests: number;
  rps: number;
  socketErrors: number;
  socketDetail: string;
  non2xx: number;
  p99: string;
}

async function wrk(
  port: number,
  o: Options,
  secs: number,
): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [
      `-t${o.threads}`,
      `-c${o.connections}`,
      `-d${secs}s`,
      "--timeout",
      "5s",
      "--latency",
      `http://127.0.0.1:${port}/`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`wrk failed:\n${text}`);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const sock =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(text);
  const socketErrors = sock
    ? sock.slice(1).reduce((a, b) => a + Number(b), 0)
    : 0;
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    socketErrors,
    socketDetail: sock ? sock[0] : "none",
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    p99: /\s99%\s+(\S+)/.exec(text)?.[1] ?? "n/a",
  };
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const num = (n: number) => n.toLocaleString("en-US");

async function main(): Promise<number> {
  const o = parseArgs(Deno.args);
  if (!onPath("wrk")) {
    console.error("wrk is not installed: apt-get install wrk");
    return 2;
  }
  const port = freePort();
  const server = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      `${here}wsgi_hello.ts`,
      String(port),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(server.stderr).text();
  let failed = false;
  const lines: string[] = [];
  try {
    await waitForPort(port, 15_000);
    const rssIdle = rssKiB(server.pid);
    await wrk(port, o, o.warmup);
    await new Promise((r) => setTimeout(r, 500));
    const rssWarm = rssKiB(server.pid);

    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssKiB(server.pid)), 250);
    let soak: WrkResult;
    try {
      soak = await wrk(port, o, o.duration);
    } finally {
      clearInterval(sampler);
    }
    const rssAfter = rssKiB(server.pid);
    const rssPeak = Math.max(...samples);
    const half = Math.floor(samples.length / 2);
    const peak1 = Math.max(...samples.slice(0, half));
    const peak2 = Math.max(...samples.slice(half));
    await new Promise((r) => setTimeout(r, 2000));
    const rssSettled = rssKiB(server.pid);

    // Still serving?
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const body = await res.text();
    const alive = res.status === 200 && body === "Hello world!";

    const errors = soak.socketErrors + soak.non2xx;
    // A leak grows with the requests served: the second half of the soak
    // would peak higher than the first.
    const limit = peak1 * 1.1 + 8 * 1024;
    const flat = peak2 <= limit;
    failed = errors !== 0 || !alive || !flat;

    lines.push(
      `Soak: wrk -t${o.threads} -c${o.connections} -d${o.duration}s ` +
        `(after a ${o.warmup} s warm-up) against bench/wsgi_hello.ts ` +
        `(simple_server, logRequests off) in its own process; Deno ${Deno.version.deno}, ` +
        `${navigator.hardwareConcurrency} cores, ${new Date().toISOString()}.`,
      "",
      "| measure | value |",
      "|---|---|",
      `| requests | ${num(soak.requests)} (${
        num(Math.round(soak.rps))
      }/s, p99 ${soak.p99}) |`,
      `| socket errors | ${soak.socketErrors} (${soak.socketDetail}) |`,
      `| non-2xx/3xx responses | ${soak.non2xx} |`,
      `| errors (must be 0) | ${errors} ${errors === 0 ? "ok" : "FAIL"} |`,
      `| RSS idle, before load | ${mib(rssIdle)} MiB |`,
      `| RSS after ${o.warmup} s warm-up (baseline) | ${mib(rssWarm)} MiB |`,
      `| RSS peak during the soak | ${mib(rssPeak)} MiB |`,
      `| RSS peak, 1st half / 2nd half of the soak | ${mib(peak1)} / ${
        mib(peak2)
      } MiB (2nd half limit ${mib(limit)}) ${
        flat ? "ok: flat" : "FAIL: growing"
      } |`,
      `| RSS right after the soak | ${mib(rssAfter)} MiB (${
        rssAfter >= rssWarm ? "+" : ""
      }${mib(rssAfter - rssWarm)} vs after the warm-up) |`,
      `| RSS 2 s later | ${mib(rssSettled)} MiB |`,
      `| still answers GET / | ${alive ? "yes" : "NO"} |`,
    );
  } finally {
    try {
      server.kill("SIGTERM");
    } catch { /* exited */ }
    const status = await server.status;
    const err = (await stderr).trim();
    if (err) lines.push("", "server stderr:", "```", err.slice(0, 2000), "```");
    if (!status.success && status.signal !== "SIGTERM") {
      lines.push("", `server exited: code ${status.code}`);
    }
  }
  const report = lines.join("\n") + "\n";
  console.log(report);
  try {
    Deno.writeTextFileSync(`${here}results/soak.md`, report);
  } catch (e) {
    console.error(`could not write bench/results/soak.md: ${e}`);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
