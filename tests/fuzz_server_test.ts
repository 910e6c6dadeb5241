// A bounded fuzz test of simple_server over real TCP: mutated requests
// (bytes flipped or replaced, truncated, header lines duplicated, bytes
// inserted or dropped, writes split anywhere) from a fixed seed, so that a
// failure replays. For each connection the server must send well-formed
// responses or nothing, then close; it must never crash or leave a promise
// rejected, and it must answer a good request afterwards.
//
// Bounds: FUZZ_CASES mutated requests (at most 2,000) and FUZZ_BUDGET_MS
// of wall time (at most 60 s); every read has a timeout.
import { assert, assertEquals, assertFalse } from "@std/assert";
import { makeServer, WSGIRequestHandler } from "../simple_server.ts";
import { StringIO } from "../util.ts";
import type {
  ErrorStream,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";
import {
  concat,
  latin1,
  mulberry32,
  native,
  parseAll,
  RawClient,
  sleep,
} from "./_tcp.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed);
const CASES = Math.min(2000, Number(Deno.env.get("FUZZ_CASES") ?? 1500));
const BUDGET_MS = Math.min(
  60_000,
  Number(Deno.env.get("FUZZ_BUDGET_MS") ?? 40_000),
);
const CONCURRENCY = 8;

/** Echoes the method, path and body: a response whose size the request sets. */
const echo: WSGIApplication = (
  environ: WSGIEnvironment,
  startResponse: StartResponse,
) => {
  const body = environ["wsgi.input"]!.read();
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [
    concat(latin1(`${environ.REQUEST_METHOD} ${environ.PATH_INFO} `), body),
  ];
};

const CHUNKED_POST = "POST /upload?x=1 HTTP/1.1\r\n" +
  "Host: example.com\r\n" +
  "Transfer-Encoding: chunked\r\n" +
  "Content-Type: text/plain\r\n" +
  "\r\n" +
  "5;ext=val\r\nhello\r\n" +
  "7\r\n, world\r\n" +
  "0\r\n" +
  "X-Trailer: done\r\n" +
  "\r\n";

/** Valid requests the mutations start from. */
const SEEDS: string[] = [
  "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz/1.0\r\n" +
  "Accept: */*\r\nCookie: a=b; c=d\r\n\r\n",
  "POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n" +
  "Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b=2&c=3",
  CHUNKED_POST,
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\nX-Many: 1, 2, 3\r\n\r\n",
  "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\n" +
  "Content-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

/** Bytes that parsers trip on, chosen more often than others. */
const INTERESTING = [
  0x00,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x2c,
  0x3a,
  0x3b,
  0x30,
  0x39,
  0x61,
  0x66,
  0x46,
  0x7f,
  0x80,
  0xff,
  0x2b,
  0x2d,
  0x22,
  0x2f,
];
/** Strings inserted whole. */
const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  ":",
  "\r\n\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 5\r\n",
  "Content-Length: 99999999\r\n",
  "Transfer-Encoding: gzip, chunked\r\n",
  "Expect: 100-continue\r\n",
  "Connection: close\r\n",
  "Host: other\r\n",
  "0\r\n\r\n",
  "ffffffffffffffffffff\r\n",
  "HTTP/1.1",
  "GET / HTTP/1.1\r\n",
];

type Rand = () => number;

function int(r: Rand, n: number): number {
  return Math.floor(r() * n);
}

/** One to three random mutations of `req`. */
function mutate(
  r: Rand,
  req: Uint8Array,
): { bytes: Uint8Array; ops: string[] } {
  let b = req.slice();
  const ops: string[] = [];
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const at = int(r, b.length + 1);
    switch (int(r, 8)) {
      case 0: { // flip one bit
        if (b.length === 0) break;
        const i = Math.min(at, b.length - 1);
        const bit = int(r, 8);
        b[i] ^= 1 << bit;
        ops.push(`flip ${i}:${bit}`);
        break;
      }
      case 1: { // replace a byte
        if (b.length === 0) break;
        const i = Math.min(at, b.length - 1);
        b[i] = r() < 0.7
          ? INTERESTING[int(r, INTERESTING.length)]
          : int(r, 256);
        ops.push(`set ${i}=${b[i]}`);
        break;
      }
      case 2: // truncate
        b = b.slice(0, at);
        ops.push(`truncate ${at}`);
        break;
      case 3: { // duplicate a header line
        const text = native(b);
        const headEnd = text.indexOf("\r\n\r\n");
        const lines: [number, number][] = [];
        for (
          let s = text.indexOf("\r\n") + 2;
          s > 1 && s < headEnd;
          s = text.indexOf("\r\n", s) + 2
        ) {
          lines.push([s, text.indexOf("\r\n", s) + 2]);
        }
        if (lines.length === 0) break;
        const [s, e] = lines[int(r, lines.length)];
        b = concat(concat(b.slice(0, e), b.slice(s, e)), b.slice(e));
        ops.push(`dup-line ${s}`);
        break;
      }
      case 4: { // drop a few bytes
        const n = 1 + int(r, 4);
        b = concat(b.slice(0, at), b.slice(at + n));
        ops.push(`drop ${at}+${n}`);
        break;
      }
      case 5: { // insert a token
        const tok = TOKENS[int(r, TOKENS.length)];
        b = concat(concat(b.slice(0, at), latin1(tok)), b.slice(at));
        ops.push(`insert ${at} ${JSON.stringify(tok)}`);
        break;
      }
      case 6: { // insert random bytes
        const extra = Uint8Array.from(
          { length: 1 + int(r, 4) },
          () => INTERESTING[int(r, INTERESTING.length)],
        );
        b = concat(concat(b.slice(0, at), extra), b.slice(at));
        ops.push(`insert ${at} [${extra}]`);
        break;
      }
      default: { // duplicate a slice (repeated framing, pipelining)
        const e = Math.min(b.length, at + 1 + int(r, 40));
        b = concat(concat(b.slice(0, e), b.slice(at, e)), b.slice(e));
        ops.push(`dup ${at}..${e}`);
      }
    }
  }
  return { bytes: b, ops };
}

