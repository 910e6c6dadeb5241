// Issue 5 at the server level, over real TCP on 127.0.0.1: every malformed
// or ambiguous request is refused with its exact status, the connection is
// then closed, and the server answers a good request afterwards; the limits
// and timeouts hold; what the app gets wrong never reaches the wire.
import {
  assert,
  assertEquals,
  assertFalse,
  assertStringIncludes,
} from "@std/assert";
import type { ServerOptions, WSGIServer } from "../simple_server.ts";
import type { StringIO } from "../util.ts";
import type {
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";
import {
  concat,
  latin1,
  native,
  parseAll,
  RawClient,
  ReadTimeout,
  sleep,
  withServer as serveWhile,
} from "./_tcp.ts";

const enc = new TextEncoder();

/** Answers `PATH_INFO` and the request body, and remembers every path. */
function recordingApp(paths: string[]): WSGIApplication {
  return (environ: WSGIEnvironment, startResponse: StartResponse) => {
    paths.push(environ.PATH_INFO!);
    const body = environ["wsgi.input"]!.read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [concat(latin1(`${environ.PATH_INFO} `), body)];
  };
}

/** Runs `fn` with a server for `app` (log kept in memory); shuts it down after. */
async function withServer(
  app: WSGIApplication,
  fn: (server: WSGIServer, log: StringIO) => Promise<void>,
  options: ServerOptions = {},
): Promise<void> {
  const log = await serveWhile(app, fn, options);
  // No error other than a client's escaped the connection handlers.
  assertFalse(
    log.getValue().includes("error on the connection"),
    log.getValue(),
  );
}

/**
 * Sends `request` on a new connection; asserts one response with `status`
 * (one of them, if several are allowed) and `Connection: close`, then that
 * the server closes the connection with nothing more.
 */
async function expectRefused(
  port: number,
  request: string | Uint8Array,
  status: number | number[],
): Promise<void> {
  using c = await RawClient.open(port);
  // The whole request goes out even when the server refuses it early: it
  // drains what it refused rather than resetting the connection.
  assert(await c.trySend(request), "the server reset the connection");
  const r = await c.response();
  const allowed = typeof status === "number" ? [status] : status;
  assert(
    allowed.includes(r.status),
    `expected ${allowed.join(" or ")}, got ${r.statusLine} for ${
      JSON.stringify(
        typeof request === "string"
          ? request.slice(0, 200)
          : native(request.subarray(0, 200)),
      )
    }`,
  );
  assertEquals(r.headers.get("connection"), "close");
  await c.expectClosed();
}

/** Asserts that a good request on a new connection gets its 200. */
async function expectServes(port: number, path = "/ok"): Promise<void> {
  using c = await RawClient.open(port);
  await c.send(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  const r = await c.response();
  assertEquals(r.status, 200);
  assertEquals(native(r.body), `${path} `);
  await c.expectClosed();
}

/** A steps table: name, raw request, status(es). */
type Cases = [string, string | Uint8Array, number | number[]][];

/** One step per case: refused, closed, and the server still serves. */
async function refuseAll(
  t: Deno.TestContext,
  cases: Cases,
  options: ServerOptions = {},
): Promise<void> {
  const paths: string[] = [];
  await withServer(recordingApp(paths), async (server) => {
    for (const [name, request, status] of cases) {
      await t.step(name, async () => {
        await expectRefused(server.port, request, status);
        await expectServes(server.port);
      });
    }
  }, options);
  // The app saw only the good requests.
  assertEquals(paths, cases.map(() => "/ok"));
}

const POST = "POST / HTTP/1.1\r\nHost: x\r\n";
const CHUNKED = POST + "Transfer-Encoding: chunked\r\n\r\n";

Deno.test("framing: Transfer-Encoding with Content-Length is refused", async (t) => {
  await refuseAll(t, [
    [
      "TE then CL",
      CHUNKED.replace("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n") +
      "5\r\nhello\r\n0\r\n\r\n",
      400,
    ],
    [
      "CL then TE",
      POST +
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      400,
    ],
    [
      "CL: 0 and TE",
      POST + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
  ]);

  await t.step("a request smuggled behind CL+TE is never served", async () => {
    const paths: string[] = [];
    await withServer(recordingApp(paths), async (server) => {
      using c = await RawClient.open(server.port);
      await c.trySend(
        POST + "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      const all = parseAll(await c.readToEnd());
      assertEquals(all.map((r) => r.status), [400]);
      await expectServes(server.port);
    });
    assertEquals(paths, ["/ok"]);
  });
});

Deno.test("framing: Content-Length must be 1*DIGIT, one value", async (t) => {
  const cl = (v: string) => POST + `Content-Length: ${v}\r\n\r\nhello`;
  await refuseAll(t, [
    ["+5", cl("+5"), 400],
    ["0x5", cl("0x5"), 400],
    ["-1", cl("-1"), 400],
    ["' 5 5' (inner space)", cl(" 5 5"), 400],
    ["5a", cl("5a"), 400],
    ["5.0", cl("5.0"), 400],
    ["1e1", cl("1e1"), 400],
    ["empty", cl(""), 400],
    ["comma-listed different values", cl("5, 6"), 400],
    ["comma-listed with an empty member", cl("5,,5"), 400],
    ["trailing comma", cl("5,"), 400],
    [
      "repeated with different values",
      POST + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      400,
    ],
    ["past 2^53", cl("99999999999999999999"), 400],
    [
      "in HTTP/1.0 too",
      "POST / HTTP/1.0\r\nContent-Length: +5\r\n\r\nhello",
      400,
    ],
  ]);

  await t.step("the same value repeated is one length", async () => {
    const paths: string[] = [];
    await withServer(recordingApp(paths), async (server) => {
      for (
        const head of [
          "Content-Length: 5, 5\r\n",
          "Content-Length: 5\r\nContent-Length: 5\r\n",
        ]
      ) {
        using c = await RawClient.open(server.port);
        await c.send(POST + head + "Connection: close\r\n\r\nhello");
        const r = await c.response();
        assertEquals(r.status, 200);
        assertEquals(native(r.body), "/ hello");
        await c.expectClosed();
      }
    });
  });
});

Deno.test("framing: Transfer-Encoding other than a final chunked", async (t) => {
  const te = (v: string) =>
    POST + `Transfer-Encoding: ${v}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
  await refuseAll(t, [
    ["xchunked", te("xchunked"), [400, 501]],
    ["chunked, identity", te("chunked, identity"), [400, 501]],
    ["chunked, chunked", te("chunked, chunked"), [400, 501]],
    ["gzip", te("gzip"), [400, 501]],
    ["gzip, chunked", te("gzip, chunked"), 501],
    ["identity", te("identity"), [400, 501]],
    ["chunked;x=1", te("chunked;x=1"), 400],
    ["empty", te(""), 400],
    [
      "chunked twice (two fields)",
      POST +
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "chunked then gzip (two fields)",
      POST +
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
      [400, 501],
    ],
    ["chunked with a vertical tab", te("chunked\x0b"), 400],
    [
      "on an HTTP/1.0 request",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      400,
    ],
  ]);

  await t.step("chunked in any letter case is chunked", async () => {
    const paths: string[] = [];
    await withServer(recordingApp(paths), async (server) => {
      using c = await RawClient.open(server.port);
      await c.send(
        te("ChUnKeD").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
      );
      const r = await c.response();
      assertEquals(native(r.body), "/ hello");
    });
  });
});

Deno.test("syntax: whitespace, folding and control characters in fields", async (t) => {
  const GET = "GET / HTTP/1.1\r\nHost: x\r\n";
  await refuseAll(t, [
    ["space before the colon", GET + "X-A : b\r\n\r\n", 400],
    ["tab before the colon", GET + "X-A\t: b\r\n\r\n", 400],
    [
      "space before the colon of Host",
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
      400,
    ],
    [
      "space before the colon of Content-Length",
      POST + "Content-Length : 5\r\n\r\nhello",
      400,
    ],
    ["obs-fold (space)", GET + "X-A: b\r\n c\r\n\r\n", 400],
    ["obs-fold (tab)", GET + "X-A: b\r\n\tc\r\n\r\n", 400],
    ["first field line folded", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400],
    ["bare CR in a value", GET + "X-A: b\rc\r\n\r\n", 400],
    ["bare CR in a name", GET + "X\rA: b\r\n\r\n", 400],
    ["bare CR ending the head", GET + "\r\r\n", 400],
    ["NUL in a value", GET + "X-A: b\x00c\r\n\r\n", 400],
    ["NUL in a name", GET + "X\x00A: b\r\n\r\n", 400],
    ["0x01 in a value", GET + "X-A: b\x01c\r\n\r\n", 400],
    ["0x1F in a value", GET + "X-A: \x1f\r\n\r\n", 400],
    ["DEL in a value", GET + "X-A: b\x7fc\r\n\r\n", 400],
    ["VT in a name", GET + "X\x0bA: b\r\n\r\n", 400],
    ["non-token name", GET + "X(A): b\r\n\r\n", 400],
    ["empty name", GET + ": b\r\n\r\n", 400],
    ["no colon", GET + "X-A b\r\n\r\n", 400],
    ["NUL in the target", "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["bare CR in the request line", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400],
  ]);
});

Deno.test("chunked bodies: hex sizes, bounded, CRLF after data, bounded trailers", async (t) => {
  await refuseAll(t, [
    ["non-hex size", CHUNKED + "zz\r\nhello\r\n0\r\n\r\n", 400],
    ["0x prefix", CHUNKED + "0x5\r\nhello\r\n0\r\n\r\n", 400],
    ["+ sign", CHUNKED + "+5\r\nhello\r\n0\r\n\r\n", 400],
    ["- sign", CHUNKED + "-5\r\nhello\r\n0\r\n\r\n", 400],
    ["leading space", CHUNKED + " 5\r\nhello\r\n0\r\n\r\n", 400],
    ["space inside", CHUNKED + "5 5\r\nhello\r\n0\r\n\r\n", 400],
    ["empty size", CHUNKED + "\r\nhello\r\n0\r\n\r\n", 400],
    [
      "too many digits",
      CHUNKED + "0".repeat(40) + "5\r\nhello\r\n0\r\n\r\n",
      400,
    ],
    ["overflowing size", CHUNKED + "f".repeat(40) + "\r\n", [400, 413]],
    ["size line ended by a bare LF", CHUNKED + "5\nhello\r\n0\r\n\r\n", 400],
    ["size line ended by a bare CR", CHUNKED + "5\rhello\r\n0\r\n\r\n", 400],
    ["data not followed by CRLF", CHUNKED + "5\r\nhelloXX0\r\n\r\n", 400],
    ["data followed by a bare LF", CHUNKED + "5\r\nhello\n0\r\n\r\n", 400],
    ["data longer than its size", CHUNKED + "3\r\nhello\r\n0\r\n\r\n", 400],
    ["NUL in an extension", CHUNKED + "5;a=\x00\r\nhello\r\n0\r\n\r\n", 400],
    ["malformed trailer", CHUNKED + "5\r\nhello\r\n0\r\nNo colon\r\n\r\n", 400],
    [
      "trailer with whitespace before the colon",
      CHUNKED + "0\r\nX-T : v\r\n\r\n",
      400,
    ],
    ["folded trailer", CHUNKED + "0\r\nX-T: v\r\n w\r\n\r\n", 400],
    ["trailer ended by a bare LF", CHUNKED + "0\r\nX-T: v\n\r\n", 400],
    [
      "trailer section too large",
      CHUNKED + "0\r\n" + "X-T: v\r\n".repeat(2000) + "\r\n",
      [400, 431],
    ],
  ], { maxHeaderBytes: 8192 });

  await t.step(
    "extensions and trailers are read, and the body is intact",
    async () => {
      const paths: string[] = [];
      await withServer(recordingApp(paths), async (server) => {
        using c = await RawClient.open(server.port);
        await c.send(
          CHUNKED +
            '5;name=value;x="q s"\r\nhello\r\n1\r\n!\r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n' +
            "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        const all = parseAll(await c.readToEnd());
        assertEquals(all.map((r) => native(r.body)), ["/ hello!", "/next "]);
      });
    },
  );
});

Deno.test("request line: Host, method token, version", async (t) => {
  await refuseAll(t, [
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400],
    ["( in the method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["NUL in the method", "GE\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    [
      "control byte before the method",
      "\x01GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      400,
    ],
    ["empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["no version (HTTP/0.9)", "GET /\r\n\r\n", 400],
    ["lowercase http", "GET / http/1.1\r\nHost: x\r\n\r\n", 400],
    ["HTTP/1.10", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400],
    ["HTTP/1", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
    ["HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505],
    ["HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505],
    ["HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505],
  ]);

  await t.step(
    "HTTP/1.0 needs no Host; HTTP/1.2 is served as 1.1",
    async () => {
      const paths: string[] = [];
      await withServer(recordingApp(paths), async (server) => {
        for (
          const [req, line] of [
            ["GET /a HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"],
            [
              "GET /b HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
              "HTTP/1.1 200 OK",
            ],
          ]
        ) {
          using c = await RawClient.open(server.port);
          await c.send(req);
          assertEquals((await c.response()).statusLine, line);
          await c.expectClosed();
        }
      });
      assertEquals(paths, ["/a", "/b"]);
    },
  );
});

Deno.test("limits: request line 414, header section and field count 431", async (t) => {
  const line = (n: number) => {
    // "GET " + target + " HTTP/1.1" is n bytes long.
    const target = "/" + "a".repeat(n - 4 - 9 - 1);
    return `GET ${target} HTTP/1.1`;
  };
  const paths: string[] = [];
  await withServer(recordingApp(paths), async (server) => {
    const { port } = server;
    await t.step("a request line of 65,536 bytes is served", async () => {
      using c = await RawClient.open(port);
      await c.send(line(65536) + "\r\nHost: x\r\nConnection: close\r\n\r\n");
      assertEquals((await c.response()).status, 200);
    });
    await t.step("65,537 bytes: 414", async () => {
      await expectRefused(port, line(65537) + "\r\nHost: x\r\n\r\n", 414);
      await expectServes(port);
    });
    await t.step(
      "1 MiB of request line, no line end: 414 without reading it all",
      async () => {
        await expectRefused(port, line(1 << 20), 414);
        await expectServes(port);
      },
    );
    await t.step("a header section of 65,536 bytes is served", async () => {
      // Host: x\r\n (9) + Connection: close\r\n (19) + X-Big: v\r\n.
      const big = "X-Big: " + "v".repeat(65536 - 9 - 19 - 9) + "\r\n";
      using c = await RawClient.open(port);
      await c.send(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + big + "\r\n",
      );
      assertEquals((await c.response()).status, 200);
    });
    await t.step("one byte more: 431", async () => {
      const big = "X-Big: " + "v".repeat(65536 - 9 - 19 - 9 + 1) + "\r\n";
      await expectRefused(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + big + "\r\n",
        431,
      );
      await expectServes(port);
    });
    await t.step("many fields adding up past 64 KiB: 431", async () => {
      const f = "X-F: " + "v".repeat(1400) + "\r\n";
      await expectRefused(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\n" + f.repeat(60) + "\r\n",
        431,
      );
      await expectServes(port);
    });
    await t.step("1 MiB of one field, no line end: 431", async () => {
      await expectRefused(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + "v".repeat(1 << 20),
        431,
      );
      await expectServes(port);
    });
    await t.step("100 fields are served, 101 are 431", async () => {
      const fields = (n: number) =>
        "Host: x\r\nConnection: close\r\n" +
        Array.from({ length: n - 2 }, (_, i) => `X-${i}: v\r\n`).join("");
      using c = await RawClient.open(port);
      await c.send("GET / HTTP/1.1\r\n" + fields(100) + "\r\n");
      assertEquals((await c.response()).status, 200);
      await expectRefused(
        port,
        "GET / HTTP/1.1\r\n" + fields(101) + "\r\n",
        431,
      );
      await expectServes(port);
    });
  });
});

Deno.test("limits: maxRequestBody", async (t) => {
  const paths: string[] = [];
  const max = 1000;
  await withServer(recordingApp(paths), async (server) => {
    const { port } = server;
    await t.step("Content-Length at the limit is served", async () => {
      using c = await RawClient.open(port);
      await c.send(
        POST.replace("/", "/fits") +
          `Content-Length: ${max}\r\nConnection: close\r\n\r\n` +
          "b".repeat(max),
      );
      assertEquals((await c.response()).status, 200);
    });
    await t.step(
      "Content-Length over it: 413 on the head alone, then closed",
      async () => {
        // headerTimeout is 30 s: a server that waited for the body would
        // time the read out first.
        using c = await RawClient.open(port);
        await c.send(POST + `Content-Length: ${max + 1}\r\n\r\n`);
        const r = await c.response(3000);
        assertEquals(r.status, 413);
        assertEquals(r.headers.get("connection"), "close");
        await c.expectClosed(3000);
        await expectServes(port);
      },
    );
    await t.step(
      "a client still sending its 8 MiB body reads the whole 413",
      async () => {
        using c = await RawClient.open(port);
        const sending = c.trySend(
          concat(
            latin1(POST + `Content-Length: ${8 << 20}\r\n\r\n`),
            new Uint8Array(8 << 20),
          ),
        );
        const r = await c.response(3000);
        assertEquals(r.status, 413);
        assertStringIncludes(native(r.body), "over the limit");
        c.close();
        await sending;
        await expectServes(port);
      },
    );
    await t.step(
      "a client that writes its 8 MiB body before reading still gets the 413",
      async () => {
        using c = await RawClient.open(port);
        const sent = await c.trySend(
          concat(
            latin1(POST + `Content-Length: ${8 << 20}\r\n\r\n`),
            new Uint8Array(8 << 20),
          ),
        );
        // A client that writes all before it reads (as many do) must not be
        // reset mid-write: the server drains what it refused, within a bound.
        assert(sent, "the server reset the connection during the upload");
        const r = await c.response(3000);
        assertEquals(r.status, 413);
        await c.expectClosed(3000);
        await expectServes(port);
      },
    );
    await t.step(
      "the drain after a refusal is bounded: a client that never stops is cut off",
      async () => {
        using c = await RawClient.open(port);
        const answer = c.response(10_000);
        answer.catch(() => {});
        await c.send(POST + `Content-Length: ${1 << 30}\r\n\r\n`);
        const block = new Uint8Array(1 << 20);
        let sent = 0;
        while (sent < 256 && await c.trySend(block)) sent++;
        // The server reads at most 16 MiB (or for 2 s) after its answer.
        assert(sent < 256, "the server read 256 MiB of a refused body");
        assertEquals((await answer).status, 413);
        await expectServes(port);
      },
    );
    await t.step(
      "a chunk size past the limit: 413 before its data",
      async () => {
        using c = await RawClient.open(port);
        await c.send(CHUNKED + (max + 1).toString(16) + "\r\n");
        const r = await c.response(3000);
        assertEquals(r.status, 413);
        await c.expectClosed(3000);
        await expectServes(port);
      },
    );
    await t.step(
      "chunks adding up past the limit: 413 as soon as it is passed",
      async () => {
        using c = await RawClient.open(port);
        const chunk = "64\r\n" + "c".repeat(100) + "\r\n"; // 100 bytes
        await c.send(CHUNKED + chunk.repeat(10) + "64\r\n"); // 1000, then 100 more announced
        const r = await c.response(3000);
        assertEquals(r.status, 413);
        await c.expectClosed(3000);
        await expectServes(port);
      },
    );
    await t.step("a chunked body still streaming gets its 413", async () => {
      using c = await RawClient.open(port);
      const chunk = "400\r\n" + "c".repeat(1024) + "\r\n";
      const sending = c.trySend(CHUNKED + chunk.repeat(8192));
      const r = await c.response(3000);
      assertEquals(r.status, 413);
      c.close();
      await sending;
      await expectServes(port);
    });
    await t.step("a chunked body of exactly the limit is served", async () => {
      using c = await RawClient.open(port);
      await c.send(
        CHUNKED.replace("/", "/fits")
          .replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") +
          max.toString(16) + "\r\n" + "d".repeat(max) + "\r\n0\r\n\r\n",
      );
      const r = await c.response(3000);
      assertEquals(r.status, 200);
      assertEquals(r.body.length, "/fits ".length + max);
    });
  }, { maxRequestBody: max });
  // The app saw only the bodies within the limit.
  assertEquals(paths.filter((p) => p !== "/ok"), ["/fits", "/fits"]);
});

/**
 * Sends `bytes` one byte every `everyMs` until the server closes the
 * connection; returns how many bytes it took and what the server sent.
 */
async function trickle(
  c: RawClient,
  bytes: string,
  everyMs: number,
): Promise<{ sent: number; got: Uint8Array }> {
  let done = false;
  const reading = c.readToEnd(everyMs * bytes.length + 5000).finally(() => {
    done = true;
  });
  let sent = 0;
  while (!done && sent < bytes.length) {
    if (!(await c.trySend(bytes[sent]))) break;
    sent++;
    await sleep(everyMs);
  }
  return { sent, got: await reading };
}

Deno.test("timeouts: slowloris, idle keep-alive, silent clients", async (t) => {
  await t.step(
    "a head trickled a byte per 100 ms is dropped after headerTimeout (300 ms)",
    async () => {
      const paths: string[] = [];
      await withServer(recordingApp(paths), async (server, log) => {
        using c = await RawClient.open(server.port);
        // 200 bytes take 20 s: far past the 300 ms allowed for the head,
        // though every byte comes well within 300 ms of the one before.
        const head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " +
          "s".repeat(164) + "\r\n\r\n";
        const { sent, got } = await trickle(c, head, 100);
        assert(sent < head.length, "the whole head went through");
        assertEquals(got.length, 0, native(got));
        assertStringIncludes(log.getValue(), "Request timed out");
        await expectServes(server.port);
      }, { headerTimeout: 300, keepAliveTimeout: 5000 });
      assertEquals(paths, ["/ok"]);
    },
  );

  await t.step(
    "a second request head trickled on a kept-alive connection is dropped too",
    async () => {
      await withServer(recordingApp([]), async (server) => {
        using c = await RawClient.open(server.port);
        await c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals((await c.response()).status, 200);
        const head = "GET /second HTTP/1.1\r\nHost: x\r\n" +
          "X: y\r\n".repeat(28) + "\r\n"; // 200 bytes: 20 s
        const { sent, got } = await trickle(c, head, 100);
        assert(sent < head.length, "the whole head went through");
        assertEquals(got.length, 0, native(got));
        await expectServes(server.port);
      }, { headerTimeout: 300, keepAliveTimeout: 5000 });
    },
  );

  for (
    const [kind, head, body] of [
      ["Content-Length", POST + "Content-Length: 200\r\n\r\n", "b".repeat(200)],
      ["chunked", CHUNKED, "1\r\nb\r\n".repeat(40) + "0\r\n\r\n"],
    ]
  ) {
    await t.step(
      `a ${kind} body trickled a byte per 100 ms is dropped after bodyTimeout (500 ms)`,
      async () => {
        const paths: string[] = [];
        await withServer(recordingApp(paths), async (server, log) => {
          using c = await RawClient.open(server.port);
          await c.send(head);
          // Each byte well within headerTimeout of the last; the whole
          // body would take 20 s.
          const { sent, got } = await trickle(c, body, 100);
          assert(sent < body.length, "the whole body went through");
          assertEquals(got.length, 0, native(got));
          assertStringIncludes(log.getValue(), "Request timed out");
          await expectServes(server.port);
        }, { headerTimeout: 300, bodyTimeout: 500 });
        assertEquals(paths, ["/ok"]);
      },
    );
  }

  await t.step(
    "a client that connects and sends nothing is dropped",
    async () => {
      await withServer(recordingApp([]), async (server) => {
        using c = await RawClient.open(server.port);
        await c.expectClosed(5000);
      }, { headerTimeout: 300, keepAliveTimeout: 300 });
    },
  );

  await t.step(
    "an idle keep-alive connection is closed after keepAliveTimeout",
    async () => {
      await withServer(recordingApp([]), async (server) => {
        using c = await RawClient.open(server.port);
        await c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals((await c.response()).status, 200);
        await c.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals(native((await c.response()).body), "/b ");
        await c.expectClosed(5000);
      }, { keepAliveTimeout: 300 });
    },
  );
});

Deno.test("sendTimeout: a client that reads nothing is dropped; a slow reader is not", async (t) => {
  const big: WSGIApplication = (environ, startResponse) => {
    const size = Number(environ.QUERY_STRING);
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [new Uint8Array(size).fill(0x61)];
  };

  await t.step(
    "32 MiB to a client that never reads: dropped, shutdown() not held up",
    async () => {
      await withServer(big, async (server, log) => {
        using c = await RawClient.open(server.port);
        await c.send(`GET /?${32 << 20} HTTP/1.1\r\nHost: x\r\n\r\n`);
        try {
          for (let i = 0; !log.getValue().includes("send timed out"); i++) {
            if (i === 200) throw new Error("not dropped within 10 s");
            await sleep(50);
          }
        } catch (e) {
          server.close(); // else shutdown() would wait on the stuck write
          throw e;
        }
        const got = await c.readToEnd(5000); // what the kernel held, then the end
        assert(got.length < 32 << 20, `${got.length} bytes`);
      }, { sendTimeout: 300 });
    },
  );

  await t.step(
    "16 MiB read 64 KiB at a time, 10 ms apart: served whole",
    async () => {
      await withServer(big, async (server) => {
        using c = await RawClient.open(server.port);
        await c.send(
          `GET /?${16 << 20} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        let total = 0;
        for (;;) {
          const got = await c.readChunk(5000);
          if (got === null) break;
          total += got.length;
          await sleep(10);
        }
        assertEquals(c.ended, "eof");
        assert(total > 16 << 20, `${total} bytes`);
      }, { sendTimeout: 1000 });
    },
  );
});

