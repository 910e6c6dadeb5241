// Unit tests of the sans-I/O connection core (_connection.ts) and its
// framing rules (_framing.ts), as tables, without sockets: bytes in,
// events out, as h11's and llhttp's tests are written.
import { assert, assertEquals } from "@std/assert";
import {
  BUFFER_SIZE,
  BufferPool,
  type Buffers,
  HEAD_BUFFER_SIZE,
} from "../_buffer_pool.ts";
import {
  type ConnectionLimits,
  Event,
  ServerConnection,
} from "../_connection.ts";
import {
  connectionHeader,
  Framing,
  keepsAlive,
  requestKeepsAlive,
  responseFraming,
  responseLength,
} from "../_framing.ts";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadParser,
  HeadParsers,
} from "../_head_parser.ts";

const LIMITS: ConnectionLimits = {
  ...DEFAULT_HEAD_LIMITS,
  maxRequestBody: 64,
};

/** The end of the client's stream, in a list of pieces. */
const EOF = Symbol("EOF");
type Piece = string | typeof EOF;

/** How the driver answers each request. */
interface Answer {
  status?: number;
  contentLength?: string;
  closing?: boolean;
  complete?: boolean;
}

/** The bytes of a native string. */
function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Bytes as a native string. */
function text(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

/**
 * Feeds `pieces` to a new connection, one per NeedData, and returns the
 * events as text. Each request is answered as `answer` says (200 with a
 * Content-Length by default), after its EndOfMessage. Stops at Closed, at
 * Refuse, or when NeedData comes with no piece left ("NeedData").
 */
function drive(
  pieces: Piece[],
  answer: Answer = {},
  limits: ConnectionLimits = LIMITS,
): string[] {
  const conn = new ServerConnection(limits);
  const out: string[] = [];
  const queue = [...pieces];
  for (let steps = 0; steps < 1_000_000; steps++) {
    switch (conn.next()) {
      case Event.NeedData: {
        const piece = queue.shift();
        if (piece === undefined) {
          out.push("NeedData");
          return out;
        }
        if (piece === EOF) conn.receivedEof();
        else {
          const b = bytes(piece);
          // The region may be smaller than a piece: feed it in parts.
          let off = 0;
          const region = conn.readRegion();
          const n = Math.min(region.length, b.length);
          region.set(b.subarray(off, off + n));
          conn.received(n);
          off += n;
          if (off < b.length) queue.unshift(piece.slice(off));
        }
        break;
      }
      case Event.Request: {
        const h = conn.head!;
        out.push(`Request ${h.method} ${h.path}`);
        break;
      }
      case Event.Continue:
        out.push("Continue");
        break;
      case Event.Data:
        out.push(`Data ${text(conn.data)}`);
        break;
      case Event.EndOfMessage: {
        const t = conn.trailers.map(([k, v]) => ` ${k}=${v}`).join("");
        out.push(`End${t}`);
        conn.respond(
          answer.status ?? 200,
          answer.contentLength ?? "2",
          answer.closing ?? false,
        );
        if (!conn.responseDone(answer.complete ?? true)) {
          out.push("Closed");
          assertEquals(conn.next(), Event.Closed);
          return out;
        }
        break;
      }
      case Event.Refuse:
        out.push(
          `Refuse ${conn.status}${
            conn.linger ? " linger" : ""
          }: ${conn.message}`,
        );
        assertEquals(conn.next(), Event.Closed);
        return out;
      case Event.Closed:
        out.push("Closed");
        return out;
      case Event.Paused:
        throw new Error("Paused: the driver answers every request");
    }
  }
  throw new Error("no end");
}

/** Events with the refusal message left out (status and linger kept). */
function brief(events: string[]): string[] {
  return events.map((e) => e.replace(/:.*$/, ""));
}

/** Events with runs of Data merged into one "Data", and no Continue. */
function coarse(events: string[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e === "Continue") continue;
    const k = e.startsWith("Data ") ? "Data" : e;
    if (k !== "Data" || out[out.length - 1] !== "Data") out.push(k);
  }
  return out;
}

