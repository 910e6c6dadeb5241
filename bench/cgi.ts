// CGI cost per request, measured with hyperfine: each command is started
// the way a web server starts a CGI program (a clean environment holding
// the CGI variables, PATH and DENO_DIR; the request body on stdin; the
// program executed through its own #! line for examples/cgi.ts).
//
//   deno run --allow-all bench/cgi.ts            # needs hyperfine (apt-get install -y hyperfine)
//   deno run --allow-all bench/cgi.ts --runs 50
//
// Rows:
//   bare deno run       bench/_cgi_fixed.ts prints a fixed response (no library)
//   CGIHandler hello    bench/_cgi_hello.ts: the same response through CGIHandler
//   examples/cgi.ts GET the form example, a GET with a query string
//   examples/cgi.ts POST the form example, a urlencoded POST body
//   ... bundled          the form example made one file by `deno bundle`
//
// Prints a Markdown table of medians (wall and CPU time) and the
// difference to the bare run, then the gateway's own share timed inside the
// process (bench/_cgi_inproc.ts), and writes it all to bench/results/cgi.md.

import { median } from "./_stats.ts";
import { onPath } from "./_tools.ts";

const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const args = Deno.args;
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 30;

if (!onPath("hyperfine")) {
  console.error("bench/cgi.ts needs hyperfine: apt-get install -y hyperfine");
  Deno.exit(1);
}

const denoDir = await Deno.makeTempDir({ prefix: "wsgiref-cgi-bench-" });
const bodyFile = `${denoDir}/post-body`;
await Deno.writeTextFile(bodyFile, "name=Ada+Lovelace&x=1");
const denoBin = deno.slice(0, deno.lastIndexOf("/"));

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A command line as a web server runs a CGI program: `env -i` + CGI vars. */
function cgi(vars: Record<string, string>, program: string[]): string {
  const env = {
    PATH: `${denoBin}:/usr/bin:/bin`,
    DENO_DIR: denoDir,
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: "80",
    REMOTE_ADDR: "127.0.0.1",
    SCRIPT_NAME: "/cgi-bin/form",
    ...vars,
  };
  const assigns = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
  return ["env", "-i", ...assigns, ...program.map(quote)].join(" ");
}

const flags = "--no-config --no-lock --allow-env";

function withInput(command: string, input?: string): string {
  return input ? `${command} < ${quote(input)}` : command;
}

// The form example bundled into one file (`deno bundle`): one module to
// load instead of eight, the fastest way to start a CGI program short of
// `deno compile`.
const bundle = `${denoDir}/form.js`;
const bundled = await new Deno.Command(deno, {
  args: [
    "bundle",
    "--no-config",
    "--quiet",
    "-o",
    bundle,
    `${root}examples/cgi.ts`,
  ],
  stdout: "null",
  stderr: "piped",
}).output();
if (!bundled.success) {
  console.error(
    `deno bundle failed, no bundled row:\n${
      new TextDecoder().decode(bundled.stderr)
    }`,
  );
}

const rows: [string, string, string?][] = [
  [
    "bare deno run (fixed response)",
    cgi({ REQUEST_METHOD: "GET" }, [
      deno,
      "run",
      "--no-config",
      "--no-lock",
      `${root}bench/_cgi_fixed.ts`,
    ]),
  ],
  [
    "CGIHandler hello",
    cgi({ REQUEST_METHOD: "GET" }, [
      deno,
      "run",
      ...flags.split(" "),
      `${root}bench/_cgi_hello.ts`,
    ]),
  ],
  [
    "examples/cgi.ts GET",
    cgi({ REQUEST_METHOD: "GET", QUERY_STRING: "name=Ada" }, [
      `${root}examples/cgi.ts`,
    ]),
  ],
  [
    "examples/cgi.ts POST",
    cgi({
      REQUEST_METHOD: "POST",
      CONTENT_TYPE: "application/x-www-form-urlencoded",
      CONTENT_LENGTH: "21",
    }, [`${root}examples/cgi.ts`]),
    bodyFile,
  ],
];
if (bundled.success) {
  rows.push([
    "examples/cgi.ts GET, bundled",
    cgi({ REQUEST_METHOD: "GET", QUERY_STRING: "name=Ada" }, [
      deno,
      "run",
      ...flags.split(" "),
      bundle,
    ]),
  ]);
}

