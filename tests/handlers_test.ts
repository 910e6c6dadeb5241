// HandlerTests of CPython's Lib/test/test_wsgiref.py, ported, and the
// TypeScript additions: async apps, bodies and writers, ReadableStream
// bodies, close() exactly once, header injection, CGI input edge cases and
// the byte-exact environ.

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  BaseCGIHandler,
  BaseHandler,
  CGIHandler,
  isClientDisconnect,
  NotImplementedError,
  readEnviron,
  SimpleHandler,
} from "../handlers.ts";
import {
  BytesIO,
  FileWrapper,
  setupTestingDefaults,
  StringIO,
} from "../util.ts";
import type {
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";
import { latin1Decode, latin1Encode } from "../_latin1.ts";
import { formatDateTime, httpDate } from "../_date.ts";
import {
  bytesFromInvalidDataMessage,
  LimitedInput,
  parseContentLength,
  parseEnvironBlock,
} from "../_handlers.ts";

const enc = (s: string) => latin1Encode(s);
const dec = (b: Uint8Array) => latin1Decode(b);

/** wsgiref's ErrorHandler: a BaseCGIHandler on in-memory streams. */
class ErrorHandler extends BaseCGIHandler {
  constructor(kw: Partial<WSGIEnvironment> = {}) {
    setupTestingDefaults(kw);
    super(new BytesIO(), new BytesIO(), new StringIO(), kw, {
      multithread: true,
      multiprocess: true,
    });
    this.osEnviron = {};
  }
  get out(): string {
    return dec((this.stdout as BytesIO).getValue());
  }
  get err(): string {
    return (this.stderr as StringIO).getValue();
  }
}

/** wsgiref's TestHandler: errors are not handled but thrown. */
class TestHandler extends ErrorHandler {
  override handleError(error: unknown): Promise<void> {
    throw error;
  }
}

const helloApp: WSGIApplication = (_e, s) => {
  s("200 OK", [
    ["Content-Type", "text/plain"],
    ["Date", "Mon, 05 Jun 2006 18:49:54 GMT"],
  ]);
  return [enc("Hello, world!")];
};

const HELLO_RESPONSE = "HTTP/1.0 200 OK\r\n" +
  "Content-Type: text/plain\r\n" +
  "Date: Mon, 05 Jun 2006 18:49:54 GMT\r\n" +
  "Content-Length: 13\r\n" +
  "\r\n" +
  "Hello, world!";

/** A writer that records what it got, sync or async, whole or partial. */
class Recorder {
  chunks: Uint8Array[] = [];
  constructor(readonly mode: "sync" | "async" = "sync", readonly max = 0) {}
  write(p: Uint8Array): number | Promise<number> {
    const n = this.max ? Math.min(this.max, p.length) : p.length;
    this.chunks.push(p.slice(0, n));
    if (this.mode === "sync") return n;
    return new Promise((r) => setTimeout(() => r(n), 1));
  }
  get text(): string {
    return this.chunks.map(dec).join("");
  }
}

const http10 = (): Partial<WSGIEnvironment> => ({
  SERVER_PROTOCOL: "HTTP/1.0",
});

// ------------------------------------------------------- wsgiref's tests

Deno.test("testEnviron", () => {
  const osEnviron = {
    HOME: "/my/home",
    PATH: "/my/path",
    LANG: "fr_FR.UTF-8",
    SCRIPT_NAME: "test_script_name",
    SERVER_NAME: "test_server_name",
  };
  const handler = new TestHandler({ X: "Y", HOME: "/override/home" });
  handler.osEnviron = osEnviron;
  handler.setupEnviron();
  const env = handler.environ!;

  assertEquals(env["wsgi.version"], handler.wsgiVersion);
  assertEquals(env["wsgi.multithread"], handler.wsgiMultithread);
  assertEquals(env["wsgi.multiprocess"], handler.wsgiMultiprocess);
  assertEquals(env["wsgi.run_once"], handler.wsgiRunOnce);
  const wrapper = env["wsgi.file_wrapper"]!;
  assertInstanceOf(wrapper({ read: () => new Uint8Array() }), FileWrapper);

  const expected: Partial<WSGIEnvironment> = {};
  setupTestingDefaults(expected);
  for (const [k, v] of Object.entries(osEnviron)) {
    if (!(k in expected)) expected[k] = v;
  }
  Object.assign(expected, {
    X: "Y",
    HOME: "/override/home",
    SCRIPT_NAME: "",
    SERVER_NAME: "127.0.0.1",
    "wsgi.input": handler.getStdin(),
    "wsgi.errors": handler.getStderr(),
    "wsgi.version": [1, 0],
    "wsgi.run_once": false,
    "wsgi.url_scheme": "http",
    "wsgi.multithread": true,
    "wsgi.multiprocess": true,
    "wsgi.file_wrapper": wrapper,
  });
  assertEquals(env, expected);
  assert(env["wsgi.input"] === handler.getStdin());
  assert(env["wsgi.errors"] === handler.getStderr());
});

Deno.test("testCGIEnviron", () => {
  const h = new BaseCGIHandler(
    new BytesIO(),
    new BytesIO(),
    new StringIO(),
    {},
  );
  h.osEnviron = {};
  h.setupEnviron();
  for (const key of ["wsgi.url_scheme", "wsgi.input", "wsgi.errors"]) {
    assert(key in h.environ!, key);
  }
});

Deno.test("testScheme", () => {
  let h = new TestHandler({ HTTPS: "on" });
  h.setupEnviron();
  assertEquals(h.environ!["wsgi.url_scheme"], "https");
  h = new TestHandler();
  h.setupEnviron();
  assertEquals(h.environ!["wsgi.url_scheme"], "http");
});

Deno.test("testAbstractMethods", () => {
  const h = new BaseHandler();
  assertThrows(() => h.rawFlush(), NotImplementedError);
  assertThrows(() => h.getStdin(), NotImplementedError);
  assertThrows(() => h.getStderr(), NotImplementedError);
  assertThrows(() => h.addCgiVars(), NotImplementedError);
  assertThrows(() => h.rawWrite(enc("test")), NotImplementedError);
});

Deno.test("testContentLength", async () => {
  const app1: WSGIApplication = (e, s) => {
    s("200 OK", []);
    return [enc(e["wsgi.url_scheme"]!)];
  };
  const app2: WSGIApplication = (e, s) => {
    s("200 OK", [])(enc(e["wsgi.url_scheme"]!));
    return [];
  };
  const app3: WSGIApplication = (_e, s) => {
    s("200 OK", []);
    return [new TextEncoder().encode("\u0442\u0435\u0441\u0442")];
  };
  const app4: WSGIApplication = (_e, s) => {
    s("200 OK", [["Content-Length", "12345"]]);
    return [];
  };
  let h = new TestHandler();
  await h.run(app1);
  assertEquals(h.out, "Status: 200 OK\r\nContent-Length: 4\r\n\r\nhttp");

  h = new TestHandler();
  await h.run(app2);
  assertEquals(h.out, "Status: 200 OK\r\n\r\nhttp");

  h = new TestHandler();
  await h.run(app3);
  assertEquals(
    (h.stdout as BytesIO).getValue(),
    new Uint8Array([
      ...enc("Status: 200 OK\r\nContent-Length: 8\r\n\r\n"),
      0xd1,
      0x82,
      0xd0,
      0xb5,
      0xd1,
      0x81,
      0xd1,
      0x82,
    ]),
  );

  h = new TestHandler();
  await h.run(app4);
  assertEquals(h.out, "Status: 200 OK\r\nContent-Length: 12345\r\n\r\n");
});

Deno.test("testBasicErrorOutput", async () => {
  const nonErrorApp: WSGIApplication = (_e, s) => {
    s("200 OK", []);
    return [];
  };
  const errorApp: WSGIApplication = () => {
    throw new Error("This should be caught by handler", {
      cause: new RangeError("the root cause"),
    });
  };
  let h = new ErrorHandler();
  await h.run(nonErrorApp);
  assertEquals(h.out, "Status: 200 OK\r\nContent-Length: 0\r\n\r\n");
  assertEquals(h.err, "");

  h = new ErrorHandler();
  await h.run(errorApp);
  assertEquals(
    h.out,
    "Status: 500 Internal Server Error\r\n" +
      "Content-Type: text/plain\r\n" +
      "Content-Length: 59\r\n" +
      "\r\n" +
      "A server error occurred.  Please contact the administrator.",
  );
  assertEquals(h.errorStatus, "500 Internal Server Error");
  assertEquals(h.errorHeaders, [["Content-Type", "text/plain"]]);
  assertEquals(h.errorBody.length, 59);
  assertStringIncludes(h.err, "Error: This should be caught by handler\n");
  assertStringIncludes(h.err, "Caused by: RangeError: the root cause");
  assertMatch(h.err, /\n\s+at /); // the stack
});

Deno.test("testErrorAfterOutput", async () => {
  const errorApp: WSGIApplication = (_e, s) => {
    s("200 OK", [])(enc("Some output has been sent"));
    throw new Error("This should be caught by handler");
  };
  const h = new ErrorHandler();
  await h.run(errorApp);
  assertEquals(h.out, "Status: 200 OK\r\n\r\nSome output has been sent");
  assertStringIncludes(h.err, "This should be caught by handler");
});

Deno.test("testHeaderFormats", async () => {
  const nonErrorApp: WSGIApplication = (_e, s) => {
    s("200 OK", []);
    return [];
  };
  const shortpat = "Status: 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (const ssw of ["FooBar/1.0", undefined]) {
    const sw = ssw ? `Server: ${ssw}\r\n` : "";
    for (const version of ["1.0", "1.1"]) {
      for (const proto of ["HTTP/0.9", "HTTP/1.0", "HTTP/1.1"]) {
        let h = new TestHandler({ SERVER_PROTOCOL: proto });
        h.originServer = false;
        h.httpVersion = version;
        h.serverSoftware = ssw;
        await h.run(nonErrorApp);
        assertEquals(h.out, shortpat);

        h = new TestHandler({ SERVER_PROTOCOL: proto });
        h.originServer = true;
        h.httpVersion = version;
        h.serverSoftware = ssw;
        await h.run(nonErrorApp);
        if (proto === "HTTP/0.9") {
          assertEquals(h.out, "");
        } else {
          const stdpat = new RegExp(
            `^HTTP/${version.replace(".", "\\.")} 200 OK\\r\\n` +
              `Date: \\w{3}, [ 0123]\\d \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d GMT\\r\\n` +
              sw.replace(".", "\\.").replace("\r\n", "\\r\\n") +
              `Content-Length: 0\\r\\n\\r\\n$`,
          );
          assertMatch(h.out, stdpat);
        }
      }
    }
  }
});