const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const POST = "POST /p HTTP/1.1\r\nHost: a\r\n";
const CHUNKED = POST + "Transfer-Encoding: chunked\r\n\r\n";

type Row = [name: string, pieces: Piece[], events: string[], answer?: Answer];

const ROWS: Row[] = [
  ["a GET", [GET], ["Request GET /", "End", "NeedData"]],
  ["a GET in pieces", ["GET / HT", "TP/1.1\r\nHo", "st: a\r\n\r", "\n"], [
    "Request GET /",
    "End",
    "NeedData",
  ]],
  ["pipelined requests in one piece", [GET + GET + "GET /3 HTTP/1.0\r\n\r\n"], [
    "Request GET /",
    "End",
    "Request GET /",
    "End",
    "Request GET /3",
    "End",
    "Closed", // HTTP/1.0 without keep-alive
  ]],
  ["a Content-Length body in pieces", [
    POST + "Content-Length: 5\r\n\r\nhe",
    "llo",
  ], ["Request POST /p", "Data he", "Data llo", "End", "NeedData"]],
  ["a body and the next request in one piece", [
    POST + "Content-Length: 2\r\n\r\nhi" + GET,
  ], ["Request POST /p", "Data hi", "End", "Request GET /", "End", "NeedData"]],
  ["Content-Length: 0", [POST + "Content-Length: 0\r\n\r\n"], [
    "Request POST /p",
    "End",
    "NeedData",
  ]],
  ["a chunked body with extensions and trailers", [
    CHUNKED + '3;a=b;c="d e"\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n',
  ], ["Request POST /p", "Data abc", "Data de", "End X-T=1", "NeedData"]],
  ["a chunked body byte by byte", [
    CHUNKED,
    ..."2\r\nab\r\n0\r\n\r\n".split(""),
  ], ["Request POST /p", "Data a", "Data b", "End", "NeedData"]],
  ["100-continue: due when the body is needed", [
    POST + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n",
    "hi",
  ], ["Request POST /p", "Continue", "Data hi", "End", "NeedData"]],
  ["100-continue: not when the body came already", [
    POST + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\nh",
    "i",
  ], ["Request POST /p", "Data h", "Data i", "End", "NeedData"]],
  ["100-continue: not without a body", [
    POST + "Content-Length: 0\r\nExpect: 100-continue\r\n\r\n",
  ], ["Request POST /p", "End", "NeedData"]],
  ["100-continue: chunked", [
    CHUNKED.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n"),
    "0\r\n\r\n",
  ], ["Request POST /p", "Continue", "End", "NeedData"]],
  ["100-continue: none on HTTP/1.0", [
    "POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
    "x",
  ], ["Request POST /", "Data x", "End", "Closed"]],
  ["Content-Length over maxRequestBody: 413 before the body, no 100", [
    POST + "Content-Length: 65\r\nExpect: 100-continue\r\n\r\n",
  ], ["Refuse 413 linger"]],
  ["Content-Length at maxRequestBody is read", [
    POST + "Content-Length: 64\r\n\r\n" + "x".repeat(64),
  ], ["Request POST /p", "Data " + "x".repeat(64), "End", "NeedData"]],
  ["a chunk past maxRequestBody: 413 at its size line", [
    CHUNKED + "40\r\n" + "x".repeat(64) + "\r\n1\r\n",
  ], ["Request POST /p", "Data " + "x".repeat(64), "Refuse 413 linger"]],
  ["CONNECT: 501", ["CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n"], [
    "Refuse 501 linger",
  ]],
  ["CONNECT with a body: 501 before it", [
    "CONNECT a.example:443 HTTP/1.0\r\nContent-Length: 10\r\n\r\n",
  ], ["Refuse 501 linger"]],
  ["nothing, then the end: closed", [EOF], ["Closed"]],
  ["empty lines, then the end: closed", ["\r\n\r\n", EOF], ["Closed"]],
  [
    "a request line cut off by the end: 400, no linger",
    ["GET / HTTP/1.0", EOF],
    [
      "Refuse 400",
    ],
  ],
  ["a head cut off by the end: 400, no linger", [
    "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b",
    EOF,
  ], ["Refuse 400"]],
  ["a head cut off after a line end: 400", ["GET /x HTTP/1.0\r\n", EOF], [
    "Refuse 400",
  ]],
  ["a body cut off by the end: closed, no answer", [
    POST + "Content-Length: 5\r\n\r\nab",
    EOF,
  ], ["Request POST /p", "Data ab", "Closed"]],
  ["a chunked body cut off by the end: closed", [CHUNKED + "5\r\nab", EOF], [
    "Request POST /p",
    "Data ab",
    "Closed",
  ]],
  ["a request, then the end: served, then closed", [GET, EOF], [
    "Request GET /",
    "End",
    "Closed",
  ]],
  ["bare LF throughout: read", ["GET / HTTP/1.0\nX: y\n\n"], [
    "Request GET /",
    "End",
    "Closed",
  ]],
  ["mixed line ends: 400", ["GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"], [
    "Refuse 400 linger",
  ]],
  ["the bare-LF desync of issue 12: one 400, no second request", [
    "GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\n" +
    "GET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n",
  ], ["Refuse 400 linger"]],
  ["a bad chunk extension: 400", [CHUNKED + "2;\r\nab\r\n0\r\n\r\n"], [
    "Request POST /p",
    "Refuse 400 linger",
  ]],
  ["absolute-form: the path", [
    "GET http://h.example/abs?q HTTP/1.1\r\nHost: a\r\n\r\n",
  ], ["Request GET /abs?q", "End", "NeedData"]],
  ["asterisk-form with GET: 400", ["GET * HTTP/1.1\r\nHost: a\r\n\r\n"], [
    "Refuse 400 linger",
  ]],
  ["Connection: close: closed after the response", [
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + GET,
  ], ["Request GET /", "End", "Closed"]],
  ["HTTP/1.0 keep-alive: goes on", [
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + GET,
  ], ["Request GET /", "End", "Request GET /", "End", "NeedData"]],
  ["a server closing: closed after the response", [GET + GET], [
    "Request GET /",
    "End",
    "Closed",
  ], { closing: true }],
  ["a response cut short: closed", [GET + GET], [
    "Request GET /",
    "End",
    "Closed",
  ], { complete: false }],
  [
    "a response without a length to HTTP/1.0: closed",
    [
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + GET,
    ],
    ["Request GET /", "End", "Closed"],
    { contentLength: "x" },
  ],
  ["a head larger than the read buffer", [
    "GET / HTTP/1.1\r\nHost: a\r\nX: " + "v".repeat(3 * BUFFER_SIZE) +
    "\r\n\r\n",
  ], ["Request GET /", "End", "NeedData"]],
];