// The programs are timed in rounds, each round giving every program
// runs/ROUNDS runs, so that a busy spell of the machine falls on all of
// them alike; the medians are over every run of every round.
const ROUNDS = 5;
const perRound = Math.max(2, Math.ceil(runs / ROUNDS));
const samples = rows.map(() => ({
  times: [] as number[],
  cpu: [] as number[],
}));
try {
  for (const [name, command, input] of rows) {
    // Each program must answer before it is timed (this also warms DENO_DIR).
    const check = await new Deno.Command("/bin/sh", {
      args: ["-c", withInput(command, input)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const answer = new TextDecoder().decode(check.stdout);
    if (!answer.startsWith("Status: 200 OK\r\n")) {
      throw new Error(
        `${name} did not answer 200:\n${answer}${
          new TextDecoder().decode(check.stderr)
        }`,
      );
    }
    if (name.endsWith("POST") && !answer.includes("Hello, Ada Lovelace!")) {
      throw new Error(`${name} did not read its body:\n${answer}`);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [name, command, input]] of rows.entries()) {
      const json = `${denoDir}/result.json`;
      // hyperfine runs each command through /bin/sh and subtracts the
      // shell's own start-up time; the POST body comes in by redirection.
      const out = await new Deno.Command("hyperfine", {
        args: [
          "--warmup",
          "2",
          "--runs",
          String(perRound),
          "--export-json",
          json,
          "--style",
          "none",
          withInput(command, input),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(
          `hyperfine failed for ${name}:\n${
            new TextDecoder().decode(out.stderr)
          }`,
        );
      }
      const r = JSON.parse(await Deno.readTextFile(json)).results[0];
      samples[i].times.push(...r.times);
      samples[i].cpu.push(r.user + r.system);
    }
  }
} catch (e) {
  await Deno.remove(denoDir, { recursive: true });
  throw e;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const results = rows.map(([name], i) => {
  const t = samples[i].times;
  const m = mean(t);
  return {
    name,
    median: median(t),
    mean: m,
    stddev: Math.sqrt(mean(t.map((x) => (x - m) ** 2))),
    /** CPU time (user + system) per run: steadier than wall time on a busy machine. */
    cpu: median(samples[i].cpu),
  };
});

// In-process: the gateway's own share, timed inside the CGI process.
const inproc: {
  wall: number;
  cpu: number;
  import: number;
  construct: number;
  run: number;
}[] = [];
const inprocCommand = cgi({ REQUEST_METHOD: "GET" }, [
  deno,
  "run",
  ...flags.split(" "),
  `${root}bench/_cgi_inproc.ts`,
]);
for (let i = 0; i < runs + 3; i++) {
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", inprocCommand],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (i >= 3) inproc.push(JSON.parse(new TextDecoder().decode(out.stderr)));
}
const inprocLine = (() => {
  const m = (k: keyof typeof inproc[number]) =>
    median(inproc.map((x) => x[k])).toFixed(2);
  return `\nInside the process (bench/_cgi_inproc.ts, medians of ${runs} runs): ` +
    `import handlers.ts ${m("import")} ms, new CGIHandler() ${
      m("construct")
    } ms, run() ${m("run")} ms: the gateway's own share is ${
      m("wall")
    } ms wall, ${m("cpu")} ms CPU per request.\n`;
})();
await Deno.remove(denoDir, { recursive: true });

const ms = (s: number) => (s * 1000).toFixed(1);
const base = results[0];
const delta = (x: number, y: number) => `${x >= y ? "+" : ""}${ms(x - y)} ms`;
let table =
  `| CGI program (${
    perRound * ROUNDS
  } runs each in ${ROUNDS} rounds, hyperfine) | median wall | mean ± σ | vs bare | CPU (user+sys) | vs bare |\n` +
  `|---|---:|---:|---:|---:|---:|\n`;
for (const r of results) {
  const first = r === base;
  table += `| ${r.name} | ${ms(r.median)} ms | ${ms(r.mean)} ± ${
    ms(r.stddev)
  } ms | ${first ? "—" : delta(r.median, base.median)} | ${ms(r.cpu)} ms | ${
    first ? "—" : delta(r.cpu, base.cpu)
  } |\n`;
}
const load = (() => {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
})();
const cpu = (() => {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return info.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
})();
const note =
  `\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores (${cpu}), ${
    new Date().toISOString().slice(0, 10)
  }, load average ${load} at the end.\n`;
console.log(table + inprocLine + note);
await Deno.mkdir(`${root}bench/results`, { recursive: true });
await Deno.writeTextFile(
  `${root}bench/results/cgi.md`,
  table + inprocLine + note,
);