Deno.test("testBytesData", async () => {
  const h = new TestHandler();
  await h.run((_e, s) => {
    s("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [enc("data")];
  });
  assertEquals(
    h.out,
    "Status: 200 OK\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      "Content-Length: 4\r\n" +
      "\r\n" +
      "data",
  );
});

Deno.test("testCloseOnError", async () => {
  let closeCalled = 0;
  const errorApp: WSGIApplication = (_e, s) => {
    s("200 OK", [])(enc("Some output has been sent"));
    return {
      *[Symbol.iterator]() {
        yield enc("blah");
        throw new Error("This should be caught by handler");
      },
      close() {
        closeCalled++;
      },
    };
  };
  const h = new ErrorHandler();
  await h.run(errorApp);
  assertEquals(closeCalled, 1);
  assertEquals(h.out, "Status: 200 OK\r\n\r\nSome output has been sentblah");
  assertStringIncludes(h.err, "This should be caught by handler");
});

Deno.test("testPartialWrite", async () => {
  for (const mode of ["sync", "async"] as const) {
    const w = new Recorder(mode, 7);
    const h = new SimpleHandler(new BytesIO(), w, new StringIO(), http10());
    h.osEnviron = {};
    await h.run(helloApp);
    assertEquals(w.text, HELLO_RESPONSE, mode);
    assert(w.chunks.every((c) => c.length <= 7));
  }
});

Deno.test("testClientConnectionTerminations", async (t) => {
  for (
    const Err of [
      Deno.errors.ConnectionAborted,
      Deno.errors.BrokenPipe,
      Deno.errors.ConnectionReset,
    ]
  ) {
    for (const mode of ["sync", "async"]) {
      await t.step(`${Err.name} ${mode}`, async () => {
        const writer = {
          write(_p: Uint8Array): number | Promise<number> {
            if (mode === "sync") throw new Err("client gone");
            return Promise.reject(new Err("client gone"));
          },
        };
        const stderr = new StringIO();
        let closed = 0;
        const h = new SimpleHandler(new BytesIO(), writer, stderr, http10());
        h.osEnviron = {};
        await h.run((e, s) => {
          const body = helloApp(e, s) as Uint8Array[];
          return Object.assign(body, { close: () => void closed++ });
        });
        assertEquals(stderr.getValue(), "");
        assertEquals(closed, 1);
      });
    }
  }
  assert(isClientDisconnect(new Deno.errors.BrokenPipe()));
  assert(!isClientDisconnect(new Deno.errors.TimedOut()));
});

Deno.test("testDontResetInternalStateOnException", async () => {
  class CustomException extends Error {
    override name = "CustomException";
  }
  for (const mode of ["sync", "async"]) {
    const writer = {
      write(_p: Uint8Array): number | Promise<number> {
        if (mode === "sync") throw new CustomException();
        return Promise.reject(new CustomException());
      },
    };
    const stderr = new StringIO();
    const h = new SimpleHandler(new BytesIO(), writer, stderr, http10());
    h.osEnviron = {};
    await h.run(helloApp);
    assertStringIncludes(stderr.getValue(), "CustomException");
    assert(h.result !== undefined);
    assert(h.headers !== undefined);
    assert(h.status !== undefined);
    assert(h.environ !== undefined);
  }
});

// ------------------------------------------------------------ additions

Deno.test("startResponse checks the status and headers", async (t) => {
  const expectError = async (
    app: WSGIApplication,
    pattern: RegExp,
    name = "AssertionError",
  ) => {
    const h = new TestHandler();
    const e = await assertRejects(() => h.run(app));
    assertEquals((e as Error).name, name);
    assertMatch((e as Error).message, pattern);
  };
  const start =
    (status: unknown, headers: unknown): WSGIApplication => (_e, s) => {
      (s as (a: unknown, b: unknown) => void)(status, headers);
      return [];
    };
  await t.step("status", async () => {
    await expectError(
      start("200", []),
      /^Status must be at least 4 characters \(got "200"\): .* "200 OK"/,
    );
    await expectError(start("20x OK", []), /begin w\/3-digit code/);
    await expectError(start("2000 OK", []), /space after code/);
    await expectError(
      start(200, []),
      /Status must be of type string \(got the number 200\)/,
      "TypeError",
    );
    await expectError(
      start("200 OK\r\nX: y", []),
      /^Status "200 OK\\r\\nX: y" contains CR at index 6/,
      "TypeError",
    );
  });
  await t.step("header types", async () => {
    await expectError(
      start("200 OK", [["X", 1]]),
      /Header value must be of type string \(got the number 1\)/,
      "TypeError",
    );
    await expectError(
      start("200 OK", [[1, "x"]]),
      /Header name must be of type string/,
      "TypeError",
    );
    await expectError(
      start("200 OK", [["X", "1", "2"]]),
      /Each header must be a \[name, value\] pair \(got an array of length 3 at index 0\)/,
      "TypeError",
    );
    await expectError(
      start("200 OK", "Content-Type: text/plain"),
      /Headers must be an array of \[name, value\] pairs \(got the string/,
      "TypeError",
    );
  });
  await t.step("hop-by-hop", async () => {
    for (const name of ["Connection", "keep-alive", "Transfer-Encoding"]) {
      await expectError(
        start("200 OK", [[name, "x"]]),
        new RegExp(`Hop-by-hop header, '${name}: x', not allowed`),
      );
    }
  });
  await t.step("second call", async () => {
    await expectError((_e, s) => {
      s("200 OK", []);
      s("200 OK", []);
      return [];
    }, /Headers already set!/);
  });
  await t.step("a second call with excInfo replaces the status", async () => {
    const h = new TestHandler();
    await h.run((_e, s) => {
      s("200 OK", [["X-First", "1"]]);
      s("404 Not Found", [["X-Second", "2"]], new Error("changed my mind"));
      return [enc("x")];
    });
    assertEquals(
      h.out,
      "Status: 404 Not Found\r\nX-Second: 2\r\nContent-Length: 1\r\n\r\nx",
    );
  });
  await t.step("excInfo after output is rethrown", async () => {
    const original = new Error("the original failure");
    let caught: unknown;
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      s("200 OK", [])(enc("partial"));
      try {
        s("500 Oops", [], original);
      } catch (e) {
        caught = e;
        throw e;
      }
      return [];
    });
    assert(caught === original);
    assertEquals(h.out, "Status: 200 OK\r\n\r\npartial"); // no second status
    assertStringIncludes(h.err, "the original failure");
  });
});

