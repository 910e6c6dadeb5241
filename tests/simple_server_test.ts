// Tests of simple_server.ts over real TCP on 127.0.0.1 (free ports).
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { demoApp, makeServer } from "../simple_server.ts";
import { concat, latin1, native, withServer } from "./_tcp.ts";
import type {
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SERVER = `WSGIServer/0.2 Deno/${Deno.version.deno}`;

interface Response {
  statusLine: string;
  status: number;
  headers: Map<string, string>;
  head: string;
  body: Uint8Array;
}

/** A raw HTTP/1.x client on one TCP connection. */
class Client {
  #buf: Uint8Array = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn) {}

  static async open(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1(data) : data;
    let off = 0;
    while (off < bytes.length) {
      off += await this.conn.write(bytes.subarray(off));
    }
  }

  /** Reads more bytes; false at EOF (or a reset). */
  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) return false;
      throw e;
    }
    if (n === null) return false;
    this.#buf = concat(this.#buf, chunk.subarray(0, n));
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#more())) throw new Error("EOF in the middle of a body");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async #line(): Promise<string> {
    while (true) {
      const i = this.#buf.indexOf(10);
      if (i !== -1) return native(await this.#take(i + 1));
      if (!(await this.#more())) throw new Error("EOF in the middle of a line");
    }
  }

  /** Reads one response; `head` for a HEAD request (no body). */
  async response(head = false): Promise<Response> {
    let end: number;
    while ((end = native(this.#buf).indexOf("\r\n\r\n")) === -1) {
      if (!(await this.#more())) {
        throw new Error(`EOF before a response head: ${native(this.#buf)}`);
      }
    }
    const headText = native(await this.#take(end + 4));
    const lines = headText.split("\r\n").slice(0, -2);
    const statusLine = lines[0];
    const status = Number(statusLine.split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      const k = line.slice(0, i).toLowerCase();
      const v = line.slice(i + 1).trim();
      headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
    }
    let body: Uint8Array = new Uint8Array(0);
    if (head || status < 200 || status === 204 || status === 304) {
      // no body
    } else if (headers.get("transfer-encoding") === "chunked") {
      while (true) {
        const size = parseInt(await this.#line(), 16);
        if (size === 0) {
          assertEquals(await this.#line(), "\r\n");
          break;
        }
        body = concat(body, await this.#take(size));
        assertEquals(native(await this.#take(2)), "\r\n");
      }
    } else if (headers.has("content-length")) {
      body = await this.#take(Number(headers.get("content-length")));
    } else {
      body = await this.readToEnd();
    }
    return { statusLine, status, headers, head: headText, body };
  }

  /** Everything until the server closes the connection. */
  async readToEnd(): Promise<Uint8Array> {
    while (await this.#more());
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  /** True if the server closed the connection with nothing more sent. */
  async closedByServer(): Promise<boolean> {
    return (await this.readToEnd()).length === 0;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** One request on a fresh connection, read until the server closes it. */
async function exchange(port: number, request: string | Uint8Array) {
  const c = await Client.open(port);
  try {
    await c.send(request);
    return await c.readToEnd();
  } finally {
    c.close();
  }
}

function helloApp(
  _environ: WSGIEnvironment,
  startResponse: StartResponse,
): ResponseBody {
  startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Date", "Mon, 05 Jun 2006 18:49:54 GMT"],
  ]);
  return [enc.encode("Hello, world!")];
}

/** Answers "METHOD PATH?QUERY" with the request body after a space. */
function echoApp(
  environ: WSGIEnvironment,
  startResponse: StartResponse,
): ResponseBody {
  const body = environ["wsgi.input"]!.read();
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [
    concat(
      latin1(
        `${environ.REQUEST_METHOD} ${environ.PATH_INFO}?${environ.QUERY_STRING} ${environ.CONTENT_LENGTH} `,
      ),
      body,
    ),
  ];
}

/** A promise and its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

Deno.test("wsgiref parity (HTTP/1.0)", async (t) => {
  await withServer(helloApp, async (server, log) => {
    await t.step(
      "plain hello is byte-exact and the connection closes",
      async () => {
        const out = await exchange(server.port, "GET / HTTP/1.0\n\n");
        assertEquals(
          native(out),
          "HTTP/1.0 200 OK\r\n" +
            `Server: ${SERVER}\r\n` +
            "Content-Type: text/plain\r\n" +
            "Date: Mon, 05 Jun 2006 18:49:54 GMT\r\n" +
            "Content-Length: 13\r\n" +
            "\r\n" +
            "Hello, world!",
        );
      },
    );

    await t.step("access log line in http.server's format", () => {
      const lines = log.getValue().split("\n");
      assertMatch(
        lines[0],
        /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4} \d\d:\d\d:\d\d\] "GET \/ HTTP\/1\.0" 200 13$/,
      );
    });
  });

  await t.step("Date and Server added when the app gives none", async () => {
    await withServer((_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain"]]);
      return [enc.encode("hi")];
    }, async (server) => {
      const out = native(await exchange(server.port, "GET / HTTP/1.0\r\n\r\n"));
      assertMatch(
        out,
        new RegExp(
          "^HTTP/1\\.0 200 OK\r\nDate: [A-Z][a-z]{2}, \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d GMT\r\n" +
            `Server: ${SERVER.replaceAll(".", "\\.")}\r\n` +
            "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi$",
        ),
      );
    });
  });

  await t.step(
    "environ: PATH_INFO unquoted, QUERY_STRING raw, headers joined",
    async () => {
      const app: WSGIApplication = (environ, sr) => {
        sr("200 OK", [["Content-Type", "text/plain"]]);
        return [latin1([
          environ.HTTP_X_TEST_HEADER,
          environ.QUERY_STRING,
          environ.PATH_INFO,
        ].join(";"))];
      };
      await withServer(app, async (server) => {
        const out = await exchange(
          server.port,
          "GET /p%61th/?query=test%20x HTTP/1.0\n" +
            "X-Test-Header: Python test \n" +
            "X-Test-Header: Python test 2\n" +
            "Content-Length: 0\n\n",
        );
        assert(
          native(out).endsWith(
            "\r\n\r\nPython test,Python test 2;query=test%20x;/path/",
          ),
          native(out),
        );
      });
    },
  );

  await t.step("PATH_INFO keeps raw bytes >= 0x80 (ISO-8859-1)", async () => {
    const app: WSGIApplication = (environ, sr) => {
      sr("200 OK", [["Content-Type", "text/plain"]]);
      return [latin1(environ.PATH_INFO!)];
    };
    await withServer(app, async (server) => {
      const out = await exchange(
        server.port,
        "GET /\x80%80%e4 HTTP/1.0\r\n\r\n",
      );
      assertEquals(native(out).split("\r\n\r\n")[1], "/\x80\x80\xe4");
    });
  });

  await t.step("the CGI variables, as wsgiref's get_environ", async () => {
    let seen: Partial<WSGIEnvironment> = {};
    const app: WSGIApplication = (environ, sr) => {
      seen = environ;
      sr("204 No Content", []);
      return [];
    };
    await withServer(app, async (server) => {
      await exchange(
        server.port,
        "POST //x//y?a=1?b HTTP/1.1\r\nHost: h\r\nContent-Type: text/html\r\n" +
          "Content-Length: 3\r\nUser-Agent: t\r\nConnection: close\r\n\r\nabc",
      );
      const cgi = Object.fromEntries(
        Object.entries(seen).filter(([k]) => !k.startsWith("wsgi.")),
      );
      assertEquals(cgi, {
        SERVER_NAME: "localhost",
        GATEWAY_INTERFACE: "CGI/1.1",
        SERVER_PORT: String(server.port),
        REMOTE_HOST: "",
        CONTENT_LENGTH: "3",
        SCRIPT_NAME: "",
        SERVER_PROTOCOL: "HTTP/1.1",
        SERVER_SOFTWARE: "WSGIServer/0.2",
        REQUEST_METHOD: "POST",
        PATH_INFO: "/x//y",
        QUERY_STRING: "a=1?b",
        REMOTE_ADDR: "127.0.0.1",
        CONTENT_TYPE: "text/html",
        HTTP_HOST: "h",
        HTTP_USER_AGENT: "t",
        HTTP_CONNECTION: "close",
      });
      assertEquals(seen["wsgi.version"], [1, 0]);
      assertEquals(seen["wsgi.url_scheme"], "http");
      assertEquals(seen["wsgi.run_once"], false);
      assertEquals(typeof seen["wsgi.file_wrapper"], "function");
      assertEquals(dec.decode(seen["wsgi.input"]!.read()), "abc");

      await exchange(server.port, "GET / HTTP/1.0\r\n\r\n");
      assertEquals(seen.CONTENT_TYPE, "text/plain"); // get_content_type()
      assertEquals(seen.CONTENT_LENGTH, "");
      assert(
        !("HTTP_CONTENT_TYPE" in seen) && !("HTTP_CONTENT_LENGTH" in seen),
      );
    });
  });

  await t.step(
    "request line over 65,536 bytes: 414, and the next client is served",
    async () => {
      await withServer(helloApp, async (server, log) => {
        const out = await exchange(
          server.port,
          "GET " + "x".repeat(65537) + " HTTP/1.0\n\n",
        );
        assertEquals(native(out).split("\r\n")[0], "HTTP/1.0 414 URI Too Long");
        const next = await exchange(server.port, "GET / HTTP/1.0\r\n\r\n");
        assertEquals(native(next).split("\r\n")[0], "HTTP/1.0 200 OK");
        assertStringIncludes(log.getValue(), '"" 414 -');
      });
    },
  );

  await t.step("demoApp: Hello world! and the sorted environ", async () => {
    await withServer(demoApp, async (server) => {
      const out = native(
        await exchange(server.port, "GET /xyz?abc HTTP/1.0\r\n\r\n"),
      );
      const [head, body] = out.split("\r\n\r\n");
      assertStringIncludes(head, "Content-Type: text/plain; charset=utf-8");
      const lines = body.split("\n");
      assertEquals(lines.slice(0, 2), ["Hello world!", ""]);
      const vars = lines.slice(2).filter((l) => l !== "");
      const keys = vars.map((l) => l.split(" = ")[0]);
      assertEquals(keys, [...keys].sort());
      assert(vars.includes("PATH_INFO = '/xyz'"), body);
      assert(vars.includes("QUERY_STRING = 'abc'"), body);
      assert(vars.includes("wsgi.url_scheme = 'http'"), body);
    });
  });
});

Deno.test("a head cut off by the end of the stream is never served: 400, closed", async (t) => {
  // wsgiref (http.server reads lines until EOF) would run the app on such a
  // head; but a truncated head is a truncated request.
  let calls = 0;
  const app: WSGIApplication = (environ, startResponse) => {
    calls++;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [latin1(environ.PATH_INFO!)];
  };
  await withServer(app, async (server, log) => {
    for (
      const request of [
        "GET /\x80%80 HTTP/1.0",
        "GET /\x80%80 HTTP/1.0\n",
        "GET /\x80%80 HTTP/1.0\r",
        "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b",
        "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r",
        "GARBAGE",
        // A whole request, then a second one cut off: only the first runs.
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n",
      ]
    ) {
      await t.step(JSON.stringify(request), async () => {
        const c = await Client.open(server.port);
        try {
          await c.send(latin1(request));
          await c.conn.closeWrite();
          let text = native(await c.readToEnd());
          if (request.startsWith("GET /1 ")) {
            assert(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
            text = text.slice(text.indexOf("\r\n\r\n") + 6); // head, "/1"
          }
          assertMatch(text, /^HTTP\/1\.[01] 400 Bad Request\r\n/);
          assertStringIncludes(text, "\r\nConnection: close\r\n");
        } finally {
          c.close();
        }
      });
    }
    assertEquals(calls, 1); // GET /1
    assertStringIncludes(
      log.getValue(),
      "request head cut off by the end of the stream",
    );
    await t.step("only empty lines, then EOF: closed, no answer", async () => {
      const c = await Client.open(server.port);
      try {
        await c.send("\r\n");
        await c.conn.closeWrite();
        assertEquals((await c.readToEnd()).length, 0);
      } finally {
        c.close();
      }
    });
  });
});

Deno.test("logRequests: false writes no log line", async () => {
  await withServer(helloApp, async (server, log) => {
    await exchange(server.port, "GET / HTTP/1.0\r\n\r\n");
    await exchange(server.port, "NOT A REQUEST\r\n\r\n");
    assertEquals(log.getValue(), "");
  }, { logRequests: false });
});

Deno.test("a response header with a line break is refused: 500, nothing forged", async () => {
  const app: WSGIApplication = (_e, sr) => {
    sr("200 OK", [["X-Evil", "a\r\nSet-Cookie: x=1"]]);
    return [enc.encode("no")];
  };
  await withServer(app, async (server) => {
    const out = native(await exchange(server.port, "GET / HTTP/1.0\r\n\r\n"));
    assert(out.startsWith("HTTP/1.0 500 Internal Server Error\r\n"), out);
    assert(!out.includes("Set-Cookie"), out);
  });
});

Deno.test("osEnviron goes under the CGI variables; none by default", async () => {
  let seen: Partial<WSGIEnvironment> = {};
  const app: WSGIApplication = (environ, sr) => {
    seen = environ;
    sr("204 No Content", []);
    return [];
  };
  await withServer(app, async (server) => {
    await exchange(server.port, "GET /p HTTP/1.0\r\n\r\n");
    assertEquals(seen.FROM_OS, "yes");
    assertEquals(seen.PATH_INFO, "/p"); // the request's, not osEnviron's
    assertEquals(seen["wsgi.url_scheme"], "http");
  }, { osEnviron: { FROM_OS: "yes", PATH_INFO: "/os" } });
  await withServer(app, async (server) => {
    await exchange(server.port, "GET / HTTP/1.0\r\n\r\n");
    assert(!("HOME" in seen) && !("PATH" in seen));
  });
});

Deno.test("HTTP/1.1: persistent connections and pipelining", async (t) => {
  await withServer(echoApp, async (server) => {
    await t.step(
      "two requests on one connection, answered HTTP/1.1",
      async () => {
        const c = await Client.open(server.port);
        try {
          await c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
          const r1 = await c.response();
          assertEquals(r1.statusLine, "HTTP/1.1 200 OK");
          assertEquals(r1.headers.get("server"), SERVER);
          assertEquals(r1.headers.get("connection"), undefined);
          assertEquals(dec.decode(r1.body), "GET /a?  ");
          await c.send("GET /b?q HTTP/1.1\r\nHost: x\r\n\r\n");
          assertEquals(dec.decode((await c.response()).body), "GET /b?q  ");
          await c.send(
            "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          );
          const r3 = await c.response();
          assertEquals(r3.headers.get("connection"), "close");
          assert(await c.closedByServer());
        } finally {
          c.close();
        }
      },
    );

    await t.step("pipelined requests are answered in order", async () => {
      const c = await Client.open(server.port);
      try {
        let batch = "";
        for (let i = 0; i < 20; i++) {
          batch += `POST /${i} HTTP/1.1\r\nHost: x\r\nContent-Length: ${
            String(i).length
          }\r\n\r\n${i}`;
        }
        await c.send(
          batch + "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        for (let i = 0; i < 20; i++) {
          const r = await c.response();
          assertEquals(
            dec.decode(r.body),
            `POST /${i}? ${String(i).length} ${i}`,
          );
        }
        assertEquals(dec.decode((await c.response()).body), "GET /last?  ");
        assert(await c.closedByServer());
      } finally {
        c.close();
      }
    });

    await t.step(
      "HTTP/1.0 keep-alive when asked and the length is known",
      async () => {
        const c = await Client.open(server.port);
        try {
          await c.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
          const r = await c.response();
          assertEquals(r.statusLine, "HTTP/1.0 200 OK");
          assertEquals(r.headers.get("connection"), "keep-alive");
          await c.send("GET /k2 HTTP/1.0\r\n\r\n");
          assertEquals(dec.decode((await c.response()).body), "GET /k2?  ");
          assert(await c.closedByServer());
        } finally {
          c.close();
        }
      },
    );
  });
});

Deno.test("chunked bodies both ways", async (t) => {
  await t.step(
    "a chunked request body is decoded before the app runs",
    async () => {
      await withServer(echoApp, async (server) => {
        const c = await Client.open(server.port);
        try {
          await c.send(
            "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
              "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n" +
              "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
          );
          assertEquals(
            dec.decode((await c.response()).body),
            "POST /up? 12 hello, world",
          );
          assertEquals(dec.decode((await c.response()).body), "GET /next?  ");
        } finally {
          c.close();
        }
      });
    },
  );

  const multi: WSGIApplication = (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield enc.encode("hello");
      yield enc.encode(", ");
      yield new Uint8Array(0);
      yield enc.encode("world");
    })();
  };

  await t.step(
    "HTTP/1.1, no Content-Length, several blocks: chunked",
    async () => {
      await withServer(multi, async (server) => {
        const out = native(
          await exchange(
            server.port,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          ),
        );
        const [head, body] = out.split(/\r\n\r\n(.*)/s);
        assertStringIncludes(head, "\r\nTransfer-Encoding: chunked");
        assertEquals(body, "5\r\nhello\r\n2\r\n, \r\n5\r\nworld\r\n0\r\n\r\n");
      });
    },
  );

  await t.step(
    "HTTP/1.0: the body ends when the connection closes",
    async () => {
      await withServer(multi, async (server) => {
        const out = native(
          await exchange(
            server.port,
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
          ),
        );
        const [head, body] = out.split(/\r\n\r\n(.*)/s);
        assert(
          !head.includes("Transfer-Encoding") &&
            !head.includes("Content-Length"),
        );
        assert(!head.includes("Connection: keep-alive"));
        assertEquals(body, "hello, world");
      });
    },
  );

  await t.step("write() calls are sent chunked too", async () => {
    const app: WSGIApplication = (_e, sr) => {
      const write = sr("200 OK", [["Content-Type", "text/plain"]]);
      write(enc.encode("ab"));
      write(enc.encode("cde"));
      return [];
    };
    await withServer(app, async (server) => {
      const c = await Client.open(server.port);
      try {
        await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals(dec.decode((await c.response()).body), "abcde");
        await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals(dec.decode((await c.response()).body), "abcde");
      } finally {
        c.close();
      }
    });
  });
});

Deno.test("HEAD answers headers only", async () => {
  await withServer(echoApp, async (server) => {
    const c = await Client.open(server.port);
    try {
      await c.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
      const r = await c.response(true);
      assertEquals(r.headers.get("content-length"), "10"); // "HEAD /h?  "
      // The next response starts right after the head: no body was sent.
      await c.send("GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
      const r2 = await c.response();
      assertEquals(r2.statusLine, "HTTP/1.1 200 OK");
      assertEquals(dec.decode(r2.body), "GET /g?  ");
    } finally {
      c.close();
    }
  });
});

Deno.test("Expect: 100-continue", async (t) => {
  await withServer(echoApp, async (server) => {
    await t.step("100 Continue before the body is read", async () => {
      const c = await Client.open(server.port);
      try {
        await c.send(
          "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        );
        const interim = await c.response();
        assertEquals(interim.statusLine, "HTTP/1.1 100 Continue");
        assertEquals(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");
        await c.send("data");
        assertEquals(dec.decode((await c.response()).body), "PUT /c? 4 data");
      } finally {
        c.close();
      }
    });

    await t.step("417 for another expectation", async () => {
      const out = native(
        await exchange(
          server.port,
          "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: tea\r\n\r\nx",
        ),
      );
      assertEquals(out.split("\r\n")[0], "HTTP/1.1 417 Expectation Failed");
    });
  });
});

Deno.test("bad input gets a 4xx and a closed connection; the server goes on", async (t) => {
  let calls = 0;
  const app: WSGIApplication = (e, sr) => {
    calls++;
    return echoApp(e, sr);
  };
  await withServer(app, async (server, log) => {
    for (
      const [name, request, status] of [
        ["garbage", "GARBAGE\r\n\r\n", 400],
        ["bad version", "GET / HTTP/x\r\n\r\n", 400],
        ["HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505],
        ["bad header", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400],
        [
          "bad chunk",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          400,
        ],
        [
          "too many headers",
          "GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(101) + "\r\n",
          431,
        ],
        [
          "body over the limit",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n",
          413,
        ],
      ] as const
    ) {
      await t.step(name, async () => {
        const out = native(await exchange(server.port, request));
        assertEquals(Number(out.split(" ")[1]), status, out);
        assertStringIncludes(out, "\r\nConnection: close\r\n");
      });
    }
    assertEquals(calls, 0);
    const ok = native(await exchange(server.port, "GET /ok HTTP/1.0\r\n\r\n"));
    assert(ok.startsWith("HTTP/1.0 200 OK\r\n"));
    assertEquals(calls, 1);
    assertStringIncludes(log.getValue(), '"GARBAGE" 400 -');
  }, { maxRequestBody: 1024 });
});

Deno.test("app errors: 500 page before headers, closed connection after", async (t) => {
  await t.step("before headers", async () => {
    const app: WSGIApplication = () => {
      throw new Error("boom");
    };
    await withServer(app, async (server, log) => {
      const out = native(await exchange(server.port, "GET / HTTP/1.0\r\n\r\n"));
      assert(out.startsWith("HTTP/1.0 500 Internal Server Error\r\n"), out);
      assert(
        out.endsWith(
          "\r\n\r\nA server error occurred.  Please contact the administrator.",
        ),
      );
      assertStringIncludes(log.getValue(), "Error: boom");
    });
  });

  await t.step("after headers", async () => {
    const app: WSGIApplication = (_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield enc.encode("partial");
        throw new Error("late boom");
      })();
    };
    await withServer(app, async (server, log) => {
      const c = await Client.open(server.port);
      try {
        await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const out = native(await c.readToEnd()); // the server closes
        assert(out.startsWith("HTTP/1.1 200 OK\r\n"));
        assert(out.endsWith("7\r\npartial\r\n"), out); // no last chunk
        assertStringIncludes(log.getValue(), "late boom");
      } finally {
        c.close();
      }
    });
  });
});

Deno.test("many connections at once: async apps interleave", async () => {
  const N = 50;
  let inside = 0;
  const allInside = gate();
  const release = gate();
  const app: WSGIApplication = async (environ, sr) => {
    if (++inside === N) allInside.open();
    await release.promise;
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return [latin1(environ.PATH_INFO!)];
  };
  await withServer(app, async (server) => {
    const clients = await Promise.all(
      Array.from({ length: N }, () => Client.open(server.port)),
    );
    try {
      await Promise.all(
        clients.map((c, i) => c.send(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`)),
      );
      // All N apps are inside their await at the same moment: none of them
      // waits for another to finish. (If they ran one by one, this would
      // never resolve.)
      await allInside.promise;
      assertEquals(inside, N);
      release.open();
      const bodies = await Promise.all(clients.map((c) => c.response()));
      bodies.forEach((r, i) => assertEquals(dec.decode(r.body), `/${i}`));
    } finally {
      release.open();
      clients.forEach((c) => c.close());
    }
  });
});

Deno.test("8 MiB up and down, intact", async () => {
  const size = 8 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, i + 65536));
  }
  const app: WSGIApplication = (environ, sr) => {
    const body = environ["wsgi.input"]!.read();
    sr("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [body.slice()];
  };
  await withServer(app, async (server) => {
    const c = await Client.open(server.port);
    try {
      const sending = c.send(
        concat(
          latin1(
            `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
          ),
          data,
        ),
      );
      const r = await c.response();
      await sending;
      assertEquals(r.headers.get("content-length"), String(size));
      assertEquals(r.body.length, size);
      assert(
        r.body.every((b, i) => b === data[i]),
        "the body came back changed",
      );
    } finally {
      c.close();
    }
  });
});

Deno.test("a FileWrapper over a Deno.FsFile streams in blocks", async () => {
  const path = await Deno.makeTempFile();
  const size = 8 * 1024 * 1024 + 123;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(i + 65536, size)));
  }
  await Deno.writeFile(path, data);
  const reads: number[] = [];
  let closed = false;
  const app: WSGIApplication = async (environ, sr) => {
    const file = await Deno.open(path);
    const read = file.read.bind(file);
    file.read = (p: Uint8Array) => {
      reads.push(p.length);
      return read(p);
    };
    const close = file.close.bind(file);
    file.close = () => {
      closed = true;
      close();
    };
    sr("200 OK", [["Content-Type", "application/octet-stream"]]);
    return environ["wsgi.file_wrapper"]!(file, 65536);
  };
  try {
    await withServer(app, async (server) => {
      const c = await Client.open(server.port);
      try {
        await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const r = await c.response();
        assertEquals(r.headers.get("transfer-encoding"), "chunked");
        assertEquals(r.body.length, size);
        assert(
          r.body.every((b, i) => b === data[i]),
          "the file came back changed",
        );
      } finally {
        c.close();
      }
    });
    assert(closed, "the file was not closed");
    assert(reads.length > 8, `read in ${reads.length} reads`);
    assert(
      Math.max(...reads) <= 4 * 1024 * 1024,
      `a read of ${Math.max(...reads)} bytes`,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("shutdown, close, handleRequest", async (t) => {
  await t.step(
    "shutdown: finishes requests in flight, closes idle connections",
    async () => {
      const entered = gate();
      const release = gate();
      const app: WSGIApplication = async (environ, sr) => {
        if (environ.PATH_INFO === "/slow") {
          entered.open();
          await release.promise;
        }
        sr("200 OK", [["Content-Type", "text/plain"]]);
        return [latin1(environ.PATH_INFO!)];
      };
      const server = makeServer("127.0.0.1", 0, app, { logRequests: false });
      const serving = server.serveForever();
      const idle = await Client.open(server.port);
      const busy = await Client.open(server.port);
      try {
        await idle.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals(dec.decode((await idle.response()).body), "/idle");
        await busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        await entered.promise;
        let stopped = false;
        const stopping = server.shutdown().then(() => (stopped = true));
        assert(await idle.closedByServer(), "the idle connection stays open");
        // No new connection is accepted.
        const refused = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        })
          .then((c) => (c.close(), false), () => true);
        assert(refused, "a connection was accepted during shutdown");
        assert(!stopped);
        release.open();
        const r = await busy.response();
        assertEquals(dec.decode(r.body), "/slow");
        assertEquals(r.headers.get("connection"), "close");
        assert(await busy.closedByServer());
        await stopping;
        await serving;
      } finally {
        release.open();
        idle.close();
        busy.close();
        server.close();
      }
    },
  );

  await t.step("handleRequest serves exactly one request", async () => {
    let calls = 0;
    const server = makeServer("127.0.0.1", 0, (e, sr) => {
      calls++;
      return echoApp(e, sr);
    }, { logRequests: false });
    try {
      const c = await Client.open(server.port);
      try {
        const handled = server.handleRequest();
        await c.send(
          "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        const r = await c.response();
        assertEquals(dec.decode(r.body), "GET /1?  ");
        assertEquals(r.headers.get("connection"), "close");
        assert(await c.closedByServer());
        await handled;
        assertEquals(calls, 1);
      } finally {
        c.close();
      }
    } finally {
      server.close();
    }
  });

  await t.step("await using releases the listener", async () => {
    let port: number;
    {
      await using server = makeServer("127.0.0.1", 0, demoApp);
      port = server.port;
      assertEquals(server.getApp(), demoApp);
    }
    const l = Deno.listen({ hostname: "127.0.0.1", port }); // free again
    l.close();
  });
});

Deno.test("timeouts and connection limits", async (t) => {
  await t.step(
    "an idle keep-alive connection is closed after keepAliveTimeout",
    async () => {
      await withServer(echoApp, async (server) => {
        const c = await Client.open(server.port);
        try {
          await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          await c.response();
          assert(await c.closedByServer());
        } finally {
          c.close();
        }
      }, { keepAliveTimeout: 50 });
    },
  );

  await t.step(
    "a head not finished within headerTimeout: dropped",
    async () => {
      await withServer(echoApp, async (server, log) => {
        const c = await Client.open(server.port);
        try {
          await c.send("GET / HTTP/1.1\r\nHost:");
          assert(await c.closedByServer());
          assertStringIncludes(log.getValue(), "Request timed out");
        } finally {
          c.close();
        }
      }, { headerTimeout: 50 });
    },
  );

  await t.step(
    "past maxConnections, new connections wait their turn",
    async () => {
      const order: string[] = [];
      const app: WSGIApplication = (e, sr) => {
        order.push(e.PATH_INFO!);
        return echoApp(e, sr);
      };
      await withServer(app, async (server) => {
        const a = await Client.open(server.port);
        const b = await Client.open(server.port);
        try {
          await a.send("GET /a1 HTTP/1.1\r\nHost: x\r\n\r\n");
          await a.response();
          await b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
          await a.send(
            "GET /a2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          );
          await a.response();
          assert(await a.closedByServer());
          assertEquals(dec.decode((await b.response()).body), "GET /b?  ");
          assertEquals(order, ["/a1", "/a2", "/b"]);
        } finally {
          a.close();
          b.close();
        }
      }, { maxConnections: 1 });
    },
  );
});