Deno.test("connection core: events for each input", async (t) => {
  for (const [name, pieces, events, answer] of ROWS) {
    await t.step(name, () => {
      assertEquals(brief(drive(pieces, answer)), events);
      // The same bytes one at a time give the same events, but for the
      // Data slices (which follow the pieces) and Continue (due only when
      // no byte of the body has come yet).
      const whole = pieces.flatMap((p): Piece[] =>
        p === EOF ? [p] : p.split("")
      );
      assertEquals(
        coarse(brief(drive(whole, answer))),
        coarse(events),
      );
    });
  }
});

Deno.test("connection core: refusals carry their reason", () => {
  const [e] = drive(["GET / HTTP/1.1\r\nHost: a\r\nX: 1\n\n"]);
  assertEquals(
    e,
    "Refuse 400 linger: request head mixes CRLF and bare LF line ends",
  );
  const [c] = drive(["CONNECT h:1 HTTP/1.1\r\nHost: a\r\n\r\n"]);
  assert(c.startsWith("Refuse 501 linger: CONNECT is not supported"), c);
  const [l] = drive([POST + "Content-Length: 100\r\n\r\n"]);
  assertEquals(
    l,
    "Refuse 413 linger: request body of 100 bytes is over the limit of 64",
  );
  const [cut] = drive(["GET / HTTP/1.1\r\n", EOF]);
  assertEquals(
    cut,
    "Refuse 400: request head cut off by the end of the stream",
  );
});