Deno.test("header injection is refused, whatever the app sends", async (t) => {
  const injections: [string, [string, string][]][] = [
    ["CRLF in a value", [["X-A", "a\r\nSet-Cookie: evil=1"]]],
    ["LF in a value", [["X-A", "a\nSet-Cookie: evil=1"]]],
    ["CR in a value", [["X-A", "a\rb"]]],
    ["NUL in a value", [["X-A", "a\0b"]]],
    ["LF in a name", [["X-A\nSet-Cookie", "evil"]]],
    ["a colon in a name", [["Set-Cookie: evil=1; X-A", "v"]]],
    ["a space in a name", [["Set-Cookie evil", "v"]]],
    ["an empty name", [["", "evil"]]],
  ];
  for (const [what, headers] of injections) {
    await t.step(what, async () => {
      const h = new ErrorHandler();
      await h.run((_e, s) => {
        s("200 OK", headers);
        return [enc("body")];
      });
      assert(h.out.startsWith("Status: 500 Internal Server Error\r\n"), h.out);
      assert(!h.out.includes("evil"));
      assertStringIncludes(h.err, "TypeError");
    });
  }
  await t.step("a list changed after startResponse", async () => {
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      const list: [string, string][] = [["X-A", "fine"]];
      s("200 OK", list);
      list.push(["X-B", "a\r\nSet-Cookie: evil=1"]);
      return [enc("body")];
    });
    assert(h.out.startsWith("Status: 500 Internal Server Error\r\n"), h.out);
    assert(!h.out.includes("evil"));
    assertStringIncludes(h.err, "contains CR at index 1");
  });
  await t.step("status changed after startResponse", async () => {
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      s("200 OK", []);
      h.status = "200 OK\r\nSet-Cookie: evil=1";
      return [enc("body")];
    });
    assert(h.out.startsWith("Status: 500 Internal Server Error\r\n"), h.out);
    assert(!h.out.includes("evil"));
  });
  await t.step("a value that is not ISO-8859-1", async () => {
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      s("200 OK", [["X-A", "\u20ac"]]);
      return [enc("body")];
    });
    assert(h.out.startsWith("Status: 500 Internal Server Error\r\n"), h.out);
    assertStringIncludes(h.err, "U+20AC");
  });
  await t.step("ISO-8859-1 values go out as single bytes", async () => {
    const h = new TestHandler();
    await h.run((_e, s) => {
      s("200 OK", [["X-A", "caf\xe9"]]);
      return [];
    });
    const bytes = (h.stdout as BytesIO).getValue();
    assert(bytes.includes(0xe9) && !bytes.includes(0xc3));
  });
});

