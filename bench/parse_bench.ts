// Micro-benchmarks of the request parser: `deno bench bench/parse_bench.ts`.
import { ChunkedDecoder } from "../_chunked.ts";
import { Event, ServerConnection } from "../_connection.ts";
import {
  DEFAULT_HEAD_LIMITS,
  HeadParser,
  parseRequestHead,
} from "../_head_parser.ts";

const enc = new TextEncoder();

// A typical browser-ish request: request line and 6 header fields.
const TYPICAL = enc.encode(
  "GET /api/items?page=2&sort=name HTTP/1.1\r\n" +
    "Host: localhost:8000\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\n" +
    "\r\n",
);

// What wrk sends by default.
const WRK = enc.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");

const POST = enc.encode(
  "POST /submit HTTP/1.1\r\nHost: localhost\r\n" +
    "Content-Type: application/x-www-form-urlencoded\r\n" +
    "Content-Length: 27\r\n\r\nname=value&other=something",
);

let sink = 0;

Deno.bench("parseRequestHead: typical request, 6 headers", {
  baseline: true,
}, () => {
  const h = parseRequestHead(TYPICAL, 0, TYPICAL.length, DEFAULT_HEAD_LIMITS);
  sink += h!.end;
});

Deno.bench("parseRequestHead: wrk's request, 1 header", () => {
  const h = parseRequestHead(WRK, 0, WRK.length, DEFAULT_HEAD_LIMITS);
  sink += h!.end;
});

Deno.bench("parseRequestHead: POST with Content-Length", () => {
  const h = parseRequestHead(POST, 0, POST.length, DEFAULT_HEAD_LIMITS);
  sink += h!.contentLength;
});

const parser = new HeadParser(DEFAULT_HEAD_LIMITS);
Deno.bench("HeadParser: typical request in 2 reads", () => {
  parser.parse(TYPICAL, 0, 100);
  const h = parser.parse(TYPICAL, 0, TYPICAL.length);
  sink += h!.end;
});

const CHUNKED = enc.encode(
  "400\r\n" + "x".repeat(1024) + "\r\n" + "400\r\n" + "y".repeat(1024) +
    "\r\n0\r\n\r\n",
);
Deno.bench("ChunkedDecoder: 2 KiB body in 2 chunks", () => {
  const dec = new ChunkedDecoder(1 << 20);
  for (let i = 0; !dec.done;) {
    i = dec.decode(CHUNKED, i, CHUNKED.length);
    sink += dec.dataEnd - dec.dataStart;
  }
});

const connection = new ServerConnection({
  ...DEFAULT_HEAD_LIMITS,
  maxRequestBody: 1 << 20,
});
Deno.bench("ServerConnection: wrk's request, one cycle", () => {
  if (connection.next() !== Event.NeedData) throw new Error("not idle");
  connection.readRegion().set(WRK);
  connection.received(WRK.length);
  if (connection.next() !== Event.Request) throw new Error("no request");
  if (connection.next() !== Event.EndOfMessage) throw new Error("no end");
  connection.respond(200, "12", false);
  sink += connection.responseDone(true) ? 1 : 0;
});

globalThis.addEventListener("unload", () => {
  if (sink === 42) console.log(sink);
});