Deno.test("connection core: the head of a refused request is kept when it was read", () => {
  const conn = new ServerConnection(LIMITS);
  conn.next();
  const b = bytes(POST + "Content-Length: 100\r\n\r\n");
  conn.readRegion().set(b);
  conn.received(b.length);
  assertEquals(conn.next(), Event.Refuse);
  assertEquals(conn.head?.method, "POST");
  const bad = new ServerConnection(LIMITS);
  bad.next();
  const g = bytes("GARBAGE\r\n\r\n");
  bad.readRegion().set(g);
  bad.received(g.length);
  assertEquals(bad.next(), Event.Refuse);
  assertEquals(bad.head, null);
  assertEquals(bad.firstLine(100), "GARBAGE");
});

Deno.test("connection core: Paused until the response is done", () => {
  const conn = new ServerConnection(LIMITS);
  conn.next();
  const b = bytes(GET + GET);
  conn.readRegion().set(b);
  conn.received(b.length);
  assertEquals(conn.next(), Event.Request);
  assertEquals(conn.next(), Event.EndOfMessage);
  assertEquals(conn.next(), Event.Paused);
  assertEquals(conn.respond(200, undefined, false), Framing.Chunked);
  assertEquals(conn.next(), Event.Paused);
  assert(conn.responseDone(true));
  assertEquals(conn.next(), Event.Request); // the pipelined one
});

Deno.test("connection core: respond() frames the response", async (t) => {
  const cases: [
    string,
    string,
    number,
    string | undefined,
    boolean,
    [Framing, number, boolean, string | undefined],
  ][] = [
    ["GET / HTTP/1.1", "", 200, "5", false, [
      Framing.Length,
      5,
      true,
      undefined,
    ]],
    ["GET / HTTP/1.1", "", 200, undefined, false, [
      Framing.Chunked,
      -1,
      true,
      undefined,
    ]],
    ["GET / HTTP/1.1", "", 200, "5", true, [Framing.Length, 5, false, "close"]],
    ["GET / HTTP/1.1", "Connection: close", 200, "5", false, [
      Framing.Length,
      5,
      false,
      "close",
    ]],
    ["HEAD / HTTP/1.1", "", 200, undefined, false, [
      Framing.None,
      -1,
      true,
      undefined,
    ]],
    ["GET / HTTP/1.1", "", 204, undefined, false, [
      Framing.None,
      -1,
      true,
      undefined,
    ]],
    ["GET / HTTP/1.1", "", 304, "10", false, [
      Framing.None,
      -1,
      true,
      undefined,
    ]],
    ["GET / HTTP/1.1", "", 200, "abc", false, [
      Framing.Close,
      -1,
      false,
      "close",
    ]],
    ["GET / HTTP/1.0", "", 200, "5", false, [
      Framing.Length,
      5,
      false,
      undefined,
    ]],
    ["GET / HTTP/1.0", "", 200, undefined, false, [
      Framing.Close,
      -1,
      false,
      undefined,
    ]],
    ["GET / HTTP/1.0", "Connection: keep-alive", 200, "5", false, [
      Framing.Length,
      5,
      true,
      "keep-alive",
    ]],
    ["GET / HTTP/1.0", "Connection: keep-alive", 200, undefined, false, [
      Framing.Close,
      -1,
      false,
      undefined,
    ]],
  ];
  for (const [line, field, status, cl, closing, want] of cases) {
    await t.step(`${line} ${field} → ${status} ${cl} ${closing}`, () => {
      const conn = new ServerConnection(LIMITS);
      conn.next();
      const head = `${line}\r\nHost: a\r\n${field ? field + "\r\n" : ""}\r\n`;
      const b = bytes(head);
      conn.readRegion().set(b);
      conn.received(b.length);
      assertEquals(conn.next(), Event.Request);
      assertEquals(conn.next(), Event.EndOfMessage);
      const framing = conn.respond(status, cl, closing);
      assertEquals(
        [framing, conn.length, conn.keepAlive, conn.connection],
        want,
      );
    });
  }
});

