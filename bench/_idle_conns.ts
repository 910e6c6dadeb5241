// The client side of bench/run.ts's idle-connections row, in its own process
// (so that its open-file limit can be raised for it alone):
//
//   prlimit --nofile=20000:20000 deno run --allow-net bench/_idle_conns.ts PORT N
//
// Opens N keep-alive connections to 127.0.0.1:PORT, 100 at a time, sends one
// request on each and reads its answer ("Hello world!"), then prints
// "open N" and leaves them idle. When stdin ends (or gets a line), it sends
// one more request on 100 of them, spread over all N, prints "alive K" (how
// many were still answered), closes them all and exits.

const port = Number(Deno.args[0]);
const n = Number(Deno.args[1] ?? 10_000);
const BATCH = 100;
const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
);

/** Sends the request on `conn` and reads until the whole answer came. */
async function ask(conn: Deno.Conn): Promise<void> {
  await conn.write(request);
  const buf = new Uint8Array(1024);
  let text = "";
  while (!text.includes("Hello world!")) {
    const k = await conn.read(buf);
    if (k === null) throw new Error("connection closed by the server");
    text += new TextDecoder().decode(buf.subarray(0, k));
  }
}

const conns: Deno.Conn[] = [];
for (let i = 0; i < n; i += BATCH) {
  await Promise.all(
    Array.from({ length: Math.min(BATCH, n - i) }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await ask(conn);
    }),
  );
}
console.log(`open ${conns.length}`);

// Wait for the bench to have measured.
for await (const _ of Deno.stdin.readable) break;

let alive = 0;
const step = Math.max(1, Math.floor(conns.length / 100));
for (let i = 0; i < conns.length; i += step) {
  try {
    await ask(conns[i]);
    alive++;
  } catch { /* dropped by the server */ }
}
console.log(`alive ${alive} of ${Math.ceil(conns.length / step)}`);
for (const conn of conns) conn.close();