/** A server for the fuzz run, its log kept in memory. */
function startServer() {
  const log = new StringIO();
  const server = makeServer("127.0.0.1", 0, echo, {
    handlerClass: class extends WSGIRequestHandler {
      override getStderr(): ErrorStream {
        return log;
      }
    },
    headerTimeout: 2000,
    keepAliveTimeout: 2000,
    maxRequestBody: 64 * 1024,
  });
  return { server, log, serving: server.serveForever() };
}

/** Unhandled rejections and uncaught errors seen while `fn` runs. */
async function noUncaught(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    seen.push(e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    seen.push(e.error);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  try {
    await fn();
    await sleep(10); // let a late rejection surface
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
  assertEquals(seen, [], "the server let an error escape");
}

async function expectServes(port: number): Promise<void> {
  using c = await RawClient.open(port);
  await c.send("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const r = await c.response();
  assertEquals(r.status, 200);
  assertEquals(native(r.body), "GET /ok ");
  await c.expectClosed();
}

Deno.test("fuzz: mutated requests get well-formed responses or a close", async () => {
  const { server, log, serving } = startServer();
  const statuses = new Map<string, number>();
  let done = 0;
  try {
    await noUncaught(async () => {
      const r = mulberry32(SEED);
      // Draw every case up front, so that the cases do not depend on timing.
      const cases = Array.from({ length: CASES }, (_, i) => {
        const base = latin1(SEEDS[i % SEEDS.length]);
        const m = mutate(r, base);
        const splits = Array.from(
          { length: int(r, 3) },
          () => int(r, m.bytes.length + 1),
        )
          .sort((a, b) => a - b);
        return { ...m, splits, index: i };
      });
      const until = Date.now() + BUDGET_MS;
      let next = 0;
      const worker = async () => {
        while (next < cases.length && Date.now() < until) {
          const c = cases[next++];
          const what = `case ${c.index} (seed ${SEED}): ${c.ops.join(", ")}\n` +
            JSON.stringify(native(c.bytes.subarray(0, 300)));
          using client = await RawClient.open(server.port);
          let from = 0;
          for (const at of [...c.splits, c.bytes.length]) {
            if (
              at > from && !(await client.trySend(c.bytes.subarray(from, at)))
            ) break;
            from = Math.max(from, at);
            if (at < c.bytes.length) await sleep(1);
          }
          await client.closeWrite(); // the server reads the end of the stream
          let got: Uint8Array;
          try {
            got = await client.readToEnd(6000);
          } catch (e) {
            throw new Error(`${(e as Error).message}\n${what}`);
          }
          let responses;
          try {
            responses = parseAll(got);
          } catch (e) {
            throw new Error(`${(e as Error).message}\n${what}`);
          }
          for (const res of responses) {
            const k = String(res.status);
            statuses.set(k, (statuses.get(k) ?? 0) + 1);
          }
          if (responses.length === 0) {
            statuses.set("close", (statuses.get("close") ?? 0) + 1);
          }
          done++;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await expectServes(server.port);
    });
  } finally {
    await server.shutdown();
    await serving;
    server.close();
  }
  const summary = JSON.stringify(Object.fromEntries(statuses));
  if (Deno.env.get("FUZZ_VERBOSE")) console.log(`${done} cases: ${summary}`);
  assert(done >= Math.min(CASES, 200), `only ${done} cases ran: ${summary}`);
  // The mutations reach both sides: some requests survive, some are refused.
  assert((statuses.get("200") ?? 0) > 0, summary);
  assert((statuses.get("400") ?? 0) > 0, summary);
  assertFalse(
    log.getValue().includes("error on the connection"),
    log.getValue(),
  );
  assertFalse(log.getValue().includes("error while handling"), log.getValue());
});

Deno.test("fuzz: a chunked request split at every offset is read whole", async () => {
  const { server, log, serving } = startServer();
  const req = latin1(CHUNKED_POST);
  try {
    await noUncaught(async () => {
      // One keep-alive connection, one request per split offset: the
      // parser's state must survive any boundary, request after request.
      using c = await RawClient.open(server.port);
      for (let k = 1; k < req.length; k++) {
        await c.send(req.subarray(0, k));
        await sleep(1);
        await c.send(req.subarray(k));
        const r = await c.response();
        assertEquals(r.status, 200, `split at ${k}`);
        assertEquals(
          native(r.body),
          "POST /upload hello, world",
          `split at ${k}`,
        );
      }
      // Three pieces: every first cut, with the second one 7 bytes later.
      for (let k = 1; k + 7 < req.length; k += 3) {
        await c.send(req.subarray(0, k));
        await sleep(1);
        await c.send(req.subarray(k, k + 7));
        await sleep(1);
        await c.send(req.subarray(k + 7));
        const r = await c.response();
        assertEquals(
          native(r.body),
          "POST /upload hello, world",
          `splits at ${k}, ${k + 7}`,
        );
      }
      // Byte by byte.
      for (let k = 0; k < req.length; k++) await c.send(req.subarray(k, k + 1));
      assertEquals(
        native((await c.response()).body),
        "POST /upload hello, world",
      );
      await expectServes(server.port);
    });
  } finally {
    await server.shutdown();
    await serving;
    server.close();
  }
  assertFalse(
    log.getValue().includes("error on the connection"),
    log.getValue(),
  );
});