Deno.test("origin server: Server header, SERVER_SOFTWARE, app's own Date", async () => {
  const w = new Recorder();
  const h = new SimpleHandler(new BytesIO(), w, new StringIO(), {
    SERVER_PROTOCOL: "HTTP/1.1",
  });
  h.osEnviron = {};
  h.serverSoftware = "Test/1.0";
  h.httpVersion = "1.1";
  let seen: unknown;
  await h.run((e, s) => {
    seen = e.SERVER_SOFTWARE;
    return helloApp(e, s);
  });
  assertEquals(seen, "Test/1.0");
  assertEquals(
    w.text,
    "HTTP/1.1 200 OK\r\nServer: Test/1.0\r\nContent-Type: text/plain\r\n" +
      "Date: Mon, 05 Jun 2006 18:49:54 GMT\r\nContent-Length: 13\r\n\r\n" +
      "Hello, world!",
  );
  assertEquals(w.chunks.length, 2); // the head in one write, then the body
});

Deno.test("async apps, async bodies, async writers", async (t) => {
  const asyncGen = async function* () {
    yield enc("one ");
    await new Promise((r) => setTimeout(r, 1));
    yield enc("two");
  };
  for (const mode of ["sync", "async"] as const) {
    await t.step(`async app and async generator, ${mode} writer`, async () => {
      const w = new Recorder(mode);
      const h = new BaseCGIHandler(new BytesIO(), w, new StringIO(), {});
      h.osEnviron = {};
      await h.run(async (_e, s) => {
        await new Promise((r) => setTimeout(r, 1));
        s("200 OK", []);
        return asyncGen();
      });
      assertEquals(w.text, "Status: 200 OK\r\n\r\none two");
    });
    await t.step(
      `write() calls are queued in order, ${mode} writer`,
      async () => {
        const w = new Recorder(mode, 3);
        const h = new BaseCGIHandler(new BytesIO(), w, new StringIO(), {});
        h.osEnviron = {};
        await h.run(async (_e, s) => {
          const write = s("200 OK", []);
          write(enc("a1 "));
          write(enc("a2 "));
          await Promise.resolve();
          write(enc("a3 "));
          return (function* () {
            write(enc("g1 "));
            yield enc("b1 ");
            write(enc("g2 "));
            yield enc("b2");
          })();
        });
        assertEquals(w.text, "Status: 200 OK\r\n\r\na1 a2 a3 g1 b1 g2 b2");
      },
    );
  }
  await t.step("a sync generator and a Set", async () => {
    for (const body of [new Set([enc("x"), enc("y")]), [enc("x"), enc("y")]]) {
      const h = new TestHandler();
      await h.run((_e, s) => {
        s("200 OK", []);
        return body;
      });
      assertEquals(h.out, "Status: 200 OK\r\n\r\nxy");
    }
  });
  await t.step("a failed async app write() surfaces once, logged", async () => {
    let calls = 0;
    const writer = {
      write(p: Uint8Array): Promise<number> {
        calls++;
        if (calls === 2) return Promise.reject(new Error("disk full"));
        return Promise.resolve(p.length);
      },
    };
    const stderr = new StringIO();
    let closed = 0;
    const h = new BaseCGIHandler(new BytesIO(), writer, stderr, {});
    h.osEnviron = {};
    await h.run((_e, s) => {
      const write = s("200 OK", []);
      write(enc("first")); // head, then "first" fails
      write(enc("second")); // skipped
      return Object.assign([enc("body")], { close: () => void closed++ });
    });
    assertEquals(calls, 2);
    assertEquals(closed, 1);
    assertEquals(stderr.getValue().match(/disk full/g)?.length, 1);
  });
  await t.step("the app sees a failed write on its next write()", async () => {
    const writer = {
      write: (_p: Uint8Array) => Promise.reject(new Deno.errors.BrokenPipe()),
    };
    let sawError: unknown;
    const stderr = new StringIO();
    const h = new BaseCGIHandler(new BytesIO(), writer, stderr, {});
    h.osEnviron = {};
    await h.run(async (_e, s) => {
      const write = s("200 OK", []);
      write(enc("x"));
      await new Promise((r) => setTimeout(r, 5));
      try {
        write(enc("y"));
      } catch (e) {
        sawError = e;
      }
      return [];
    });
    assertInstanceOf(sawError, Deno.errors.BrokenPipe);
    assertEquals(stderr.getValue(), "");
  });
});