Deno.test("framing rules as pure functions", () => {
  assertEquals(responseLength("0"), 0);
  assertEquals(responseLength("123456789012345"), 123456789012345);
  for (
    const v of [
      undefined,
      "",
      "-1",
      "+1",
      " 1",
      "1 ",
      "0x1",
      "1234567890123456",
    ]
  ) {
    assertEquals(responseLength(v), -1, String(v));
  }
  assertEquals(responseFraming("GET", 101, undefined, true), Framing.None);
  assertEquals(responseFraming("HEAD", 500, undefined, false), Framing.None);
  assertEquals(responseFraming("POST", 201, "0", false), Framing.Length);
  assertEquals(requestKeepsAlive(1, false, false), true);
  assertEquals(requestKeepsAlive(1, true, true), false);
  assertEquals(requestKeepsAlive(0, false, true), true);
  assertEquals(requestKeepsAlive(0, false, false), false);
  assertEquals(keepsAlive(true, Framing.None, false), true);
  assertEquals(keepsAlive(true, Framing.Length, true), false);
  assertEquals(keepsAlive(false, Framing.Chunked, false), false);
  assertEquals(connectionHeader(true, true), undefined);
  assertEquals(connectionHeader(false, false), undefined);
});

Deno.test("connection core: the read buffer comes from Buffers and goes back when idle", () => {
  const taken: Uint8Array[] = [];
  const given: Uint8Array[] = [];
  const buffers: Buffers = {
    take(size) {
      const b = new Uint8Array(size);
      taken.push(b);
      return b;
    },
    give(b) {
      given.push(b);
    },
  };
  const conn = new ServerConnection(LIMITS, buffers);
  assertEquals(taken.length, 0); // nothing until bytes are needed
  assertEquals(conn.next(), Event.NeedData);
  assertEquals(taken.length, 1);
  assertEquals(taken[0].length, HEAD_BUFFER_SIZE, "a small one for a head");
  const b = bytes(GET);
  conn.readRegion().set(b);
  conn.received(b.length);
  assertEquals(conn.next(), Event.Request);
  assertEquals(conn.next(), Event.EndOfMessage);
  conn.respond(200, "2", false);
  assert(conn.responseDone(true));
  assert(conn.idle);
  assertEquals(given, taken, "given back once the response is done");
  assert(!conn.release(), "nothing left to give back");
  assertEquals(conn.next(), Event.NeedData);
  assertEquals(taken.length, 2);
  const part = bytes("GET / HT");
  conn.readRegion().set(part);
  conn.received(part.length);
  assertEquals(conn.next(), Event.NeedData);
  assert(!conn.idle);
  assert(!conn.release(), "a buffer with part of a head is kept");
  conn.close();
  assertEquals(given.length, 2, "close() gives it back, unread bytes and all");
});

