// Instructions per request, counted by callgrind: steadier than req/s on a
// shared machine (wall-clock figures here move 20-30 % between runs). Each
// target runs under valgrind twice, for N1 and N2 requests sent one after
// another on one keep-alive connection; the difference over N2 - N1 is the
// steady-state cost of one request, start-up and warm-up left out. Repeat
// runs still differ (V8's timer-driven GC and tier-up): by up to 4,000
// instructions for toFetchHandler and 12,000 for Deno.serve here, so run it
// more than once and compare only differences larger than that.
//
//   deno run -A bench/instructions.ts [target.ts ...]
//
// Default targets: bench/deno_serve_hello.ts and bench/fetch_hello.ts.
// Needs valgrind (apt-get install valgrind); takes about a minute a target.

const N1 = 4000;
const N2 = 12000;
const here = new URL(".", import.meta.url).pathname;
const targets = Deno.args.length
  ? Deno.args
  : [`${here}deno_serve_hello.ts`, `${here}fetch_hello.ts`];
const enc = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function connect(port: number): Promise<Deno.TcpConn> {
  for (let i = 0; i < 600; i++) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on ${port} after 60 s`);
}

/** Sends `n` GET requests one after another, each answer read in full. */
async function drive(port: number, n: number): Promise<void> {
  const conn = await connect(port);
  const request = enc.encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
  );
  const buf = new Uint8Array(65536);
  let have = "";
  for (let i = 0; i < n; i++) {
    await conn.write(request);
    for (;;) {
      const end = have.indexOf("\r\n\r\n");
      if (end !== -1) {
        const m = /content-length: *(\d+)/i.exec(have.slice(0, end));
        const total = end + 4 + (m ? +m[1] : 0);
        if (have.length >= total) {
          have = have.slice(total);
          break;
        }
      }
      const got = await conn.read(buf);
      if (got === null) throw new Error("the server closed the connection");
      have += String.fromCharCode(...buf.subarray(0, got));
    }
  }
  conn.close();
}

async function count(target: string, n: number): Promise<number> {
  const port = freePort();
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command("valgrind", {
    args: [
      "--tool=callgrind",
      "--smc-check=all-non-file",
      `--callgrind-out-file=${dir}/out`,
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--single-threaded",
      `${here}_exit_after.ts`,
      target,
      String(port),
      String(n),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await drive(port, n);
  await child.status;
  const out = await Deno.readTextFile(`${dir}/out`);
  await Deno.remove(dir, { recursive: true });
  const m = /^(?:summary|totals): (\d+)/m.exec(out);
  if (!m) throw new Error("callgrind wrote no totals");
  return +m[1];
}

console.log(`| target | instructions per request (${N1} → ${N2} requests) |`);
console.log("| --- | ---: |");
for (const target of targets) {
  const a = await count(target, N1);
  const b = await count(target, N2);
  const per = Math.round((b - a) / (N2 - N1));
  console.log(
    `| ${target.replace(here, "bench/")} | ${per.toLocaleString("en")} |`,
  );
}