Deno.test("maxConnections: past the bound, new connections wait their turn", async (t) => {
  await t.step(
    "a third connection is served once one of two leaves",
    async () => {
      const paths: string[] = [];
      await withServer(recordingApp(paths), async (server) => {
        using a = await RawClient.open(server.port);
        using b = await RawClient.open(server.port);
        for (const c of [a, b]) {
          await c.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
          assertEquals((await c.response()).status, 200);
        }
        using c = await RawClient.open(server.port); // accepted by the kernel
        await c.send(
          "GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        const answer = c.response(10_000);
        let answered = false;
        answer.then(() => answered = true, () => {});
        await sleep(300);
        assertFalse(answered, "served past maxConnections");
        a.close();
        const r = await answer;
        assertEquals(native(r.body), "/third ");
      }, { maxConnections: 2, keepAliveTimeout: 30_000 });
      assertEquals(paths, ["/held", "/held", "/third"]);
    },
  );

  await t.step(
    "64 clients at once through 4 slots: all served, the server goes on",
    async () => {
      const paths: string[] = [];
      await withServer(recordingApp(paths), async (server) => {
        const one = async (i: number) => {
          using c = await RawClient.open(server.port);
          await c.send(
            `GET /${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          );
          const r = await c.response(20_000);
          assertEquals(native(r.body), `/${i} `);
          await c.expectClosed();
        };
        await Promise.all(Array.from({ length: 64 }, (_, i) => one(i)));
        await expectServes(server.port);
      }, { maxConnections: 4 });
      assertEquals(paths.length, 65);
    },
  );

  await t.step(
    "slow clients holding every slot are dropped, and the next is served",
    async () => {
      await withServer(recordingApp([]), async (server) => {
        const slow = await Promise.all([0, 1].map(async () => {
          const c = await RawClient.open(server.port);
          await c.send("GET / HTTP/1.1\r\nHost:"); // never finished
          return c;
        }));
        try {
          await expectServes(server.port);
          for (const c of slow) await c.expectClosed();
        } finally {
          for (const c of slow) c.close();
        }
      }, { maxConnections: 2, headerTimeout: 300 });
    },
  );
});

/** Raw bytes of one exchange with an app, on a new connection, to the end. */
async function rawExchange(port: number, request: string): Promise<string> {
  using c = await RawClient.open(port);
  await c.send(request);
  return native(await c.readToEnd());
}

Deno.test("app side: CR, LF, NUL in the response head never reach the wire", async (t) => {
  const cases: [string, string, [string, string][]][] = [
    ["CRLF in a value", "200 OK", [["X-A", "v\r\nX-Injected: 1"]]],
    ["LF in a value", "200 OK", [["X-A", "v\nX-Injected: 1"]]],
    ["CR in a value", "200 OK", [["X-A", "v\rX-Injected: 1"]]],
    ["NUL in a value", "200 OK", [["X-A", "v\x00X-Injected: 1"]]],
    ["CRLF in a name", "200 OK", [["X-Injected: 1\r\nX-A", "v"]]],
    ["LF in a name", "200 OK", [["X-Injected: 1\nX-A", "v"]]],
    ["NUL in a name", "200 OK", [["X-Injected\x00", "v"]]],
    ["a code unit above 0xFF", "200 OK", [["X-A", "X-Injected \u0100"]]],
    ["CRLF in the status", "200 OK\r\nX-Injected: 1", []],
    ["LF in the status", "200 OK\nX-Injected: 1", []],
    ["NUL in the status", "200 OK\x00X-Injected", []],
  ];
  for (const [name, status, headers] of cases) {
    await t.step(name, async () => {
      const app: WSGIApplication = (_e, startResponse) => {
        startResponse(status, headers);
        return [enc.encode("body")];
      };
      await withServer(app, async (server, log) => {
        using c = await RawClient.open(server.port);
        await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const r = await c.response();
        assertEquals(r.status, 500);
        assertFalse(native(r.body).includes("X-Injected"));
        assertFalse(
          r.fields.some(([k, v]) => /inject/i.test(k + v)),
          JSON.stringify(r.fields),
        );
        assertStringIncludes(log.getValue(), "Error");
        c.close();
        // The wire, byte for byte, on HTTP/1.0 too.
        const raw = await rawExchange(server.port, "GET / HTTP/1.0\r\n\r\n");
        assert(raw.startsWith("HTTP/1.0 500 "), raw);
        assertFalse(raw.includes("Injected"), raw);
        assertFalse(raw.includes("\x00"), raw);
        assertEquals(parseAll(latin1(raw)).length, 1);
      });
    });
  }
});

Deno.test("app side: an error after the headers ends the response and closes", async (t) => {
  const bodies: [string, () => ResponseBody, string][] = [
    ["a generator throws (chunked)", () =>
      (function* () {
        yield enc.encode("partial");
        throw new Error("late boom");
      })(), ""],
    ["an async generator rejects (chunked)", () =>
      (async function* () {
        yield enc.encode("partial");
        await sleep(1);
        throw new Error("late boom");
      })(), ""],
    ["a ReadableStream errors (chunked)", () =>
      new ReadableStream<Uint8Array>({
        start(ctl) {
          ctl.enqueue(enc.encode("partial"));
        },
        pull(ctl) {
          ctl.error(new Error("late boom"));
        },
      }), ""],
    ["a generator throws (Content-Length)", () =>
      (function* () {
        yield enc.encode("partial");
        throw new Error("late boom");
      })(), "100"],
  ];
  for (const [name, body, length] of bodies) {
    await t.step(name, async () => {
      const app: WSGIApplication = (environ, startResponse) => {
        if (environ.PATH_INFO === "/ok") {
          startResponse("200 OK", [["Content-Type", "text/plain"]]);
          return [enc.encode("/ok ")];
        }
        startResponse("200 OK", [
          ["Content-Type", "text/plain"],
          ...(length ? [["Content-Length", length] as [string, string]] : []),
        ]);
        return body();
      };
      await withServer(app, async (server, log) => {
        using c = await RawClient.open(server.port);
        // A pipelined request behind it must not be answered on this
        // connection: the response it would follow is broken.
        await c.send(
          "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        const raw = native(await c.readToEnd());
        assert(raw.startsWith("HTTP/1.1 200 OK\r\n"), raw);
        const head = raw.slice(0, raw.indexOf("\r\n\r\n") + 4);
        const rest = raw.slice(head.length);
        if (length) {
          assertStringIncludes(head, `Content-Length: ${length}\r\n`);
          assertEquals(rest, "partial");
        } else {
          assertStringIncludes(head, "Transfer-Encoding: chunked\r\n");
          assertEquals(rest, "7\r\npartial\r\n"); // no last chunk
        }
        assertEquals(raw.split("HTTP/1.1").length, 2, "a second response");
        assertStringIncludes(log.getValue(), "late boom");
        await expectServes(server.port);
      });
    });
  }
});

Deno.test("the server never reads past a refused request", async () => {
  // The bytes after a refused head are not a new request, whatever they hold.
  const paths: string[] = [];
  await withServer(recordingApp(paths), async (server) => {
    for (
      const req of [
        "GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        POST +
        "Content-Length: 5\r\nContent-Length: 6\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        CHUNKED + "zz\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
      ]
    ) {
      using c = await RawClient.open(server.port);
      await c.send(req);
      const all = parseAll(await c.readToEnd());
      assertEquals(all.map((r) => r.status), [400]);
    }
    await expectServes(server.port);
  });
  assertEquals(paths, ["/ok"]);
});

Deno.test("the server process survives a flood of refusals", async () => {
  // Many bad requests at once, each refused; a ReadTimeout here would mean
  // a connection left hanging.
  await withServer(recordingApp([]), async (server) => {
    await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      using c = await RawClient.open(server.port);
      await c.trySend(i % 2 ? "GET / HTTP/1.1\r\n\r\n" : "BAD\x00\r\n\r\n");
      const r = await c.response();
      assertEquals(r.status, 400);
      try {
        await c.expectClosed();
      } catch (e) {
        if (!(e instanceof ReadTimeout)) throw e;
        throw new Error(`connection ${i} left open`);
      }
    }));
    await expectServes(server.port);
  });
});