Deno.test("connection core: a head larger than the small buffer moves to a pooled one, and a body that fits stays there", () => {
  const pool = new BufferPool();
  const lent = new Set<Uint8Array>();
  const buffers: Buffers = {
    take(size) {
      const b = pool.take(size);
      lent.add(b);
      return b;
    },
    give(b) {
      assert(lent.delete(b), "only what was taken is given back");
      pool.give(b);
    },
  };
  const limits = { ...LIMITS, maxRequestBody: 1 << 20 };
  const conn = new ServerConnection(limits, buffers);
  /** Feeds `wire` a read at a time, as a socket fills the region. */
  const feed = (wire: Uint8Array): number[] => {
    const sizes: number[] = [];
    let off = 0;
    while (off < wire.length && conn.next() === Event.NeedData) {
      const region = conn.readRegion();
      sizes.push(region.length);
      const n = Math.min(region.length, wire.length - off);
      region.set(wire.subarray(off, off + n));
      conn.received(n);
      off += n;
    }
    return sizes;
  };
  const big = bytes(
    "POST / HTTP/1.1\r\nHost: a\r\nX: " + "v".repeat(HEAD_BUFFER_SIZE) +
      "\r\nContent-Length: 3000\r\n\r\n",
  );
  const sizes = feed(big);
  assertEquals(sizes[0], HEAD_BUFFER_SIZE, "the head is read into a small one");
  assertEquals(sizes[1], BUFFER_SIZE - HEAD_BUFFER_SIZE, "then a pooled one");
  assertEquals(lent.size, 1, "the small one went back");
  assertEquals(conn.next(), Event.Request);
  // 3,000 body bytes fit in the pooled buffer: no larger one is taken.
  let body = 0;
  for (let event = conn.next(); event !== Event.EndOfMessage;) {
    if (event === Event.Data) body += conn.data.length;
    else {
      assertEquals(event, Event.NeedData);
      const region = conn.readRegion();
      assert(region.length <= BUFFER_SIZE);
      const n = Math.min(region.length, 3000 - body);
      conn.received(n);
    }
    event = conn.next();
  }
  assertEquals(body, 3000);
  conn.respond(200, "0", false);
  assert(conn.responseDone(true));
  assertEquals(lent.size, 0, "nothing is held between requests");
  conn.close();
});

Deno.test("connection core: a head parser is lent only while a head is read", () => {
  let lent = 0;
  class Counting extends HeadParsers {
    override take(): HeadParser {
      lent++;
      return super.take();
    }
    override give(parser: HeadParser): void {
      lent--;
      super.give(parser);
    }
  }
  const conn = new ServerConnection(LIMITS, undefined, new Counting(LIMITS));
  const feed = (s: string) => {
    const b = bytes(s);
    conn.readRegion().set(b);
    conn.received(b.length);
  };
  assertEquals(conn.next(), Event.NeedData);
  assertEquals(lent, 0, "none while waiting for a request");
  feed("GET / HT");
  assertEquals(conn.next(), Event.NeedData);
  assertEquals(lent, 1, "one while a head is under way");
  feed("TP/1.1\r\nHost: a\r\n\r\n");
  assertEquals(conn.next(), Event.Request);
  assertEquals(lent, 0, "given back with the head");
  assertEquals(conn.next(), Event.EndOfMessage);
  conn.respond(200, "0", false);
  assert(conn.responseDone(true));
  assertEquals(conn.next(), Event.NeedData);
  feed("GET /x HTTP/1.1\r\nHo");
  assertEquals(conn.next(), Event.NeedData);
  assertEquals(lent, 1);
  conn.close();
  assertEquals(lent, 0, "close() gives back a parser in the middle of a head");
  const bad = new ServerConnection(LIMITS, undefined, new Counting(LIMITS));
  assertEquals(bad.next(), Event.NeedData);
  const b = bytes("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n");
  bad.readRegion().set(b);
  bad.received(b.length);
  assertEquals(bad.next(), Event.Refuse);
  assertEquals(lent, 0, "given back with a refusal");
});

Deno.test("BufferPool: lends buffers of its sizes again, at most max of each", () => {
  const pool = new BufferPool([16, 32], 2);
  const a = pool.take(16);
  const b = pool.take(16);
  const c = pool.take(16);
  const big = pool.take(32);
  const odd = new Uint8Array(8);
  for (const x of [a, b, c, big, odd]) pool.give(x);
  const again = [pool.take(16), pool.take(16), pool.take(16)];
  assert(again[0] === b && again[1] === a, "the two kept, last in first out");
  assert(again[2] !== a && again[2] !== b && again[2] !== c, "a new one");
  assert(pool.take(32) === big, "each size has its own list");
  assert(pool.take(8) !== odd, "a size not kept is not kept");
});