Deno.test("ReadableStream bodies", async (t) => {
  await t.step("read chunk by chunk", async () => {
    const h = new TestHandler();
    await h.run((_e, s) => {
      s("200 OK", []);
      return ReadableStream.from([enc("a"), enc("b"), enc("c")]);
    });
    assertEquals(h.out, "Status: 200 OK\r\n\r\nabc");
  });
  await t.step("cancelled when the client goes away", async () => {
    let cancelled: unknown = "not cancelled";
    let pulled = 0;
    let written = 0;
    const writer = {
      write(p: Uint8Array): number {
        if (++written === 3) throw new Deno.errors.ConnectionReset("gone");
        return p.length;
      },
    };
    const stderr = new StringIO();
    const h = new BaseCGIHandler(new BytesIO(), writer, stderr, {});
    h.osEnviron = {};
    await h.run((_e, s) => {
      s("200 OK", []);
      return new ReadableStream<Uint8Array>({
        pull(c) {
          c.enqueue(enc(`chunk ${pulled++}`));
        },
        cancel(reason) {
          cancelled = reason;
        },
      });
    });
    assertInstanceOf(cancelled, Deno.errors.ConnectionReset);
    assertEquals(stderr.getValue(), "");
    assert(pulled < 10);
  });
  await t.step("a stream that errors: logged after output", async () => {
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      s("200 OK", []);
      return new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc("part"));
        },
        pull(c) {
          c.error(new Error("stream broke"));
        },
      });
    });
    assertEquals(h.out, "Status: 200 OK\r\n\r\npart");
    assertStringIncludes(h.err, "stream broke");
  });
  await t.step("a stream with close() is closed once", async () => {
    let closed = 0;
    const h = new TestHandler();
    await h.run((_e, s) => {
      s("200 OK", []);
      return Object.assign(ReadableStream.from([enc("z")]), {
        close: () => void closed++,
      });
    });
    assertEquals(closed, 1);
    assertEquals(h.out, "Status: 200 OK\r\n\r\nz");
  });
});

