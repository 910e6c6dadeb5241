import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import {
  ChunkedDecoder,
  chunkHeader,
  CRLF,
  encodeChunk,
  LAST_CHUNK,
  MAX_CHUNK_LINE,
  writeChunkHeader,
} from "../_chunked.ts";
import { requestKeepsAlive } from "../_framing.ts";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  HeadParser,
  MAX_LEADING_EMPTY_LINES,
  parseRequestHead,
  type RequestHead,
} from "../_head_parser.ts";
import { HTTPError } from "../_http_error.ts";
import { STATUS_REASONS } from "../_status.ts";
import { TargetForm } from "../_request_target.ts";
import { StringTable } from "../_string_table.ts";
import { CONTINUE_RESPONSE, errorResponse } from "../_response_writer.ts";

// ---------------------------------------------------------------------------
// Helpers

/** The bytes of a string whose code units are all 0-255. */
function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error("test string is not latin1");
    out[i] = c;
  }
  return out;
}

function str(bytes: Uint8Array): string {
  let s = "";
  for (const c of bytes) s += String.fromCharCode(c);
  return s;
}

function limits(over: Partial<HeadLimits> = {}): HeadLimits {
  return { ...DEFAULT_HEAD_LIMITS, ...over };
}

/** One string table for the heads parsed here, as a server's connections share one. */
const STRINGS = new StringTable();

function parse(s: string, lim?: Partial<HeadLimits>): RequestHead | null {
  const bytes = b(s);
  return new HeadParser(limits(lim), STRINGS).parse(bytes, 0, bytes.length);
}

/** Parses a complete head; fails the test if it is incomplete. */
function head(s: string, lim?: Partial<HeadLimits>): RequestHead {
  const h = parse(s, lim);
  if (h === null) throw new Error(`incomplete head: ${JSON.stringify(s)}`);
  return h;
}

/** The HTTPError status `fn` throws; fails if it throws nothing or else. */
function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof HTTPError) return e.status;
    throw e;
  }
  throw new Error("expected an HTTPError, nothing was thrown");
}

function refused(s: string, lim?: Partial<HeadLimits>): number {
  return statusOf(() => parse(s, lim));
}

/** keep-alive as the connection core reads it from a head. */
function keepAlive(h: RequestHead): boolean {
  return requestKeepsAlive(h.minor, h.connectionClose, h.connectionKeepAlive);
}

/**
 * A ChunkedDecoder whose data spans are collected (as the server's glue
 * does), with the interface of a decoder that assembles the body.
 */