Deno.test("close() is called exactly once on every path", async (t) => {
  const body = (counter: { n: number }, chunks: Uint8Array[], async = false) =>
    Object.assign(chunks, {
      close: async
        ? async () => {
          await Promise.resolve();
          counter.n++;
        }
        : () => void counter.n++,
    });
  for (const asyncClose of [false, true]) {
    const tag = asyncClose ? "async close" : "sync close";
    await t.step(`success, ${tag}`, async () => {
      const c = { n: 0 };
      const h = new TestHandler();
      await h.run((_e, s) => {
        s("200 OK", []);
        return body(c, [enc("ok")], asyncClose);
      });
      assertEquals(c.n, 1);
    });
    await t.step(`body write fails before output, ${tag}`, async () => {
      const c = { n: 0 };
      const h = new ErrorHandler();
      await h.run((_e, s) => {
        s("200 OK", []);
        return body(c, ["not bytes" as unknown as Uint8Array], asyncClose);
      });
      assertEquals(c.n, 1);
      assert(h.out.startsWith("Status: 500"));
      assertStringIncludes(h.err, "body chunks must be Uint8Array");
    });
    await t.step(`error while handling the error, ${tag}`, async () => {
      const c = { n: 0 };
      const h = new ErrorHandler();
      h.logException = () => {
        throw new Error("the log is broken");
      };
      const e = await assertRejects(() =>
        h.run((_e, s) => {
          s("200 OK", []);
          return body(c, [enc("a"), 42 as unknown as Uint8Array], asyncClose);
        })
      );
      assertEquals((e as Error).message, "the log is broken");
      assertEquals(c.n, 1);
      assertEquals(h.result, undefined); // close() reset the state
    });
    await t.step(`async app write fails before the body, ${tag}`, async () => {
      const c = { n: 0 };
      const w = {
        write: () => Promise.reject(new Deno.errors.BrokenPipe()),
      };
      const h = new BaseCGIHandler(new BytesIO(), w, new StringIO(), {});
      h.osEnviron = {};
      await h.run((_e, s) => {
        s("200 OK", [])(enc("x"));
        return body(c, [enc("never sent")], asyncClose);
      });
      assertEquals(c.n, 1);
    });
  }
  await t.step("the client goes away during the error page", async () => {
    const writer = {
      write(_p: Uint8Array): number {
        throw new Deno.errors.BrokenPipe("gone");
      },
    };
    const stderr = new StringIO();
    let closed = 0;
    const h = new BaseCGIHandler(new BytesIO(), writer, stderr, {});
    h.osEnviron = {};
    await h.run((_e, s) => {
      s("200 OK", []);
      return Object.assign([42 as unknown as Uint8Array], {
        close: () => void closed++,
      });
    });
    assertEquals(closed, 1);
    assertStringIncludes(stderr.getValue(), "AssertionError"); // the first error
    assertEquals(h.result, undefined); // closed and reset
  });
  await t.step("a close() that throws is reported", async () => {
    const h = new ErrorHandler();
    let calls = 0;
    await h.run((_e, s) => {
      s("200 OK", []);
      return Object.assign([enc("x")], {
        close() {
          calls++;
          throw new Error("close failed");
        },
      });
    });
    assertEquals(calls, 1);
    assertStringIncludes(h.err, "close failed");
  });
});

Deno.test("bad bodies get the error page", async () => {
  for (
    const bad of [undefined, enc("bare"), 42, { notIterable: true }]
  ) {
    const h = new ErrorHandler();
    await h.run((_e, s) => {
      s("200 OK", []);
      return bad as unknown as ResponseBody;
    });
    assert(h.out.startsWith("Status: 500 Internal Server Error"), h.out);
    assertStringIncludes(h.err, "AssertionError");
  }
});

Deno.test("write() after the response ended says so", async () => {
  const h = new ErrorHandler();
  let write!: (d: Uint8Array) => void;
  await h.run((_e, s) => {
    write = s("200 OK", []);
    return [];
  });
  assertThrows(
    () => write(enc("late")),
    Error,
    "write() called after the response ended",
  );
});