class Decoder {
  readonly dec: ChunkedDecoder;
  readonly #parts: Uint8Array[] = [];
  constructor(maxBody: number, maxTrailerBytes?: number) {
    this.dec = new ChunkedDecoder(maxBody, maxTrailerBytes);
  }
  /** Decodes buf[start:end]; returns how many bytes were consumed. */
  feed(buf: Uint8Array, start: number, end: number): number {
    const dec = this.dec;
    let i = start;
    while (i < end && !dec.done) {
      const j = dec.decode(buf, i, end);
      const data = dec.dataEnd > dec.dataStart;
      if (data) this.#parts.push(buf.slice(dec.dataStart, dec.dataEnd));
      if (j === i && !data) break;
      i = j;
    }
    return i - start;
  }
  get done(): boolean {
    return this.dec.done;
  }
  get length(): number {
    return this.dec.length;
  }
  get trailers(): [string, string][] {
    return this.dec.trailers;
  }
  body(): Uint8Array {
    const out = new Uint8Array(this.dec.length);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A minimal valid HTTP/1.1 head with extra header lines. */
function req(lines: string[] = [], first = "GET / HTTP/1.1"): string {
  return [first, "Host: h", ...lines, "", ""].join("\r\n");
}

// ---------------------------------------------------------------------------
// Request line

Deno.test("head: a typical request", () => {
  const s = "POST /p/a%20th?q=1&r HTTP/1.1\r\nHost: example.com:8080\r\n" +
    "User-Agent: t/1\r\nAccept: */*\r\nContent-Type: text/plain\r\n" +
    "content-length: 5\r\nX-Empty:\r\n\r\nhello";
  const h = head(s);
  assertEquals(h.method, "POST");
  assertEquals(h.target, "/p/a%20th?q=1&r");
  assertEquals(h.version, "HTTP/1.1");
  assertEquals([h.major, h.minor], [1, 1]);
  assertEquals(h.headers, [
    ["Host", "example.com:8080"],
    ["User-Agent", "t/1"],
    ["Accept", "*/*"],
    ["Content-Type", "text/plain"],
    ["content-length", "5"],
    ["X-Empty", ""],
  ]);
  assertEquals(h.contentLength, 5);
  assertEquals(h.chunked, false);
  assertEquals(keepAlive(h), true);
  assertEquals([h.form, h.path, h.authority], [
    TargetForm.Origin,
    "/p/a%20th?q=1&r",
    "",
  ]);
  assertEquals(h.expectContinue, false);
  assertEquals(h.end, s.length - 5);
});

Deno.test("head: line ends", async (t) => {
  await t.step("bare LF throughout is accepted as a line end", () => {
    const s = "GET / HTTP/1.1\nHost: a\nX: 1\n\nbody";
    const h = head(s);
    assertEquals(h.headers, [["Host", "a"], ["X", "1"]]);
    assertEquals(h.end, s.length - 4);
    assertEquals(head("GET / HTTP/1.0\n\n").end, 16);
    assertEquals(head("\n\nGET / HTTP/1.0\n\n").end, 18);
  });
  await t.step("a head that mixes CRLF and bare LF is 400", () => {
    for (
      const s of [
        "GET / HTTP/1.1\nHost: a\r\n\r\n", // request line
        "GET / HTTP/1.1\r\nHost: a\n\r\n", // a field line
        "GET / HTTP/1.1\r\nHost: a\r\n\n", // the empty line
        "GET / HTTP/1.1\nHost: a\n\r\n",
        "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", // an empty line before
        "\r\n\nGET / HTTP/1.1\nHost: a\n\n",
        // The desync of issue 12: a proxy that ends lines only at CRLF
        // reads one request with a "Dummy" field here.
        "GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nx:x\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nFoo: barn\n\nTransfer-Encoding: chunked\r\n\r\n",
      ]
    ) {
      assertEquals(refused(s), 400, JSON.stringify(s));
    }
  });
  await t.step(
    "refused as soon as the second kind shows, before the head ends",
    () => {
      assertEquals(refused("GET / HTTP/1.1\r\nHost: a\nX"), 400);
    },
  );
  await t.step("a bare CR anywhere is 400", () => {
    for (
      const s of [
        "GET / HTTP/1.1\rHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\rX",
        "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET\r / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX\r: b\r\n\r\n",
      ]
    ) {
      assertEquals(refused(s), 400, JSON.stringify(s));
    }
  });
  await t.step("a CR at the very end of the data waits for more", () => {
    assertEquals(parse("GET / HTTP/1.1\r"), null);
    assertEquals(parse("GET / HTTP/1.1\r\nHost: a\r"), null);
    assertEquals(parse("GET / HTTP/1.1\r\nHost: a\r\n\r"), null);
  });
});

Deno.test("head: leading empty lines", async (t) => {
  await t.step("a few are ignored", () => {
    const s = "\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    const h = head(s);
    assertEquals(h.method, "GET");
    assertEquals(h.end, s.length);
  });
  await t.step(`up to ${MAX_LEADING_EMPTY_LINES}, then 400`, () => {
    const ok = "\r\n".repeat(MAX_LEADING_EMPTY_LINES) + req();
    assertEquals(head(ok).end, ok.length);
    assertEquals(refused("\r\n" + ok), 400);
  });
  await t.step("only empty lines so far: incomplete", () => {
    assertEquals(parse("\r\n\r\n"), null);
    assertEquals(parse("\r\n\r"), null);
  });
});

Deno.test("head: method", async (t) => {
  await t.step("any token is a method", () => {
    for (const m of ["GET", "M-SEARCH", "x!#$%&'*+-.^_`|~9", "get"]) {
      assertEquals(head(req([], `${m} / HTTP/1.1`)).method, m);
    }
  });
  await t.step("non-token characters are 400", () => {
    for (
      const first of [
        "G(ET / HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "G\x00ET / HTTP/1.1",
        "GE\xe9T / HTTP/1.1",
        "GE:T / HTTP/1.1",
        " GET / HTTP/1.1",
        "\tGET / HTTP/1.1",
        "GET",
        "GET\r\n",
      ]
    ) {
      assertEquals(refused(req([], first)), 400, JSON.stringify(first));
    }
  });
});

Deno.test("head: request target", async (t) => {
  await t.step("kept raw, bytes 0x80-0xFF included", () => {
    assertEquals(
      head(req([], "GET /caf\xe9/\xff?x=%41 HTTP/1.1")).target,
      "/caf\xe9/\xff?x=%41",
    );
    assertEquals(head(req([], "OPTIONS * HTTP/1.1")).target, "*");
    assertEquals(
      head(req([], "GET http://a/b HTTP/1.1")).target,
      "http://a/b",
    );
  });
  await t.step("whitespace and control characters are 400", () => {
    for (
      const first of [
        "GET  / HTTP/1.1",
        "GET / x HTTP/1.1",
        "GET /\t HTTP/1.1",
        "GET /\x00 HTTP/1.1",
        "GET /\x01 HTTP/1.1",
        "GET /\x1f HTTP/1.1",
        "GET /\x7f HTTP/1.1",
        "GET /\x0b HTTP/1.1",
        "GET / HTTP/1.1 ",
        "GET /  HTTP/1.1",
      ]
    ) {
      assertEquals(refused(req([], first)), 400, JSON.stringify(first));
    }
  });
});

Deno.test("head: request-target form against the method (RFC 9112 section 3.2)", async (t) => {
  const target = (first: string) => {
    const h = head(req([], first));
    return [h.form, h.path, h.authority];
  };
  await t.step("origin-form for any method", () => {
    assertEquals(target("GET /a?b HTTP/1.1"), [TargetForm.Origin, "/a?b", ""]);
    assertEquals(target("M-SEARCH // HTTP/1.1"), [TargetForm.Origin, "//", ""]);
  });
  await t.step("absolute-form: the path (or /) and the authority", () => {
    assertEquals(target("GET http://example.com/abs?x HTTP/1.1"), [
      TargetForm.Absolute,
      "/abs?x",
      "example.com",
    ]);
    assertEquals(target("POST HTTPS://h:8443 HTTP/1.1"), [
      TargetForm.Absolute,
      "/",
      "h:8443",
    ]);
    assertEquals(target("GET http://[::1]:80?q HTTP/1.1"), [
      TargetForm.Absolute,
      "/?q",
      "[::1]:80",
    ]);
  });
  await t.step("asterisk-form for OPTIONS only", () => {
    assertEquals(target("OPTIONS * HTTP/1.1"), [TargetForm.Asterisk, "*", ""]);
    for (const m of ["GET", "POST", "HEAD", "options"]) {
      assertEquals(refused(req([], `${m} * HTTP/1.1`)), 400, m);
    }
  });
  await t.step("authority-form for CONNECT only", () => {
    assertEquals(target("CONNECT example.com:443 HTTP/1.1"), [
      TargetForm.Authority,
      "example.com:443",
      "",
    ]);
    for (
      const first of [
        "GET example.com:443 HTTP/1.1",
        "OPTIONS example.com:443 HTTP/1.1",
        "CONNECT / HTTP/1.1",
        "CONNECT * HTTP/1.1",
        "CONNECT http://example.com/ HTTP/1.1",
        "CONNECT example.com HTTP/1.1",
      ]
    ) {
      assertEquals(refused(req([], first)), 400, first);
    }
  });
  await t.step("anything else is 400", () => {
    for (
      const first of [
        "GET foo HTTP/1.1",
        "GET ?x HTTP/1.1",
        "GET ** HTTP/1.1",
        "GET http:/x HTTP/1.1",
        "GET http:// HTTP/1.1",
        "GET http:///x HTTP/1.1",
        "GET http://user@example.com/ HTTP/1.1",
        "GET http://exa\xe9mple.com/ HTTP/1.1",
        "GET 1http://a/ HTTP/1.1",
      ]
    ) {
      assertEquals(refused(req([], first)), 400, first);
    }
  });
});

Deno.test("head: HTTP version", async (t) => {
  await t.step("1.0 and 1.1", () => {
    const h0 = head("GET / HTTP/1.0\r\n\r\n");
    assertEquals([h0.version, h0.major, h0.minor], ["HTTP/1.0", 1, 0]);
    const h1 = head(req());
    assertEquals([h1.version, h1.major, h1.minor], ["HTTP/1.1", 1, 1]);
  });
  await t.step("1.2 to 1.9 are handled as 1.1", () => {
    for (let m = 2; m <= 9; m++) {
      const h = head(req([], `GET / HTTP/1.${m}`));
      assertEquals([h.version, h.major, h.minor], [`HTTP/1.${m}`, 1, 1]);
      assertEquals(refused(`GET / HTTP/1.${m}\r\n\r\n`), 400); // no Host
    }
  });
  await t.step("another major is 505", () => {
    for (const v of ["HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/9.9"]) {
      assertEquals(refused(req([], `GET / ${v}`)), 505, v);
    }
  });
  await t.step("malformed versions are 400", () => {
    for (
      const v of [
        "HTTP/1",
        "HTTP/1.",
        "HTTP/11",
        "HTTP/1.10",
        "HTTP/11.1",
        "http/1.1",
        "HTTP/1,1",
        "HTTPS/1.1",
        "HTTP/a.1",
        "HTTP/1.b",
        "HTTP /1.1",
        "HTTP/1.1x",
        "",
      ]
    ) {
      assertEquals(refused(req([], `GET / ${v}`)), 400, v);
    }
  });
  await t.step("an HTTP/0.9 request line (no version) is 400", () => {
    assertEquals(refused("GET /\r\n\r\n"), 400);
    assertEquals(refused("GET\r\n\r\n"), 400);
  });
});

Deno.test("head: request line limit (414)", async (t) => {
  const L = 64;
  const line = (n: number) => "GET /" + "a".repeat(n - 14) + " HTTP/1.1";
  await t.step("exactly the limit is accepted, one past it is 414", () => {
    assertEquals(line(L).length, L);
    assertEquals(
      head(req([], line(L)), { maxRequestLine: L }).target.length,
      L - 13,
    );
    assertEquals(refused(req([], line(L + 1)), { maxRequestLine: L }), 414);
  });
  await t.step("detected before the line end arrives", () => {
    const lim = { maxRequestLine: L };
    assertEquals(parse(line(L), lim), null);
    assertEquals(parse(line(L) + "\r", lim), null);
    const partial = "GET /" + "a".repeat(L - 5);
    assertEquals(partial.length, L);
    assertEquals(parse(partial, lim), null);
    assertEquals(refused(partial + "a", lim), 414);
  });
  await t.step("the default limit is 65536", () => {
    const big = "GET /" + "a".repeat(65536);
    assertEquals(refused(big), 414);
    assertEquals(DEFAULT_HEAD_LIMITS.maxRequestLine, 65536);
  });
});

// ---------------------------------------------------------------------------
// Header fields

Deno.test("head: field syntax", async (t) => {
  await t.step("values are trimmed of SP and HTAB, inner ones kept", () => {
    const h = head(req(["A: \t x \t y \t ", "B:z", "C:   ", "D:\t"]));
    assertEquals(h.headers.slice(1), [
      ["A", "x \t y"],
      ["B", "z"],
      ["C", ""],
      ["D", ""],
    ]);
  });
  await t.step("names are tokens, kept as sent", () => {
    const h = head(req(["x-Odd_Name!#$%&'*+.^`|~9: v"]));
    assertEquals(h.headers[1], ["x-Odd_Name!#$%&'*+.^`|~9", "v"]);
  });
  await t.step("bytes 0x80-0xFF are allowed in values (obs-text)", () => {
    const h = head(req(["X: caf\xe9 \x80\xff"]));
    assertEquals(h.headers[1], ["X", "caf\xe9 \x80\xff"]);
  });
  await t.step("UTF-8 bytes are read as ISO-8859-1, one code unit each", () => {
    const h = head(
      req(["X: caf\xc3\xa9", "Y: \xe2\x82\xac"], "GET /\xc3\xa9 HTTP/1.1"),
    );
    assertEquals(h.target, "/\xc3\xa9");
    assertEquals(h.headers.slice(1), [["X", "caf\xc3\xa9"], [
      "Y",
      "\xe2\x82\xac",
    ]]);
    // Only in a later value: the earlier fields still read right.
    const h2 = head(req(["A: plain", "B: \xc3\xa9"]));
    assertEquals(h2.headers.slice(1), [["A", "plain"], ["B", "\xc3\xa9"]]);
  });
  await t.step("a colon in the value is data", () => {
    assertEquals(head(req(["X: a:b: c"])).headers[1], ["X", "a:b: c"]);
  });
  await t.step("whitespace between name and colon is 400", () => {
    assertEquals(refused(req(["X : v"])), 400);
    assertEquals(refused(req(["X\t: v"])), 400);
    assertEquals(refused(req(["Transfer-Encoding : chunked"])), 400);
  });
  await t.step("obs-fold (a line starting with SP or HTAB) is 400", () => {
    assertEquals(refused(req(["X: a", " b"])), 400);
    assertEquals(refused(req(["X: a", "\tb"])), 400);
    assertEquals(refused("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
    assertEquals(refused("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"), 400);
  });
  await t.step("bad names are 400", () => {
    for (
      const line of [
        ": v",
        "X",
        "X v",
        "X(: v",
        "X\x00: v",
        "\xe9: v",
        "X\x7f: v",
        "@: v",
        "X/Y: v",
      ]
    ) {
      assertEquals(refused(req([line])), 400, JSON.stringify(line));
    }
  });
  await t.step("CTLs other than HTAB, and DEL, in values are 400", () => {
    for (let c = 0; c < 0x20; c++) {
      if (c === 0x09 || c === 0x0a) continue;
      const v = "a" + String.fromCharCode(c) + "b";
      assertEquals(refused(req(["X: " + v])), 400, `0x${c.toString(16)}`);
    }
    assertEquals(refused(req(["X: a\x7fb"])), 400);
    assertEquals(refused(req(["X: \x00"])), 400);
  });
});

Deno.test("head: header section limits (431)", async (t) => {
  await t.step("maxHeaderBytes: exactly the limit, then one past it", () => {
    // "Host: h\r\n" (9) + "X: " + value + "\r\n"
    const value = "v".repeat(20);
    const size = 9 + 3 + value.length + 2;
    const s = req(["X: " + value]);
    assertEquals(head(s, { maxHeaderBytes: size }).headers.length, 2);
    assertEquals(refused(s, { maxHeaderBytes: size - 1 }), 431);
    // With bare LF throughout, each field line is a byte shorter; the
    // final empty line is not counted either way.
    const lf = s.replaceAll("\r\n", "\n");
    assertEquals(head(lf, { maxHeaderBytes: size - 2 }).end, lf.length);
    assertEquals(refused(lf, { maxHeaderBytes: size - 3 }), 431);
  });
  await t.step("maxHeaderBytes is enforced before the head is complete", () => {
    const lim = { maxHeaderBytes: 30 };
    const pre = "GET / HTTP/1.0\r\n";
    // 29 bytes of a line: complete it will be at least 30, fine.
    assertEquals(parse(pre + "X: " + "v".repeat(26), lim), null);
    // 30 bytes of a line: it will be at least 31.
    assertEquals(refused(pre + "X: " + "v".repeat(27), lim), 431);
    // A full section of exactly 30 bytes, then a lone CR: may be the end.
    const full = pre + "X: " + "v".repeat(25) + "\r\n";
    assertEquals(parse(full + "\r", lim), null);
    assertEquals(parse(full, lim), null);
    assertEquals(refused(full + "Y", lim), 431);
    assertEquals(head(full + "\r\n", lim).end, full.length + 2);
  });
  await t.step("the request line does not count", () => {
    const first = "GET /" + "a".repeat(100) + " HTTP/1.1";
    assertEquals(head(req([], first), { maxHeaderBytes: 9 }).headers.length, 1);
  });
  await t.step("maxHeaders: exactly the limit, then one past it", () => {
    const lines = Array.from({ length: 9 }, (_, k) => `X${k}: ${k}`);
    assertEquals(head(req(lines), { maxHeaders: 10 }).headers.length, 10);
    assertEquals(refused(req([...lines, "Y: y"]), { maxHeaders: 10 }), 431);
    // Detected as soon as the extra line starts.
    const pre = req(lines).slice(0, -2);
    assertEquals(parse(pre, { maxHeaders: 10 }), null);
    assertEquals(refused(pre + "Y", { maxHeaders: 10 }), 431);
  });
  await t.step("defaults: 64 KiB and 100 fields", () => {
    assertEquals(DEFAULT_HEAD_LIMITS.maxHeaderBytes, 65536);
    assertEquals(DEFAULT_HEAD_LIMITS.maxHeaders, 100);
    const lines = Array.from({ length: 99 }, (_, k) => `X${k}: ${k}`);
    assertEquals(head(req(lines)).headers.length, 100);
    assertEquals(refused(req([...lines, "Y: y"])), 431);
    assertEquals(refused(req(["X: " + "v".repeat(65536)])), 431);
  });
});

// ---------------------------------------------------------------------------
// Framing

Deno.test("head: Content-Length", async (t) => {
  await t.step("valid values", () => {
    assertEquals(head(req(["Content-Length: 0"])).contentLength, 0);
    assertEquals(head(req(["Content-Length: 42"])).contentLength, 42);
    assertEquals(head(req(["content-LENGTH:  007 "])).contentLength, 7);
    assertEquals(
      head(req(["Content-Length: 9007199254740991"])).contentLength,
      Number.MAX_SAFE_INTEGER,
    );
    assertEquals(head(req()).contentLength, -1);
  });
  await t.step("identical repeated or listed values are accepted", () => {
    assertEquals(head(req(["Content-Length: 5, 5"])).contentLength, 5);
    assertEquals(head(req(["Content-Length: 5 ,5,5"])).contentLength, 5);
    assertEquals(
      head(req(["Content-Length: 5", "Content-Length: 5"])).contentLength,
      5,
    );
  });
  await t.step("different values are 400", () => {
    assertEquals(refused(req(["Content-Length: 5, 6"])), 400);
    assertEquals(refused(req(["Content-Length: 5", "content-length: 6"])), 400);
    assertEquals(
      refused(req(["Content-Length: 0", "Content-Length: 10"])),
      400,
    );
  });
  await t.step("malformed values are 400", () => {
    for (
      const v of [
        "+5",
        "0x5",
        "-1",
        "5 5",
        "",
        "5,",
        ",5",
        "5,,5",
        "1e3",
        "5.0",
        "five",
        "5;",
        "\xb5",
        "9007199254740992",
        "99999999999999999999999",
      ]
    ) {
      assertEquals(
        refused(req(["Content-Length: " + v])),
        400,
        JSON.stringify(v),
      );
    }
  });
});

Deno.test("head: Transfer-Encoding", async (t) => {
  await t.step("chunked alone, in any case, makes a chunked body", () => {
    for (const v of ["chunked", "Chunked", "CHUNKED", " chunked \t"]) {
      const h = head(req(["Transfer-Encoding: " + v]));
      assertEquals([h.chunked, h.contentLength], [true, -1], v);
    }
  });
  await t.step("a known-but-unsupported coding before chunked is 501", () => {
    assertEquals(refused(req(["Transfer-Encoding: gzip, chunked"])), 501);
    assertEquals(refused(req(["Transfer-Encoding: identity, chunked"])), 501);
    assertEquals(refused(req(["Transfer-Encoding: x;q=1, chunked"])), 501);
    assertEquals(
      refused(req(["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"])),
      501,
    );
  });
  await t.step("a list not ending in chunked is 400", () => {
    for (
      const v of [
        "gzip",
        "identity",
        "xchunked",
        "chunkedx",
        "chunked, identity",
        "chunked, gzip",
      ]
    ) {
      assertEquals(refused(req(["Transfer-Encoding: " + v])), 400, v);
    }
    assertEquals(
      refused(req(["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"])),
      400,
    );
  });
  await t.step("chunked twice is 400", () => {
    assertEquals(refused(req(["Transfer-Encoding: chunked, chunked"])), 400);
    assertEquals(
      refused(
        req(["Transfer-Encoding: chunked", "transfer-encoding: chunked"]),
      ),
      400,
    );
  });
  await t.step("malformed lists are 400", () => {
    for (
      const v of [
        "",
        "chunked,",
        ",chunked",
        "chunked,,",
        "chunked;a=b",
        "chunked ;a=b",
        '"chunked"',
        "chun ked",
        "chunked chunked",
        "\xe9, chunked",
      ]
    ) {
      assertEquals(
        refused(req(["Transfer-Encoding: " + v])),
        400,
        JSON.stringify(v),
      );
    }
  });
  await t.step("with Content-Length, in either order, is 400", () => {
    assertEquals(
      refused(req(["Transfer-Encoding: chunked", "Content-Length: 5"])),
      400,
    );
    assertEquals(
      refused(req(["Content-Length: 5", "Transfer-Encoding: chunked"])),
      400,
    );
    assertEquals(
      refused(req(["Content-Length: 0", "Transfer-Encoding: chunked"])),
      400,
    );
  });
  await t.step("on an HTTP/1.0 request is 400 (not trusted)", () => {
    assertEquals(
      refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400,
    );
    assertEquals(
      refused("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
      400,
    );
  });
});

Deno.test("head: Host", async (t) => {
  await t.step("required on HTTP/1.1", () => {
    assertEquals(refused("GET / HTTP/1.1\r\n\r\n"), 400);
    assertEquals(refused("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"), 400);
    assertEquals(head("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n").headers.length, 1);
    assertEquals(head("GET / HTTP/1.1\r\nHost:\r\n\r\n").headers, [[
      "Host",
      "",
    ]]);
  });
  await t.step("a value that is not host[:port] is 400", () => {
    for (
      const v of [
        "example.com:8080",
        "127.0.0.1",
        "[::1]:8000",
        "xn--bcher-kva.example",
        "my_host.local",
        "a%20b",
      ]
    ) {
      assertEquals(
        head(req([], "GET / HTTP/1.1").replace("Host: h", "Host: " + v))
          .headers[0],
        ["Host", v],
      );
    }
    for (
      const v of [
        "evil.com/path",
        "a b",
        "a?b",
        "a#b",
        "user@host",
        "caf\xe9.fr",
        'a"b',
        "a\\b",
        "<a>",
      ]
    ) {
      assertEquals(
        refused(req([], "GET / HTTP/1.1").replace("Host: h", "Host: " + v)),
        400,
        v,
      );
    }
  });
  await t.step("optional on HTTP/1.0", () => {
    assertEquals(head("GET / HTTP/1.0\r\n\r\n").headers, []);
  });
  await t.step("more than one is 400", () => {
    assertEquals(refused(req(["Host: h"])), 400);
    assertEquals(refused(req(["HOST: other"])), 400);
    assertEquals(
      refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
      400,
    );
  });
});

Deno.test("head: Expect", async (t) => {
  await t.step("100-continue, in any case", () => {
    assertEquals(head(req(["Expect: 100-continue"])).expectContinue, true);
    assertEquals(head(req(["expect: 100-Continue "])).expectContinue, true);
    assertEquals(head(req()).expectContinue, false);
  });
  await t.step("any other expectation is 417", () => {
    for (const v of ["foo", "100-continue, foo", "200-ok", "100-continu"]) {
      assertEquals(refused(req(["Expect: " + v])), 417, v);
    }
  });
  await t.step("an empty Expect is no expectation", () => {
    assertEquals(head(req(["Expect:"])).expectContinue, false);
  });
  await t.step("ignored on HTTP/1.0 (RFC 9110 section 10.1.1)", () => {
    assertEquals(
      head("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expectContinue,
      false,
    );
  });
});

Deno.test("head: keepAlive", async (t) => {
  await t.step("HTTP/1.1: persistent unless Connection: close", () => {
    assertEquals(keepAlive(head(req())), true);
    assertEquals(keepAlive(head(req(["Connection: close"]))), false);
    assertEquals(keepAlive(head(req(["Connection: CLOSE"]))), false);
    assertEquals(keepAlive(head(req(["Connection: Upgrade, close"]))), false);
    assertEquals(keepAlive(head(req(["Connection: keep-alive,close"]))), false);
    assertEquals(
      keepAlive(head(req(["Connection: te", "Connection: close"]))),
      false,
    );
    assertEquals(keepAlive(head(req(["Connection: closed"]))), true);
    assertEquals(keepAlive(head(req(["Connection: close-ish"]))), true);
    assertEquals(keepAlive(head(req(["X-Connection: close"]))), true);
  });
  await t.step("HTTP/1.0: closed unless Connection: keep-alive", () => {
    const v10 = (lines: string[]) =>
      keepAlive(head(["GET / HTTP/1.0", ...lines, "", ""].join("\r\n")));
    assertEquals(v10([]), false);
    assertEquals(v10(["Connection: keep-alive"]), true);
    assertEquals(v10(["Connection: Keep-Alive"]), true);
    assertEquals(v10(["Connection: foo , keep-alive "]), true);
    assertEquals(v10(["Connection: keep-alive, close"]), false);
    assertEquals(v10(["Connection: keep-alives"]), false);
  });
});

Deno.test("head: request-smuggling corpus", async (t) => {
  await t.step("framing headers that must be refused", () => {
    const cases: [string[], number][] = [
      [["Transfer-Encoding: chunked", "Content-Length: 3"], 400],
      [["Transfer-Encoding : chunked"], 400],
      [["Transfer-Encoding:\x0bchunked"], 400],
      [["Transfer-Encoding: \x0cchunked"], 400],
      [["Transfer-Encoding: chunked\x00"], 400],
      [["Transfer-Encoding: chunked", " , identity"], 400],
      [["Transfer-Encoding: chunked, identity"], 400],
      [["Transfer-Encoding: identity, chunked"], 501],
      [["Transfer-Encoding: xchunked"], 400],
      [["Transfer-Encoding: chunked-false"], 400],
      [['Transfer-Encoding: "chunked"'], 400],
      [["Transfer-Encoding: chunked;"], 400],
      [["Content-Length: 3", "Content-Length: 4"], 400],
      [["Content-Length: 3, 4"], 400],
      [["Content-Length : 3"], 400],
      [["Content-Length: 3 4"], 400],
      [["Content-Length: 0x3"], 400],
      [["Content-Length: +3"], 400],
      [["Content-Length: -3"], 400],
      [["Content-Length: 3\x00"], 400],
      [["Content-Length: 3\rX: y"], 400],
      [["Content-Length: 18446744073709551616"], 400],
      [["Content-Length: 3", " 4"], 400],
    ];
    for (const [lines, status] of cases) {
      assertEquals(refused(req(lines)), status, JSON.stringify(lines));
    }
  });
  await t.step("look-alike names are ordinary headers", () => {
    const h = head(req(["Transfer_Encoding: chunked", "Content_Length: 5"]));
    assertEquals([h.chunked, h.contentLength], [false, -1]);
    const h2 = head(req(["X-Transfer-Encoding: chunked"]));
    assertEquals(h2.chunked, false);
  });
  await t.step("tabs are whitespace around a value", () => {
    const h = head(req(["Transfer-Encoding:\tchunked\t"]));
    assertEquals(h.chunked, true);
  });
});

// ---------------------------------------------------------------------------
// Incremental parsing, pipelining, offsets

const SAMPLE = "\r\nPOST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\n" +
  "User-Agent: test\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
  "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\nabc";

Deno.test("head: incremental parsing", async (t) => {
  const bytes = b(SAMPLE);
  const headEnd = SAMPLE.length - 3;
  const full = parseRequestHead(bytes, 0, bytes.length, limits());
  if (full === null) throw new Error("SAMPLE is incomplete");
  assertEquals(full.end, headEnd);
  await t.step("parseRequestHead: null for every proper prefix", () => {
    for (let k = 0; k < headEnd; k++) {
      assertEquals(parseRequestHead(bytes, 0, k, limits()), null, `k=${k}`);
    }
    assertEquals(parseRequestHead(bytes, 0, headEnd, limits()), full);
  });
  await t.step("HeadParser: byte by byte gives the same head", () => {
    const p = new HeadParser();
    for (let k = 0; k < headEnd; k++) assertEquals(p.parse(bytes, 0, k), null);
    assertEquals(p.parse(bytes, 0, headEnd), full);
  });
  await t.step("HeadParser: every two-part split gives the same head", () => {
    for (let k = 0; k < headEnd; k++) {
      const p = new HeadParser();
      assertEquals(p.parse(bytes, 0, k), null);
      assertEquals(p.parse(bytes, 0, bytes.length), full, `k=${k}`);
    }
  });
  await t.step("HeadParser: the bytes may move between calls", () => {
    const p = new HeadParser();
    assertEquals(p.parse(bytes, 0, 40), null);
    const moved = new Uint8Array(bytes.length + 7);
    moved.set(bytes, 7);
    const h = p.parse(moved, 7, moved.length);
    assertEquals(h, { ...full, end: full.end + 7 });
  });
  await t.step("HeadParser: starts afresh after a head", () => {
    const p = new HeadParser();
    assertEquals(p.parse(bytes, 0, bytes.length), full);
    assertEquals(p.parse(bytes, 0, bytes.length), full);
  });
  await t.step("HeadParser: refuses bad bytes in a partial line early", () => {
    const p = new HeadParser();
    const bad = b("GET /abc HTTP/1.1\r\nHost: a\r\nX: abc\x00def");
    assertEquals(p.parse(bad, 0, 32), null);
    assertEquals(statusOf(() => p.parse(bad, 0, bad.length)), 400);
    const p2 = new HeadParser();
    const bad2 = b("GET /abc\x01def HTTP/1.1\r\n");
    assertEquals(p2.parse(bad2, 0, 6), null);
    assertEquals(statusOf(() => p2.parse(bad2, 0, bad2.length)), 400);
  });
  await t.step("HeadParser: limits hold byte by byte", () => {
    const p = new HeadParser(limits({ maxRequestLine: 20 }));
    const line = b("GET /" + "a".repeat(30));
    // 20 bytes may still be a request line: no error until the 21st.
    for (let k = 1; k <= 20; k++) assertEquals(p.parse(line, 0, k), null);
    assertEquals(statusOf(() => p.parse(line, 0, 21)), 414);
    const p2 = new HeadParser(limits({ maxHeaderBytes: 20 }));
    const hdr = b("GET / HTTP/1.1\r\nX: " + "v".repeat(30));
    for (let k = 1; k <= 16 + 19; k++) assertEquals(p2.parse(hdr, 0, k), null);
    assertEquals(statusOf(() => p2.parse(hdr, 0, 16 + 20)), 431);
  });
});

Deno.test("head: pipelined requests in one buffer", () => {
  const one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const two = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
  const three = "\r\nGET /3 HTTP/1.0\r\n\r\n";
  const bytes = b(one + two + three + "GET /4 HT");
  const targets: string[] = [];
  let pos = 0;
  for (;;) {
    const h = parseRequestHead(bytes, pos, bytes.length, limits());
    if (h === null) break;
    targets.push(h.target);
    pos = h.end + Math.max(0, h.contentLength);
  }
  assertEquals(targets, ["/1", "/2", "/3"]);
  assertEquals(str(bytes.subarray(pos)), "GET /4 HT");
});

Deno.test("head: only buf[start:end] is read", () => {
  const s = "GET / HTTP/1.0\r\n\r\n";
  const bytes = b("\x00\x00garbage" + s + "\x00\r\n\r\n");
  const start = 9;
  const h = parseRequestHead(bytes, start, start + s.length, limits());
  assertEquals(h?.end, start + s.length);
  assertEquals(h?.target, "/");
  // With the last byte cut off, the head is incomplete, whatever follows.
  assertEquals(
    parseRequestHead(bytes, start, start + s.length - 1, limits()),
    null,
  );
});

Deno.test("head: strings are right however often their bytes recur", async (t) => {
  await t.step("values that differ only in unsampled bytes", () => {
    // Same length, same first, middle, quarter and last bytes.
    for (let round = 0; round < 3; round++) {
      for (const v of ["aXcdefgh", "aYcdefgh", "aZcdefgh", "a\xe9cdefgh"]) {
        const h = head(req(["X-V: " + v], `GET /${v} HTTP/1.1`));
        assertEquals(h.headers[1], ["X-V", v]);
        assertEquals(h.target, "/" + v);
      }
    }
  });
  await t.step("secrets (Cookie, Authorization) read back right", () => {
    for (const high of ["", "\xe9"]) {
      const lines = [
        "Cookie: sid=" + high + "abc",
        "authorization: Basic dXNlcjpwYXNz" + high,
        "Proxy-Authorization:  Bearer x ",
        "COOKIE:",
        "Authorization: " + "t".repeat(300),
      ];
      const h = head(req(lines));
      assertEquals(h.headers.slice(1), [
        ["Cookie", "sid=" + high + "abc"],
        ["authorization", "Basic dXNlcjpwYXNz" + high],
        ["Proxy-Authorization", "Bearer x"],
        ["COOKIE", ""],
        ["Authorization", "t".repeat(300)],
      ]);
    }
  });
  await t.step("5000 random heads read back byte for byte", () => {
    const rnd = mulberry32(7);
    const alphabet = "ab\x80\xff -";
    for (let n = 0; n < 5000; n++) {
      const len = 1 + Math.floor(rnd() * 140);
      let v = "v";
      for (let k = 1; k < len; k++) {
        v += alphabet[Math.floor(rnd() * alphabet.length)];
      }
      v = v.replace(/[ ]+$/, "") + "z";
      const name = "N" + "n".repeat(Math.floor(rnd() * 20));
      const h = head(req([`${name}: ${v}`]));
      assertStrictEquals(h.headers[1][0], name);
      assertStrictEquals(h.headers[1][1], v);
    }
  });
});

// ---------------------------------------------------------------------------
// Chunked bodies

/** Feeds `parts` in order; returns total consumed. */
function feedAll(dec: Decoder, parts: Uint8Array[]): number {
  let used = 0;
  for (const p of parts) used += dec.feed(p, 0, p.length);
  return used;
}

function chunkedStatus(wire: string, maxBody = 1 << 20, maxTrailer = 8192) {
  const bytes = b(wire);
  return statusOf(() =>
    new Decoder(maxBody, maxTrailer).feed(bytes, 0, bytes.length)
  );
}

const CHUNKED = '5;name=value;q="a b"\r\nhello\r\n' +
  "1A\r\n" + "abcdefghijklmnopqrstuvwxyz\r\n" +
  "001 ; x\r\n!\r\n" +
  "0\r\nTrailer-A: 1\r\nTrailer-B:  two \r\n\r\n";
const CHUNKED_BODY = "hello" + "abcdefghijklmnopqrstuvwxyz" + "!";

Deno.test("chunked: decoding", async (t) => {
  await t.step("sizes, extensions, trailers", () => {
    const dec = new Decoder(1000);
    const bytes = b(CHUNKED + "NEXT REQUEST");
    assertEquals(dec.feed(bytes, 0, bytes.length), CHUNKED.length);
    assertEquals(dec.done, true);
    assertEquals(str(dec.body()), CHUNKED_BODY);
    assertEquals(dec.length, CHUNKED_BODY.length);
    assertEquals(dec.trailers, [["Trailer-A", "1"], ["Trailer-B", "two"]]);
    assertEquals(dec.feed(bytes, CHUNKED.length, bytes.length), 0);
  });
  await t.step("an empty body", () => {
    const dec = new Decoder(0);
    assertEquals(feedAll(dec, [b("0\r\n\r\n")]), 5);
    assertEquals([dec.done, dec.body().length], [true, 0]);
  });
  await t.step("upper and lower case hex, leading zeros", () => {
    const dec = new Decoder(1000);
    const body = "x".repeat(0xab);
    feedAll(dec, [
      b(`Ab\r\n${body}\r\n00000000000000aB\r\n${body}\r\n0\r\n\r\n`),
    ]);
    assertEquals(dec.length, 2 * 0xab);
  });
  await t.step("starts reading at start", () => {
    const bytes = b("junk3\r\nabc\r\n0\r\n\r\n");
    const dec = new Decoder(10);
    assertEquals(dec.feed(bytes, 4, bytes.length), bytes.length - 4);
    assertEquals(str(dec.body()), "abc");
  });
  await t.step("the data is copied: reusing the input buffer is safe", () => {
    const bytes = b("3\r\nabc\r\n");
    const dec = new Decoder(10);
    dec.feed(bytes, 0, bytes.length);
    bytes.fill(0x5a);
    assertEquals(str(dec.body()), "abc");
  });
});

Deno.test("chunked: every split point and byte by byte", async (t) => {
  const wire = b(CHUNKED + "GET");
  await t.step("two parts, every offset", () => {
    for (let k = 0; k <= wire.length; k++) {
      const dec = new Decoder(1000);
      const used = dec.feed(wire.subarray(0, k), 0, k) +
        dec.feed(wire.subarray(k), 0, wire.length - k);
      assertEquals(used, CHUNKED.length, `k=${k}`);
      assertEquals(str(dec.body()), CHUNKED_BODY, `k=${k}`);
      assertEquals(dec.trailers.length, 2);
    }
  });
  await t.step("three parts, every pair of offsets", () => {
    for (let j = 0; j <= wire.length; j++) {
      for (let k = j; k <= wire.length; k++) {
        const dec = new Decoder(1000);
        const used = feedAll(dec, [
          wire.slice(0, j),
          wire.slice(j, k),
          wire.slice(k),
        ]);
        assertEquals(used, CHUNKED.length);
        assertStrictEquals(str(dec.body()), CHUNKED_BODY);
      }
    }
  });
  await t.step("byte by byte", () => {
    const dec = new Decoder(1000);
    let used = 0;
    for (let k = 0; k < wire.length; k++) {
      const n = dec.feed(wire, k, k + 1);
      used += n;
      assertEquals(n, k < CHUNKED.length ? 1 : 0);
      assertEquals(dec.done, k >= CHUNKED.length - 1);
    }
    assertEquals(used, CHUNKED.length);
    assertEquals(str(dec.body()), CHUNKED_BODY);
  });
  await t.step("errors are found at every split point too", () => {
    const bad = b("3\r\nabc\r\n4\r\nabcdX\r\n0\r\n\r\n");
    for (let k = 0; k <= bad.length; k++) {
      const dec = new Decoder(1000);
      assertEquals(
        statusOf(() => feedAll(dec, [bad.slice(0, k), bad.slice(k)])),
        400,
      );
    }
  });
});

Deno.test("chunked: framing errors are 400", async (t) => {
  await t.step("chunk data must be followed by exactly CRLF", () => {
    for (
      const w of [
        "3\r\nabcX\r\n0\r\n\r\n",
        "3\r\nabc\n0\r\n\r\n",
        "3\r\nabc\r0\r\n\r\n",
        "3\r\nabcd\r\n0\r\n\r\n",
        "3\r\nabc \r\n0\r\n\r\n",
      ]
    ) {
      assertEquals(chunkedStatus(w), 400, JSON.stringify(w));
    }
  });
  await t.step("size lines must end in CRLF", () => {
    assertEquals(chunkedStatus("3\nabc\r\n0\r\n\r\n"), 400);
    assertEquals(chunkedStatus("3;x\nabc\r\n0\r\n\r\n"), 400);
    assertEquals(chunkedStatus("3\rabc\r\n0\r\n\r\n"), 400);
    assertEquals(chunkedStatus("3\r\nabc\r\n0\n\r\n"), 400);
    assertEquals(chunkedStatus("3\r\nabc\r\n0\r\n\n"), 400);
  });
  await t.step("malformed sizes", () => {
    for (
      const w of [
        "\r\n",
        ";x\r\n",
        " 3\r\n",
        "-3\r\n",
        "+3\r\n",
        "0x3\r\n",
        "3 \r\n",
        "3\t\r\n",
        "3 x\r\n",
        "g\r\n",
        "3g\r\n",
        "\xb3\r\n",
        "1 2\r\n",
      ]
    ) {
      assertEquals(chunkedStatus(w), 400, JSON.stringify(w));
    }
  });
  await t.step("at most 16 hex digits", () => {
    const dec = new Decoder(1000);
    feedAll(dec, [b("0".repeat(15) + "3\r\nabc\r\n0\r\n\r\n")]);
    assertEquals(str(dec.body()), "abc");
    assertEquals(chunkedStatus("0".repeat(16) + "3\r\nabc\r\n"), 400);
    assertEquals(
      chunkedStatus("fffffffffffffff\r\n", Number.MAX_SAFE_INTEGER),
      400,
    );
    assertEquals(chunkedStatus("20000000000000\r\n", Infinity), 400);
  });
  await t.step("extensions follow RFC 9112 section 7.1.1, or 400", () => {
    // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
    for (
      const ext of [
        ";a",
        ";a=b",
        ';a="b"',
        ';a=""',
        ';a="b;c d"',
        ';a="q\\"s\\\\"', // quoted-pairs: \" and \\
        ';a="caf\xe9"', // obs-text in a quoted-string
        ";a;b;c=d;e",
        ' ; a = b ; c = "d e"',
        "\t;\ta\t=\tb",
        ";!#$%&'*+-.^_`|~09azAZ=!#$%&'*+-.^_`|~09azAZ",
      ]
    ) {
      const dec = new Decoder(10);
      feedAll(dec, [b(`1${ext}\r\nx\r\n0${ext}\r\n\r\n`)]);
      assertEquals(
        [dec.done, str(dec.body())],
        [true, "x"],
        JSON.stringify(ext),
      );
    }
    for (
      const ext of [
        ";", // an empty extension
        ";;a",
        ";a;",
        ";=b",
        ";a=",
        ";a= ",
        ';a="b; c', // an unbalanced quote
        ';a="b',
        ";a ", // whitespace before the line end
        ";a=b ",
        " ",
        ";a=b c",
        ";a b",
        ';a="b"c',
        ';a=b"c"',
        ";a=b=c",
        ";a@b",
        ";a=b@",
        ";a=\xe9", // obs-text outside quotes
        ';a="\x01"',
        ';a="\x7f"',
        ';a="\\\x01"', // a quoted-pair of a CTL
        ";a,b",
        ",a",
      ]
    ) {
      assertEquals(
        chunkedStatus(`1${ext}\r\nx\r\n0\r\n\r\n`),
        400,
        JSON.stringify(ext),
      );
    }
  });
  await t.step("extensions: tolerated, bounded, no CTLs", () => {
    const dec = new Decoder(1000);
    const ext = ";" + "e".repeat(MAX_CHUNK_LINE - 2);
    assertEquals(("1" + ext).length, MAX_CHUNK_LINE);
    feedAll(dec, [b(`1${ext}\r\nx\r\n0${ext}\r\n\r\n`)]);
    assertEquals([dec.done, str(dec.body())], [true, "x"]);
    assertEquals(chunkedStatus(`1${ext}e\r\nx\r\n`), 400);
    assertEquals(chunkedStatus(`1 ${ext}\r\nx\r\n`), 400);
    assertEquals(chunkedStatus(`1 ${" ".repeat(MAX_CHUNK_LINE)};\r\n`), 400);
    assertEquals(chunkedStatus("1;a\x00\r\nx\r\n"), 400);
    assertEquals(chunkedStatus("1;a\x7f\r\nx\r\n"), 400);
    assertEquals(chunkedStatus("1;a\rb\r\nx\r\n"), 400);
    const ok = new Decoder(10);
    feedAll(ok, [b('1 \t; a = b ; c="d;e"\r\nx\r\n0\r\n\r\n')]);
    assertEquals(ok.done, true);
  });
  await t.step("no byte is read after an error", () => {
    const dec = new Decoder(10);
    const bytes = b("z\r\n");
    assertEquals(statusOf(() => dec.feed(bytes, 0, 3)), 400);
    assertEquals(dec.feed(b("0\r\n\r\n"), 0, 5), 0);
    assertEquals(dec.done, false);
  });
});

Deno.test("chunked: request-smuggling corpus", () => {
  for (
    const w of [
      "2;\nxx\r\n0\r\n\r\n", // LF in an extension
      "2\r\nxx\n0\r\n\r\n", // LF alone after the data
      "2\r\nxxx\r\n0\r\n\r\n", // more data than declared
      "2\r\nx\r\n0\r\n\r\n", // less data than declared
      "2\r\nxx\r\n0\n\n", // LF alone after the last chunk
      "2\r\nxx\r\n0\r\n\n", // LF alone ending the trailers
      "2\r\nxx\r\n0\r\n\r\r\n",
      "2 2\r\nxx\r\n0\r\n\r\n",
      "2\x00\r\nxx\r\n0\r\n\r\n",
      "-0\r\n\r\n",
      "0x2\r\nxx\r\n0\r\n\r\n",
      '1;a="\r\n"\r\nx\r\n0\r\n\r\n', // CRLF inside a quoted ext
    ]
  ) {
    // (A quoted extension cannot hide a CRLF: the line ends there, the
    // stray quote is data, and "x" is not a chunk size.)
    assertEquals(chunkedStatus(w), 400, JSON.stringify(w));
  }
});

Deno.test("chunked: maxBody (413)", async (t) => {
  await t.step("exactly maxBody is accepted", () => {
    const dec = new Decoder(10);
    feedAll(dec, [b("4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n")]);
    assertEquals(dec.length, 10);
  });
  await t.step("one past it is 413", () => {
    assertEquals(
      chunkedStatus("4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n", 10),
      413,
    );
    assertEquals(chunkedStatus("b\r\n", 10), 413);
  });
  await t.step("refused at the size line, before any data is buffered", () => {
    const dec = new Decoder(1 << 20);
    assertEquals(statusOf(() => feedAll(dec, [b("100001")])), 413);
    assertEquals(dec.length, 0);
    assertEquals(dec.body().length, 0);
    const dec2 = new Decoder(1 << 20);
    assertEquals(statusOf(() => feedAll(dec2, [b("ffffffffffff")])), 413);
  });
  await t.step("the buffer never grows past maxBody", () => {
    const dec = new Decoder(1500);
    const data = "y".repeat(1500);
    feedAll(dec, [b(`5dc\r\n${data}\r\n0\r\n\r\n`)]);
    assertEquals(dec.body().buffer.byteLength, 1500);
  });
});

Deno.test("chunked: trailers", async (t) => {
  await t.step("field rules apply", () => {
    for (
      const tr of [
        " X: a\r\n",
        "X : a\r\n",
        "X a\r\n",
        ": a\r\n",
        "X: a\x00\r\n",
        "X: a\rb\r\n",
        "X: a\n",
        "X: a\r\n\n",
      ]
    ) {
      assertEquals(
        chunkedStatus("0\r\n" + tr + "\r\n"),
        400,
        JSON.stringify(tr),
      );
    }
  });
  await t.step("maxTrailerBytes: exactly, then one past", () => {
    const tr = "X-Checksum: " + "c".repeat(20) + "\r\n"; // 34 bytes
    const dec = new Decoder(10, 34);
    feedAll(dec, [b("0\r\n" + tr + "\r\n")]);
    assertEquals(dec.trailers, [["X-Checksum", "c".repeat(20)]]);
    assertEquals(chunkedStatus("0\r\n" + tr + "\r\n", 10, 33), 431);
    // Before the line ends: 33 bytes so far means 34 at least.
    const early = new Decoder(10, 33);
    assertEquals(
      statusOf(() => feedAll(early, [b("0\r\n" + tr.slice(0, 33))])),
      431,
    );
    const fine = new Decoder(10, 34);
    feedAll(fine, [b("0\r\n" + tr + "\r")]);
    assertEquals(fine.done, false);
    feedAll(fine, [b("\n")]);
    assertEquals(fine.done, true);
  });
  await t.step("counted across lines", () => {
    const tr = "A: 1\r\nB: 2\r\n"; // 12 bytes
    const dec = new Decoder(10, 12);
    feedAll(dec, [b("0\r\n" + tr + "\r\n")]);
    assertEquals(dec.trailers.length, 2);
    assertEquals(chunkedStatus("0\r\n" + tr + "\r\n", 10, 11), 431);
  });
});

// ---------------------------------------------------------------------------
// Response helpers

Deno.test("helpers: chunk encoding", async (t) => {
  await t.step("chunkHeader and writeChunkHeader", () => {
    assertEquals(str(chunkHeader(0)), "0\r\n");
    assertEquals(str(chunkHeader(10)), "a\r\n");
    assertEquals(str(chunkHeader(0x1a2b)), "1a2b\r\n");
    assertEquals(
      str(chunkHeader(Number.MAX_SAFE_INTEGER)),
      "1fffffffffffff\r\n",
    );
    const out = new Uint8Array(20).fill(0x2e);
    assertEquals(writeChunkHeader(255, out, 3), 7);
    assertEquals(str(out.subarray(0, 8)), "...ff\r\n.");
    assertEquals(statusOrType(() => chunkHeader(-1)), "RangeError");
    assertEquals(statusOrType(() => chunkHeader(1.5)), "RangeError");
  });
  await t.step("encodeChunk round-trips through the decoder", () => {
    const dec = new Decoder(1 << 20);
    const pieces = [b("a"), new Uint8Array(300).fill(7), b("xyz")];
    for (const p of pieces) {
      const c = encodeChunk(p);
      assertEquals(dec.feed(c, 0, c.length), c.length);
    }
    assertEquals(dec.feed(LAST_CHUNK, 0, LAST_CHUNK.length), 5);
    assertEquals(dec.done, true);
    assertEquals(dec.length, 304);
    assertEquals(str(encodeChunk(b("hi"))), "2\r\nhi\r\n");
    assertEquals(
      statusOrType(() => encodeChunk(new Uint8Array(0))),
      "RangeError",
    );
  });
  await t.step("constants", () => {
    assertEquals(str(LAST_CHUNK), "0\r\n\r\n");
    assertEquals(str(CRLF), "\r\n");
    assertEquals(str(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
  });
});

function statusOrType(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.name : "thrown";
  }
  return "none";
}

Deno.test("helpers: errorResponse", async (t) => {
  await t.step("a complete, closing, plain-text response", () => {
    const r = new TextDecoder().decode(
      errorResponse(431, "too many header fields — sorry", "HTTP/1.0", [
        ["Server", "WSGIServer/0.2"],
      ]),
    );
    const [headPart, body] = r.split("\r\n\r\n");
    const lines = headPart.split("\r\n");
    assertEquals(lines[0], "HTTP/1.0 431 Request Header Fields Too Large");
    assert(lines.includes("Connection: close"));
    assert(lines.includes("Content-Type: text/plain; charset=utf-8"));
    assert(lines.includes("Server: WSGIServer/0.2"));
    assertEquals(body, "too many header fields — sorry\n");
    const cl = lines.find((l) => l.startsWith("Content-Length: "));
    assertEquals(
      Number(cl?.slice(16)),
      new TextEncoder().encode(body).length,
    );
  });
  await t.step("the response head parses back as HTTP", () => {
    const r = errorResponse(400, "bad", "HTTP/1.1");
    assertEquals(str(r.subarray(0, 25)), "HTTP/1.1 400 Bad Request\r");
  });
  await t.step("refuses header injection and bad versions", () => {
    assertEquals(
      statusOrType(() =>
        errorResponse(400, "x", "HTTP/1.1", [["A", "b\r\nC: d"]])
      ),
      "TypeError",
    );
    assertEquals(
      statusOrType(() => errorResponse(400, "x", "HTTP/1.1", [["A B", "c"]])),
      "TypeError",
    );
    assertEquals(
      statusOrType(() =>
        errorResponse(400, "x", "HTTP/1.1", [["A", "\u0100"]])
      ),
      "TypeError",
    );
    assertEquals(
      statusOrType(() => errorResponse(400, "x", "HTTP/1.1\r\nX: y")),
      "TypeError",
    );
  });
  await t.step("reason phrases are RFC 9110's", () => {
    assertEquals(STATUS_REASONS[400], "Bad Request");
    assertEquals(STATUS_REASONS[413], "Content Too Large");
    assertEquals(STATUS_REASONS[414], "URI Too Long");
    assertEquals(STATUS_REASONS[417], "Expectation Failed");
    assertEquals(STATUS_REASONS[431], "Request Header Fields Too Large");
    assertEquals(STATUS_REASONS[501], "Not Implemented");
    assertEquals(STATUS_REASONS[505], "HTTP Version Not Supported");
  });
});

// ---------------------------------------------------------------------------
// Fuzzing (fixed seed, bounded)

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [
  0x00,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x2c,
  0x3a,
  0x3b,
  0x7f,
  0x80,
  0xff,
];

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  let bytes = Array.from(src);
  const n = 1 + Math.floor(rnd() * 4);
  for (let m = 0; m < n; m++) {
    const at = Math.floor(rnd() * (bytes.length + 1));
    const r = rnd();
    const byte = rnd() < 0.5
      ? SPECIAL[Math.floor(rnd() * SPECIAL.length)]
      : Math.floor(rnd() * 256);
    if (r < 0.3) bytes[Math.min(at, bytes.length - 1)] = byte;
    else if (r < 0.5) bytes.splice(at, 0, byte);
    else if (r < 0.65) bytes.splice(at, 1 + Math.floor(rnd() * 3));
    else if (r < 0.75) bytes = bytes.slice(0, at);
    else {
      // Duplicate a line (a header, a chunk line) somewhere else.
      const s = bytes.lastIndexOf(0x0a, at - 1) + 1;
      let e = bytes.indexOf(0x0a, at);
      if (e < 0) e = bytes.length - 1;
      const line = bytes.slice(s, e + 1);
      const to = Math.floor(rnd() * (bytes.length + 1));
      bytes.splice(to, 0, ...line);
    }
  }
  return Uint8Array.from(bytes);
}

type Outcome = { status: number } | { head: RequestHead } | null;

function outcome(fn: () => RequestHead | null): Outcome {
  try {
    const h = fn();
    return h === null ? null : { head: h };
  } catch (e) {
    if (e instanceof HTTPError) {
      assert(
        [400, 414, 417, 431, 501, 505].includes(e.status),
        `unexpected status ${e.status}`,
      );
      return { status: e.status };
    }
    throw e;
  }
}

/** Whether every code unit of `s` is allowed by `ok`. */
function every(s: string, ok: (c: number) => boolean): boolean {
  for (let i = 0; i < s.length; i++) if (!ok(s.charCodeAt(i))) return false;
  return true;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkHead(h: RequestHead, len: number): void {
  assert(h.end > 0 && h.end <= len);
  assert(TOKEN.test(h.method));
  assert(h.target.length > 0);
  assert(every(h.target, (c) => c > 0x20 && c !== 0x7f && c <= 0xff));
  for (const [name, value] of h.headers) {
    assert(TOKEN.test(name), name);
    assert(
      every(value, (c) => (c >= 0x20 || c === 0x09) && c !== 0x7f && c <= 0xff),
      JSON.stringify(value),
    );
    assert(!/^[ \t]|[ \t]$/.test(value));
  }
  if (h.chunked) assertEquals(h.contentLength, -1);
}

Deno.test("fuzz: head parser outcomes (20k mutated inputs)", () => {
  const rnd = mulberry32(0x5eed);
  const seeds = [
    SAMPLE,
    req(["Transfer-Encoding: chunked", "Expect: 100-continue"]),
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5, 5\r\n\r\n",
    req(["Content-Length: 10", "Connection: close", "X: \xe9\t v"]),
  ].map(b);
  const lim = limits({
    maxRequestLine: 48,
    maxHeaderBytes: 160,
    maxHeaders: 8,
  });
  const counts = { null: 0, head: 0, error: 0 };
  for (let n = 0; n < 20000; n++) {
    const input = mutate(seeds[n % seeds.length], rnd);
    const lims = n % 2 === 0 ? lim : DEFAULT_HEAD_LIMITS;
    const one = outcome(() => parseRequestHead(input, 0, input.length, lims));
    if (one === null) counts.null++;
    else if ("head" in one) {
      counts.head++;
      checkHead(one.head, input.length);
    } else counts.error++;
    // The same bytes in random pieces through a HeadParser with a string
    // table: same outcome.
    const p = new HeadParser(lims, STRINGS);
    let inc: Outcome = null;
    let k = 0;
    while (k < input.length) {
      k = Math.min(input.length, k + 1 + Math.floor(rnd() * 24));
      inc = outcome(() => p.parse(input, 0, k));
      if (inc !== null) break;
    }
    if (one !== null && "head" in one) {
      assertEquals(inc, one, `input ${JSON.stringify(str(input))}`);
    } else if (one !== null) {
      // A HeadParser checks only CTLs and limits in a line it has seen
      // part of, until the line ends: it may still wait, never accept.
      assert(inc === null || "status" in inc, JSON.stringify(str(input)));
      // Its limit checks may also fire before the error one-shot found.
      if (inc !== null && "status" in inc && inc.status !== one.status) {
        assert([414, 431].includes(inc.status), JSON.stringify(str(input)));
      }
    } else assertEquals(inc, null);
  }
  // The corpus must exercise all three outcomes.
  assert(
    counts.null > 1000 && counts.head > 1000 && counts.error > 5000,
    JSON.stringify(counts),
  );
});

Deno.test("fuzz: chunked decoder outcomes (10k mutated inputs)", () => {
  const rnd = mulberry32(0xc0ffee);
  const seeds = [
    CHUNKED + "GET",
    "1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
    "3;x=y\r\nabc\r\n0\r\nA: b\r\n\r\n",
  ].map(b);
  const counts = { partial: 0, done: 0, error: 0 };
  for (let n = 0; n < 10000; n++) {
    const input = mutate(seeds[n % seeds.length], rnd);
    const run = (pieces: number): string => {
      const dec = new Decoder(64, 64);
      let used = 0;
      try {
        let k = 0;
        while (k < input.length) {
          const next = pieces === 1
            ? input.length
            : Math.min(input.length, k + 1 + Math.floor(rnd() * 8));
          used += dec.feed(input.slice(k, next), 0, next - k);
          k = next;
        }
      } catch (e) {
        if (e instanceof HTTPError) {
          assert([400, 413, 431].includes(e.status), String(e.status));
          return `error ${e.status}`;
        }
        throw e;
      }
      assert(used <= input.length);
      assert(dec.length <= 64 && dec.body().length === dec.length);
      return `${dec.done} ${used} ${str(dec.body())} ${
        JSON.stringify(dec.trailers)
      }`;
    };
    const whole = run(1);
    assertEquals(run(2), whole, JSON.stringify(str(input)));
    if (whole.startsWith("error")) counts.error++;
    else if (whole.startsWith("true")) counts.done++;
    else counts.partial++;
  }
  assert(
    counts.partial > 500 && counts.done > 500 && counts.error > 2000,
    JSON.stringify(counts),
  );
});