Deno.test("FileWrapper bodies go through sendfile()", async (t) => {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "file contents\n");
  try {
    await t.step("by default the file is iterated, then closed", async () => {
      const file = await Deno.open(path);
      const h = new TestHandler();
      await h.run((e, s) => {
        s("200 OK", []);
        return e["wsgi.file_wrapper"]!(file, 4);
      });
      assertEquals(h.out, "Status: 200 OK\r\n\r\nfile contents\n");
      assertThrows(() => file.readSync(new Uint8Array(1))); // closed
    });
    await t.step("a subclass may send it itself", async () => {
      class FastHandler extends TestHandler {
        sent = "";
        override async sendfile(): Promise<boolean> {
          const wrapper = this.result as FileWrapper;
          const file = wrapper.filelike as Deno.FsFile;
          if (!this.headersSent) await this.sendHeaders();
          const data = new Uint8Array(100);
          const n = await file.read(data);
          this.sent = dec(data.subarray(0, n!));
          await this.rawWrite(data.subarray(0, n!));
          return true;
        }
      }
      const file = await Deno.open(path);
      const h = new FastHandler();
      await h.run((e, s) => {
        s("200 OK", [["Content-Length", "14"]]);
        return e["wsgi.file_wrapper"]!(file);
      });
      assertEquals(h.sent, "file contents\n");
      assertEquals(
        h.out,
        "Status: 200 OK\r\nContent-Length: 14\r\n\r\nfile contents\n",
      );
    });
    await t.step("wsgiFileWrapper = undefined disables it", () => {
      const h = new TestHandler();
      h.wsgiFileWrapper = undefined;
      h.setupEnviron();
      assert(!("wsgi.file_wrapper" in h.environ!));
      assert(!h.resultIsFile());
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("errorOutput can be overridden", async () => {
  class PoliteHandler extends ErrorHandler {
    override errorOutput(
      _environ: WSGIEnvironment,
      startResponse: StartResponse,
      error?: unknown,
    ): ResponseBody {
      startResponse("503 Service Unavailable", [["Retry-After", "5"]], error);
      return [enc("later")];
    }
  }
  const h = new PoliteHandler();
  await h.run(() => {
    throw new TypeError("nope");
  });
  assertEquals(
    h.out,
    "Status: 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 5\r\n\r\nlater",
  );
});

Deno.test("httpDate and formatDateTime", () => {
  assertEquals(formatDateTime(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  assertEquals(
    formatDateTime(Date.UTC(2006, 5, 5, 18, 49, 54)),
    "Mon, 05 Jun 2006 18:49:54 GMT",
  );
  assertMatch(httpDate(), /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
});

// ------------------------------------------------------------- CGI input

Deno.test("CONTENT_LENGTH: missing, empty, negative, junk mean no body", () => {
  for (
    const v of [undefined, "", "-1", "-0x10", "abc", "12abc", "1e3", " ", "+5"]
  ) {
    assertEquals(parseContentLength(v), 0, String(v));
  }
  assertEquals(parseContentLength("42"), 42);
  assertEquals(parseContentLength(" 42 "), 42);
  let reads = 0;
  const src = {
    readSync(_p: Uint8Array): number | null {
      reads++;
      throw new Error("stdin must not be read");
    },
  };
  const input = new LimitedInput(src, parseContentLength("-5"));
  assertEquals(input.read(), new Uint8Array());
  assertEquals(input.readline(), new Uint8Array());
  assertEquals(input.readlines(), []);
  assertEquals(reads, 0);
});

/** A reader over bytes, giving at most `step` bytes per read. */
function source(bytes: Uint8Array, step = 3) {
  let pos = 0;
  return {
    reads: 0,
    readSync(p: Uint8Array): number | null {
      this.reads++;
      if (pos >= bytes.length) return null;
      const n = Math.min(step, p.length, bytes.length - pos);
      p.set(bytes.subarray(pos, pos + n));
      pos += n;
      return n;
    },
  };
}

Deno.test("CGI input: at most CONTENT_LENGTH bytes, ends early on short stdin", () => {
  const data = enc("line one\nline two\nthe rest");
  let input = new LimitedInput(source(data), 12);
  assertEquals(dec(input.read()), "line one\nlin");
  assertEquals(dec(input.read()), "");

  input = new LimitedInput(source(data), 1000);
  assertEquals(dec(input.read(4)), "line");
  assertEquals(dec(input.readline()), " one\n");
  assertEquals(dec(input.readline(4)), "line");
  assertEquals(dec(input.readline()), " two\n");
  assertEquals(dec(input.read()), "the rest"); // shorter than 1000: ends
  assertEquals(dec(input.read(5)), "");

  input = new LimitedInput(source(data), data.length);
  assertEquals(input.readlines().map(dec), [
    "line one\n",
    "line two\n",
    "the rest",
  ]);
  input = new LimitedInput(source(data), data.length);
  assertEquals([...input].map(dec), ["line one\n", "line two\n", "the rest"]);
  input = new LimitedInput(source(data), data.length);
  assertEquals(input.readlines(3).map(dec), ["line one\n"]);
});

// --------------------------------------------------------------- environ

Deno.test("parseEnvironBlock reads raw bytes as ISO-8859-1", () => {
  const raw = new Uint8Array([
    ...enc("A=1\0PATH_INFO=/"),
    0xff,
    ...enc("/p"),
    0xc3,
    0xa4,
    ...enc("th\0EMPTY=\0NOEQUALS\0A=2\0X=a=b\0"),
  ]);
  assertEquals(parseEnvironBlock(raw), {
    A: "1",
    PATH_INFO: "/\xff/p\xc3\xa4th",
    EMPTY: "",
    X: "a=b",
  });
});

Deno.test("bytesFromInvalidDataMessage parses Rust's debug form", () => {
  const m = (s: string) => `environment variable was not valid unicode: ${s}`;
  assertEquals(bytesFromInvalidDataMessage(m('"/\\xFF"')), "/\xff");
  assertEquals(
    bytesFromInvalidDataMessage(m('"/p\u00e4th/\\xFF\\"\\\\\\n\\u{1}\\0"')),
    '/p\xc3\xa4th/\xff"\\\n\x01\x00',
  );
  assertEquals(bytesFromInvalidDataMessage("something else"), undefined);
  assertEquals(bytesFromInvalidDataMessage(m('"\\q"')), undefined);
  assertEquals(bytesFromInvalidDataMessage(m('"\\xZZ"')), undefined);
});

const APP = new URL("./_cgi_app.ts", import.meta.url).pathname;

/**
 * Runs the CGI test app as a web server would: a clean environment given as
 * raw bytes through `/usr/bin/env` (Deno.Command only takes strings), the
 * body on stdin.
 */
async function runCgi(
  env: Record<string, Uint8Array | string>,
  flags: string[],
  stdin: Uint8Array = new Uint8Array(),
): Promise<{ out: Uint8Array; err: string; code: number }> {
  // printf's octal escapes carry any byte through sh into the environment.
  const assigns = Object.entries(env).map(([k, v]) => {
    const bytes = typeof v === "string" ? enc(v) : v;
    const oct = [...bytes].map((b) => "\\" + b.toString(8).padStart(3, "0"))
      .join("");
    return `${k}="$(printf '${oct}')"`;
  });
  const script = `exec env -i ${assigns.join(" ")} "$DENO" run --no-config ` +
    `--no-lock ${flags.join(" ")} "$APP"`;
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", script],
    env: { DENO: Deno.execPath(), APP },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(stdin);
  await writer.close();
  const { stdout, stderr, code } = await child.output();
  return { out: stdout, err: new TextDecoder().decode(stderr), code };
}

const PATH_BYTES = new Uint8Array([
  ...enc("/p"),
  0xc3,
  0xa4,
  ...enc("th/"),
  0xff,
]);

for (const flags of [["--allow-env"], ["-A"]]) {
  Deno.test(`CGIHandler: byte-exact environ with ${flags}`, async () => {
    const { out, err, code } = await runCgi({
      REQUEST_METHOD: "GET",
      SCRIPT_NAME: "/cgi",
      PATH_INFO: PATH_BYTES,
      QUERY_STRING: "q=%FF&r=1",
      SERVER_PROTOCOL: "HTTP/1.1",
      HTTP_X_RAW: new Uint8Array([0x61, 0xe9, 0xff]),
    }, flags);
    assertEquals(err, "");
    assertEquals(code, 0);
    const text = dec(out);
    assertStringIncludes(text, "Status: 200 OK\r\n");
    assertStringIncludes(text, "\nPATH_INFO=/p\xc3\xa4th/\xff\n");
    assertStringIncludes(text, "\nQUERY_STRING=q=%FF&r=1\n");
    assertStringIncludes(text, "\nwsgi.run_once=true\n");
    assertStringIncludes(text, "\nwsgi.multithread=false\n");
    assertStringIncludes(text, "\nwsgi.multiprocess=true\n");
    if (flags[0] === "-A") {
      // Only /proc/self/environ has every variable's bytes.
      assertStringIncludes(text, "\nHTTP_X_RAW=a\xe9\xff\n");
    }
  });
}

Deno.test("CGIHandler: POST bodies and bad CONTENT_LENGTH", async (t) => {
  const post = (cl: string | undefined, body: string) => {
    const env: Record<string, string> = {
      REQUEST_METHOD: "POST",
      PATH_INFO: "/post",
      SERVER_PROTOCOL: "HTTP/1.0",
    };
    if (cl !== undefined) env.CONTENT_LENGTH = cl;
    return runCgi(env, ["--allow-env"], enc(body));
  };
  const bodyOf = (out: Uint8Array) => dec(out).split("\r\n\r\n")[1];
  await t.step("exactly CONTENT_LENGTH bytes", async () => {
    const { out } = await post("5", "hello world");
    assertEquals(bodyOf(out), "hello");
  });
  await t.step("stdin shorter than CONTENT_LENGTH ends early", async () => {
    const { out } = await post("1000", "short");
    assertEquals(bodyOf(out), "short");
  });
  for (const cl of [undefined, "", "-3", "lots"]) {
    await t.step(
      `CONTENT_LENGTH ${JSON.stringify(cl)} means no body`,
      async () => {
        const { out } = await post(cl, "ignored");
        assertEquals(
          dec(out),
          "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n" +
            "Content-Length: 0\r\n\r\n",
        );
      },
    );
  }
});

Deno.test("CGIHandler: the error page and the log on stderr", async () => {
  const { out, err, code } = await runCgi({
    REQUEST_METHOD: "GET",
    PATH_INFO: "/fail",
  }, ["--allow-env"]);
  assertEquals(code, 0);
  assertEquals(
    dec(out),
    "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n" +
      "Content-Length: 59\r\n\r\n" +
      "A server error occurred.  Please contact the administrator.",
  );
  assertStringIncludes(err, "Error: boom from the app at /fail");
});

Deno.test("IISCGIHandler removes the repeated SCRIPT_NAME", async () => {
  const cases: [string, string, string][] = [
    ["/app.cgi", "/app.cgi/some/path", "/some/path"],
    ["/app.cgi", "/app.cgi", ""],
    ["/app.cgi", "/other/path", "/other/path"],
    ["/app", "/application/x", "/application/x"],
  ];
  for (const [script, path, expected] of cases) {
    const { out } = await runCgi({
      WSGIREF_TEST_HANDLER: "iis",
      SCRIPT_NAME: script,
      PATH_INFO: path,
    }, ["--allow-env"]);
    assertStringIncludes(dec(out), `\nPATH_INFO=${expected}\n`);
  }
});

Deno.test("readEnviron without permission says what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/read.ts`;
    await Deno.writeTextFile(
      script,
      `import { readEnviron } from ${
        JSON.stringify(new URL("../handlers.ts", import.meta.url).href)
      };
try { readEnviron(); } catch (e) { console.log(e.name + ": " + e.message); }`,
    );
    const { stdout, code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-lock", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(code, 0);
    assertEquals(
      new TextDecoder().decode(stdout),
      "NotCapable: readEnviron() needs the process environment: run with " +
        "--allow-env (or -A on Linux, for every variable byte-exact)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readEnviron in this process (-A: /proc/self/environ)", () => {
  const env = readEnviron();
  assertEquals(env.PATH, Deno.env.get("PATH"));
});

Deno.test("CGIHandler class settings", () => {
  const c = new CGIHandler();
  assertEquals(c.wsgiRunOnce, true);
  assertEquals(c.wsgiMultithread, false);
  assertEquals(c.wsgiMultiprocess, true);
  assertEquals(c.originServer, false);
  assertEquals(c.osEnviron, {});
});
