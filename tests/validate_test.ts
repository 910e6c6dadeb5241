import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
} from "@std/assert";
import { AssertionError, validator, WSGIWarning } from "../validate.ts";
import { BytesIO, setupTestingDefaults, StringIO } from "../util.ts";
import type {
  ResponseBody,
  StartResponse,
  WriteFn,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** An environ as a server would build it, with no warnings to give. */
function makeEnviron(extra: Record<string, unknown> = {}): WSGIEnvironment {
  const environ: WSGIEnvironment = { QUERY_STRING: "", ...extra };
  setupTestingDefaults(environ);
  return environ;
}

interface Call {
  status: string;
  headers: [string, string][];
  excInfo?: unknown;
  args: number;
  written: Uint8Array[];
}

/** A server-side startResponse that records what it is given. */
function recorder(): { startResponse: StartResponse; calls: Call[] } {
  const calls: Call[] = [];
  const startResponse: StartResponse = (...args: unknown[]): WriteFn => {
    const call: Call = {
      status: args[0] as string,
      headers: args[1] as [string, string][],
      excInfo: args[2],
      args: args.length,
      written: [],
    };
    calls.push(call);
    return (data) => void call.written.push(data);
  };
  return { startResponse, calls };
}

/** Runs `fn`, which must throw an AssertionError with exactly `message`. */
async function assertFails(
  fn: () => unknown,
  message: string,
): Promise<AssertionError> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert(error !== undefined, `expected AssertionError: ${message}`);
  if (!(error instanceof AssertionError)) throw error;
  assertEquals(error.name, "AssertionError");
  assertEquals(error.message, message);
  return error;
}

/** Drains a body as a server would (sync if it can), then closes it. */
async function drain(body: ResponseBody): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  try {
    if (Symbol.iterator in body) {
      for (const chunk of body as Iterable<Uint8Array>) chunks.push(chunk);
    } else {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        chunks.push(chunk);
      }
    }
  } finally {
    await body.close?.();
  }
  return chunks;
}

/** Wraps `app`, runs it on `environ`, drains the body; returns what it saw. */
async function run(
  app: WSGIApplication,
  environ: WSGIEnvironment = makeEnviron(),
) {
  const warnings: WSGIWarning[] = [];
  const checked = validator(app, { onWarning: (w) => warnings.push(w) });
  const { startResponse, calls } = recorder();
  const body = await checked(environ, startResponse);
  const chunks = await drain(body);
  return { warnings, calls, chunks, body };
}

const hello: WSGIApplication = (_environ, startResponse) => {
  startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Date", "Mon, 05 Jun 2006 18:49:54 GMT"],
  ]);
  return [enc("Hello, world!")];
};

/** An app that answers with `status` and `headers` and no body. */
function answering(
  status: unknown,
  headers: unknown,
  ...rest: unknown[]
): WSGIApplication {
  return (_environ, startResponse) => {
    (startResponse as (...a: unknown[]) => WriteFn)(status, headers, ...rest);
    return [];
  };
}

Deno.test("validator: a conforming app passes untouched", async (t) => {
  await t.step("sync app, sync body", async () => {
    const { warnings, calls, chunks, body } = await run(hello);
    assertEquals(warnings, []);
    assertEquals(calls.length, 1);
    assertEquals(calls[0].status, "200 OK");
    assertEquals(calls[0].args, 2);
    assertEquals(calls[0].headers, [
      ["Content-Type", "text/plain"],
      ["Date", "Mon, 05 Jun 2006 18:49:54 GMT"],
    ]);
    assertEquals(chunks.map(dec), ["Hello, world!"]);
    // Like wsgiref's IteratorWrapper, the body is no longer an array, so a
    // server cannot compute Content-Length from it.
    assert(!Array.isArray(body));
    assert(Symbol.iterator in body);
    assert(!(Symbol.asyncIterator in body));
  });

  await t.step("the validator returns a function of two parameters", () => {
    const checked = validator(hello);
    assertEquals(typeof checked, "function");
  });

  await t.step("async app returns a promise, sync otherwise", async () => {
    const checkedSync = validator(hello);
    const { startResponse } = recorder();
    const syncResult = checkedSync(makeEnviron(), startResponse);
    assert(!(syncResult instanceof Promise));
    await drain(syncResult as ResponseBody);

    const asyncApp: WSGIApplication = async (environ, startResponse) => {
      await Promise.resolve();
      return hello(environ, startResponse);
    };
    const asyncResult = validator(asyncApp)(makeEnviron(), startResponse);
    assertInstanceOf(asyncResult, Promise);
    assertEquals((await drain(await asyncResult)).map(dec), ["Hello, world!"]);
  });

  await t.step("async generator body stays async", async () => {
    const app: WSGIApplication = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (async function* () {
        yield enc("one ");
        yield enc("two");
      })();
    };
    const { chunks, body } = await run(app);
    assertEquals(chunks.map(dec), ["one ", "two"]);
    assert(!(Symbol.iterator in body));
    assert(Symbol.asyncIterator in body);
  });

  await t.step("ReadableStream body is checked as an async body", async () => {
    const app: WSGIApplication = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return ReadableStream.from([enc("a"), enc("b")]);
    };
    const { chunks, body } = await run(app);
    assertEquals(chunks.map(dec), ["a", "b"]);
    assert(Symbol.asyncIterator in body);
  });

  await t.step("a body both sync and async stays both", async () => {
    const both = {
      *[Symbol.iterator]() {
        yield enc("sync");
      },
      async *[Symbol.asyncIterator]() {
        yield enc("async");
      },
    };
    const app: WSGIApplication = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return both;
    };
    const { chunks, body } = await run(app);
    assertEquals(chunks.map(dec), ["sync"]);
    assert(Symbol.asyncIterator in body);
  });

  await t.step("write() passes bytes through", async () => {
    const app: WSGIApplication = (_environ, startResponse) => {
      const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
      write(enc("written"));
      return [];
    };
    const { calls } = await run(app);
    assertEquals(calls[0].written.map(dec), ["written"]);
  });

  await t.step(
    "excInfo is passed through with its argument count",
    async () => {
      const error = new Error("boom");
      const { calls } = await run(
        answering("500 Oops", [["Content-Type", "text/plain"]], error),
      );
      assertEquals(calls[0].args, 3);
      assertStrictEquals(calls[0].excInfo, error);
    },
  );

  await t.step("204 and 304 need no Content-Type", async () => {
    for (const status of ["204 No Content", "304 Not Modified"]) {
      const { warnings, calls } = await run(answering(status, []));
      assertEquals(warnings, []);
      assertEquals(calls[0].status, status);
    }
  });

  await t.step("a body generator may call startResponse itself", async () => {
    const app: WSGIApplication = (_environ, startResponse) =>
      (function* () {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        yield enc("late");
      })();
    const { chunks } = await run(app);
    assertEquals(chunks.map(dec), ["late"]);
  });
});

Deno.test("validator: the call and the environ", async (t) => {
  await t.step("exactly two arguments", async () => {
    const checked = validator(hello) as (...args: unknown[]) => unknown;
    const { startResponse } = recorder();
    await assertFails(
      () => checked(makeEnviron()),
      "Two arguments required",
    );
    await assertFails(
      () => checked(makeEnviron(), startResponse, {}),
      "Two arguments required",
    );
  });

  await t.step("the environ is a plain object", async () => {
    const checked = validator(hello) as (...args: unknown[]) => unknown;
    const { startResponse } = recorder();
    await assertFails(
      () => checked(new Map([["REQUEST_METHOD", "GET"]]), startResponse),
      "Environment is not of the right type: Map " +
        '(environment: Map(1) { "REQUEST_METHOD" => "GET" })',
    );
    await assertFails(
      () => checked(null, startResponse),
      "Environment is not of the right type: null (environment: null)",
    );
  });

  await t.step("the app is not called when the environ is broken", async () => {
    let called = false;
    const app: WSGIApplication = (environ, startResponse) => {
      called = true;
      return hello(environ, startResponse);
    };
    const environ = makeEnviron();
    delete environ.SERVER_NAME;
    const { startResponse } = recorder();
    await assertFails(
      () => validator(app)(environ, startResponse),
      "Environment missing required key: 'SERVER_NAME'",
    );
    assert(!called);
  });

  await t.step("every required key", async () => {
    for (
      const key of [
        "REQUEST_METHOD",
        "SERVER_NAME",
        "SERVER_PORT",
        "wsgi.version",
        "wsgi.input",
        "wsgi.errors",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
      ]
    ) {
      const environ = makeEnviron();
      delete environ[key];
      await assertFails(
        () => run(hello, environ),
        `Environment missing required key: '${key}'`,
      );
      // A key set to undefined is missing too.
      await assertFails(
        () => run(hello, makeEnviron({ [key]: undefined })),
        `Environment missing required key: '${key}'`,
      );
    }
  });

  await t.step("no HTTP_CONTENT_TYPE or HTTP_CONTENT_LENGTH", async () => {
    await assertFails(
      () => run(hello, makeEnviron({ HTTP_CONTENT_TYPE: "text/plain" })),
      "Environment should not have the key: HTTP_CONTENT_TYPE " +
        "(use CONTENT_TYPE instead)",
    );
    await assertFails(
      () => run(hello, makeEnviron({ HTTP_CONTENT_LENGTH: "0" })),
      "Environment should not have the key: HTTP_CONTENT_LENGTH " +
        "(use CONTENT_LENGTH instead)",
    );
  });

  await t.step("CGI variables are strings; extensions are free", async () => {
    await assertFails(
      () => run(hello, makeEnviron({ SERVER_PORT: 80 })),
      "Environmental variable SERVER_PORT is not a string: number (value: 80)",
    );
    await assertFails(
      () => run(hello, makeEnviron({ HTTP_X_LIST: ["a", "b"] })),
      "Environmental variable HTTP_X_LIST is not a string: Array " +
        "(value: ['a', 'b'])",
    );
    const { warnings } = await run(
      hello,
      makeEnviron({ "my.extension": 42, "wsgi.extra": { a: 1 } }),
    );
    assertEquals(warnings, []);
  });

  await t.step("wsgi.version is like [1, 0]", async () => {
    await assertFails(
      () => run(hello, makeEnviron({ "wsgi.version": "1.0" })),
      "wsgi.version should be an array like [1, 0] ('1.0')",
    );
    await assertFails(
      () => run(hello, makeEnviron({ "wsgi.version": [1] })),
      "wsgi.version should be an array like [1, 0] ([1])",
    );
  });

  await t.step("wsgi.url_scheme is http or https", async () => {
    await assertFails(
      () =>
        run(
          hello,
          makeEnviron({ "wsgi.url_scheme": "ftp", SERVER_PORT: "21" }),
        ),
      "wsgi.url_scheme unknown: 'ftp'",
    );
    const environ = makeEnviron();
    delete environ["wsgi.url_scheme"];
    await assertFails(
      () => run(hello, environ),
      "wsgi.url_scheme unknown: undefined",
    );
    const { warnings } = await run(
      hello,
      makeEnviron({ "wsgi.url_scheme": "https" }),
    );
    assertEquals(warnings, []);
  });

  await t.step(
    "wsgi.input has read, readline, readlines, iterator",
    async () => {
      const input = {
        read: () => new Uint8Array(),
        readline: () => new Uint8Array(),
        readlines: () => [],
        *[Symbol.iterator]() {},
      };
      const iter = "[Symbol(Symbol.iterator)]: " +
        "[GeneratorFunction: [Symbol.iterator]]";
      const cases: [string, string][] = [
        [
          "read",
          `{ readline: [Function: readline], readlines: [Function: readlines], ${iter} }`,
        ],
        [
          "readline",
          `{ read: [Function: read], readlines: [Function: readlines], ${iter} }`,
        ],
        [
          "readlines",
          `{ read: [Function: read], readline: [Function: readline], ${iter} }`,
        ],
      ];
      for (const [key, shown] of cases) {
        const broken: Record<PropertyKey, unknown> = { ...input };
        delete broken[key];
        await assertFails(
          () => run(hello, makeEnviron({ "wsgi.input": broken })),
          `wsgi.input (${shown}) doesn't have the attribute ${key}`,
        );
      }
      await assertFails(
        () => run(hello, makeEnviron({ "wsgi.input": "body" })),
        "wsgi.input ('body') doesn't have the attribute read",
      );
      const noIter = new (class NoIter {
        read() {}
        readline() {}
        readlines() {}
      })();
      await assertFails(
        () => run(hello, makeEnviron({ "wsgi.input": noIter })),
        "wsgi.input (NoIter {}) doesn't have the attribute [Symbol.iterator]",
      );
    },
  );

  await t.step("wsgi.errors has flush, write, writelines", async () => {
    const cases: [string, string][] = [
      [
        "flush",
        "{ write: [Function: write], writelines: [Function: writelines] }",
      ],
      [
        "write",
        "{ flush: [Function: flush], writelines: [Function: writelines] }",
      ],
      ["writelines", "{ flush: [Function: flush], write: [Function: write] }"],
    ];
    for (const [attr, shown] of cases) {
      const errors: Record<string, unknown> = {
        flush() {},
        write() {},
        writelines() {},
      };
      delete errors[attr];
      await assertFails(
        () => run(hello, makeEnviron({ "wsgi.errors": errors })),
        `wsgi.errors (${shown}) doesn't have the attribute ${attr}`,
      );
    }
    await assertFails(
      () => run(hello, makeEnviron({ "wsgi.errors": null })),
      "wsgi.errors (null) doesn't have the attribute flush",
    );
  });

  await t.step("SCRIPT_NAME and PATH_INFO start with /", async () => {
    await assertFails(
      () => run(hello, makeEnviron({ SCRIPT_NAME: "app", PATH_INFO: "/" })),
      "SCRIPT_NAME doesn't start with /: 'app'",
    );
    await assertFails(
      () => run(hello, makeEnviron({ SCRIPT_NAME: "", PATH_INFO: "x" })),
      "PATH_INFO doesn't start with /: 'x'",
    );
    const { warnings } = await run(
      hello,
      makeEnviron({ SCRIPT_NAME: "/app", PATH_INFO: "" }),
    );
    assertEquals(warnings, []);
  });

  await t.step("CONTENT_LENGTH is a non-negative integer", async () => {
    for (const bad of ["-1", "abc", "1.5", " 3"]) {
      await assertFails(
        () => run(hello, makeEnviron({ CONTENT_LENGTH: bad })),
        `Invalid CONTENT_LENGTH: '${bad}'`,
      );
    }
    for (const good of ["", "0", "17"]) {
      const { warnings } = await run(
        hello,
        makeEnviron({ CONTENT_LENGTH: good }),
      );
      assertEquals(warnings, []);
    }
  });

  await t.step("one of SCRIPT_NAME and PATH_INFO", async () => {
    const environ = makeEnviron({ SCRIPT_NAME: "" });
    delete environ.PATH_INFO;
    await assertFails(
      () => run(hello, environ),
      "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO " +
        "should at least be '/' if SCRIPT_NAME is empty)",
    );
  });

  await t.step("SCRIPT_NAME is never /", async () => {
    await assertFails(
      () => run(hello, makeEnviron({ SCRIPT_NAME: "/", PATH_INFO: "" })),
      "SCRIPT_NAME cannot be '/'; it should instead be '', and " +
        "PATH_INFO should be '/'",
    );
  });

  await t.step("warning: QUERY_STRING missing", async () => {
    const environ = makeEnviron();
    delete environ.QUERY_STRING;
    const { warnings, chunks } = await run(hello, environ);
    assertEquals(chunks.map(dec), ["Hello, world!"]);
    assertEquals(warnings.length, 1);
    assertInstanceOf(warnings[0], WSGIWarning);
    assertEquals(warnings[0].name, "WSGIWarning");
    assertEquals(
      warnings[0].message,
      "QUERY_STRING is not in the WSGI environment; the cgi module will " +
        "use sys.argv when this variable is missing, so application " +
        "errors are more likely",
    );
  });

  await t.step("warning: unknown REQUEST_METHOD", async () => {
    const { warnings } = await run(
      hello,
      makeEnviron({ REQUEST_METHOD: "BREW" }),
    );
    assertEquals(warnings.map((w) => w.message), [
      "Unknown REQUEST_METHOD: 'BREW'",
    ]);
    for (
      const method of [
        "GET",
        "HEAD",
        "POST",
        "OPTIONS",
        "PATCH",
        "PUT",
        "DELETE",
        "TRACE",
      ]
    ) {
      const ok = await run(hello, makeEnviron({ REQUEST_METHOD: method }));
      assertEquals(ok.warnings, [], method);
    }
  });
});

Deno.test("validator: wsgi.input and wsgi.errors", async (t) => {
  /** Runs an app that does `use(environ)` first; returns the environ. */
  const using =
    (use: (environ: WSGIEnvironment) => void): WSGIApplication =>
    (environ, startResponse) => {
      use(environ);
      return hello(environ, startResponse);
    };
  const body = () => new BytesIO(enc("line 1\nline 2\n"));

  await t.step("read() takes exactly one size", async () => {
    await assertFails(
      () => run(using((e) => e["wsgi.input"]!.read())),
      "wsgi.input.read() must be called with exactly one argument, " +
        "the size (got 0 arguments)",
    );
    await assertFails(
      () =>
        run(
          using((e) =>
            (e["wsgi.input"]!.read as (...a: number[]) => Uint8Array)(1, 2)
          ),
        ),
      "wsgi.input.read() must be called with exactly one argument, " +
        "the size (got 2 arguments)",
    );
    let got: Uint8Array | undefined;
    await run(
      using((e) => got = e["wsgi.input"]!.read(4)),
      makeEnviron({ "wsgi.input": body() }),
    );
    assertEquals(dec(got!), "line");
  });

  await t.step("readline() and readlines() take at most one", async () => {
    const lines: string[] = [];
    await run(
      using((e) => {
        lines.push(dec(e["wsgi.input"]!.readline()));
        lines.push(dec(e["wsgi.input"]!.readline(3)));
        lines.push(...e["wsgi.input"]!.readlines().map(dec));
      }),
      makeEnviron({ "wsgi.input": body() }),
    );
    assertEquals(lines, ["line 1\n", "lin", "e 2\n"]);
    await assertFails(
      () =>
        run(
          using((e) =>
            (e["wsgi.input"]!.readline as (...a: number[]) => Uint8Array)(1, 2)
          ),
        ),
      "wsgi.input.readline() takes at most one argument (got 2 arguments)",
    );
    await assertFails(
      () =>
        run(
          using((e) =>
            (e["wsgi.input"]!.readlines as (...a: number[]) => Uint8Array[])(
              1,
              2,
            )
          ),
        ),
      "wsgi.input.readlines() takes at most one argument (got 2 arguments)",
    );
  });

  await t.step("iterating wsgi.input yields its lines", async () => {
    let lines: string[] = [];
    await run(
      using((e) => lines = [...e["wsgi.input"]!].map(dec)),
      makeEnviron({ "wsgi.input": body() }),
    );
    assertEquals(lines, ["line 1\n", "line 2\n"]);
  });

  await t.step("wsgi.input results are Uint8Arrays", async () => {
    const textInput = {
      read: () => "text",
      readline: () => "line\n",
      readlines: () => ["a\n"],
      *[Symbol.iterator]() {},
    };
    const environ = () => makeEnviron({ "wsgi.input": textInput });
    await assertFails(
      () => run(using((e) => e["wsgi.input"]!.read(1)), environ()),
      "wsgi.input.read() returned a non-Uint8Array: 'text'",
    );
    await assertFails(
      () => run(using((e) => e["wsgi.input"]!.readline()), environ()),
      "wsgi.input.readline() returned a non-Uint8Array: 'line\\n'",
    );
    await assertFails(
      () => run(using((e) => e["wsgi.input"]!.readlines()), environ()),
      "wsgi.input.readlines() returned a non-Uint8Array: 'a\\n'",
    );
    const notArray = { ...textInput, readlines: () => "a\nb\n" };
    await assertFails(
      () =>
        run(
          using((e) => e["wsgi.input"]!.readlines()),
          makeEnviron({ "wsgi.input": notArray }),
        ),
      "wsgi.input.readlines() returned a non-array: 'a\\nb\\n'",
    );
  });

  await t.step("close() on wsgi.input or wsgi.errors is an error", async () => {
    const close = (stream: unknown) => (stream as { close(): void }).close();
    await assertFails(
      () => run(using((e) => close(e["wsgi.input"]))),
      "input.close() must not be called",
    );
    await assertFails(
      () => run(using((e) => close(e["wsgi.errors"]))),
      "errors.close() must not be called",
    );
  });

  await t.step("wsgi.errors takes strings only", async () => {
    const errors = new StringIO();
    await run(
      using((e) => {
        e["wsgi.errors"]!.write("one\n");
        e["wsgi.errors"]!.writelines(["two\n", "three\n"]);
        e["wsgi.errors"]!.flush();
      }),
      makeEnviron({ "wsgi.errors": errors }),
    );
    assertEquals(errors.getValue(), "one\ntwo\nthree\n");
    await assertFails(
      () =>
        run(
          using((e) =>
            e["wsgi.errors"]!.write(enc("bytes") as unknown as string)
          ),
        ),
      "wsgi.errors.write() argument must be a string (got " +
        "Uint8Array(5) [ 98, 121, 116, 101, 115 ])",
    );
    await assertFails(
      () =>
        run(
          using((e) =>
            e["wsgi.errors"]!.writelines([42] as unknown as string[])
          ),
        ),
      "wsgi.errors.write() argument must be a string (got 42)",
    );
    await assertFails(
      () =>
        run(
          using((e) =>
            (e["wsgi.errors"]!.write as (...a: string[]) => void)("a", "b")
          ),
        ),
      "wsgi.errors.write() takes exactly one argument (got 2 arguments)",
    );
  });
});

Deno.test("validator: startResponse", async (t) => {
  const ct: [string, string][] = [["Content-Type", "text/plain"]];

  await t.step("two or three arguments", async () => {
    await assertFails(
      () => run(answering("200 OK", ct, undefined, "extra")),
      "Invalid number of arguments: " +
        "['200 OK', [['Content-Type', 'text/plain']], undefined, 'extra']",
    );
    const oneArg: WSGIApplication = (_environ, startResponse) => {
      (startResponse as (...a: unknown[]) => WriteFn)("200 OK");
      return [];
    };
    await assertFails(
      () => run(oneArg),
      "Invalid number of arguments: ['200 OK']",
    );
  });

  await t.step("status is a string", async () => {
    await assertFails(
      () => run(answering(200, ct)),
      "Status must be of type string (got 200)",
    );
  });

  await t.step("status starts with a three-digit code >= 100", async () => {
    await assertFails(
      () => run(answering("2000 OK", ct)),
      "Status codes must be three characters: '2000'",
    );
    await assertFails(
      () => run(answering("200OK", ct)),
      "Status codes must be three characters: '200OK'",
    );
    await assertFails(
      () => run(answering("", ct)),
      "Status codes must be three characters: ''",
    );
    await assertFails(
      () => run(answering("20X OK", ct)),
      "Status code is invalid: '20X'",
    );
    await assertFails(
      () => run(answering("099 Low", ct)),
      "Status code is invalid: 99",
    );
  });

  await t.step("warning: status without a reason phrase", async () => {
    const { warnings, calls } = await run(answering("200", ct));
    assertEquals(calls[0].status, "200");
    assertEquals(warnings.map((w) => w.message), [
      "The status string ('200') should be a three-digit integer " +
      "followed by a single space and a status explanation",
    ]);
    const tab = await run(answering("200\tOK", ct));
    assertEquals(tab.warnings.map((w) => w.message), [
      "The status string ('200\\tOK') should be a three-digit integer " +
      "followed by a single space and a status explanation",
    ]);
  });

  await t.step("headers are an array", async () => {
    await assertFails(
      () => run(answering("200 OK", { "Content-Type": "text/plain" })),
      "Headers ({ 'Content-Type': 'text/plain' }) must be of type array: " +
        "Object",
    );
    await assertFails(
      () =>
        run(answering("200 OK", new Headers({ "Content-Type": "text/plain" }))),
      'Headers (Headers { "content-type": "text/plain" }) must be of type ' +
        "array: Headers",
    );
  });

  await t.step("each header is a [name, value] pair of strings", async () => {
    // wsgiref's test_simple_validation_error, where a bare pair (a tuple)
    // is given instead of a list of pairs.
    await assertFails(
      () => run(answering("200 OK", ["Content-Type", "text/plain"])),
      "Individual headers ('Content-Type') must be of type array: string",
    );
    await assertFails(
      () => run(answering("200 OK", [["Content-Type", "text/plain", "x"]])),
      "Individual headers (['Content-Type', 'text/plain', 'x']) must be " +
        "[name, value] pairs (got 3 items)",
    );
    await assertFails(
      () => run(answering("200 OK", [[1, "text/plain"]])),
      "Header name must be of type string (got 1)",
    );
    await assertFails(
      () => run(answering("200 OK", [["Content-Type", 3]])),
      "Header value must be of type string (got 3)",
    );
  });

  await t.step("no Status header", async () => {
    await assertFails(
      () => run(answering("200 OK", [...ct, ["status", "200 OK"]])),
      "The Status header cannot be used; it conflicts with CGI script, " +
        "and HTTP status is not given through headers (value: '200 OK').",
    );
  });

  await t.step("header names", async () => {
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X:Y", "v"]])),
      "Header names may not contain ':' or '\\n': 'X:Y'",
    );
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X\nY", "v"]])),
      "Header names may not contain ':' or '\\n': 'X\\nY'",
    );
    for (const name of ["1X", "X Y", "", "X\u00e9"]) {
      await assertFails(
        () => run(answering("200 OK", [...ct, [name, "v"]])),
        `Bad header name: '${name}'`,
      );
    }
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X-", "v"]])),
      "Names may not end in '-' or '_': 'X-'",
    );
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X_", "v"]])),
      "Names may not end in '-' or '_': 'X_'",
    );
  });

  await t.step("header values have no control characters", async () => {
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X-A", "a\r\nb"]])),
      "Bad header value: 'a\\r\\nb' (bad char: '\\r')",
    );
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X-A", "a\x01"]])),
      "Bad header value: 'a\\x01' (bad char: '\\x01')",
    );
    await assertFails(
      () => run(answering("200 OK", [...ct, ["X-A", "tab\there"]])),
      "Bad header value: 'tab\\there' (bad char: '\\t')",
    );
  });

  await t.step("Content-Type is required, except for 204 and 304", async () => {
    await assertFails(
      () => run(answering("200 OK", [["Date", "x"]])),
      "No Content-Type header found in headers ([['Date', 'x']])",
    );
    await assertFails(
      () => run(answering("404 Not Found", [])),
      "No Content-Type header found in headers ([])",
    );
    const lower = await run(answering("200 OK", [["content-type", "a/b"]]));
    assertEquals(lower.calls[0].status, "200 OK");
  });

  await t.step("Content-Type is an error in 204 and 304", async () => {
    await assertFails(
      () => run(answering("204 No Content", ct)),
      "Content-Type header found in a 204 response, which must not " +
        "return content.",
    );
    await assertFails(
      () => run(answering("304 Not Modified", ct)),
      "Content-Type header found in a 304 response, which must not " +
        "return content.",
    );
  });

  await t.step("excInfo is absent or a thrown Error", async () => {
    await assertFails(
      () => run(answering("500 Oops", ct, "oops")),
      "excInfo ('oops') is not an Error: string",
    );
    await assertFails(
      () => run(answering("500 Oops", ct, true)),
      "excInfo (true) is not an Error: boolean",
    );
    const explicit = await run(answering("500 Oops", ct, undefined));
    assertEquals(explicit.calls[0].args, 3);
  });

  await t.step(
    "the server's startResponse is not called on an error",
    async () => {
      const checked = validator(answering("200 OK", []));
      const { startResponse, calls } = recorder();
      await assertFails(
        () => checked(makeEnviron(), startResponse),
        "No Content-Type header found in headers ([])",
      );
      assertEquals(calls, []);
    },
  );
});

Deno.test("validator: write()", async (t) => {
  const writing =
    (data: unknown): WSGIApplication => (_environ, startResponse) => {
      const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
      write(data as Uint8Array);
      return [];
    };

  await t.step("takes Uint8Array only", async () => {
    await assertFails(
      () => run(writing("text")),
      "write() argument must be a Uint8Array (got 'text')",
    );
    await assertFails(
      () => run(writing(new ArrayBuffer(2))),
      "write() argument must be a Uint8Array (got " +
        "ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2 })",
    );
  });

  await t.step("takes exactly one argument", async () => {
    const app: WSGIApplication = (_environ, startResponse) => {
      const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
      (write as (...a: unknown[]) => void)(enc("a"), enc("b"));
      return [];
    };
    await assertFails(
      () => run(app),
      "write() takes exactly one argument (got 2 arguments)",
    );
  });
});

Deno.test("validator: the body", async (t) => {
  const returning =
    (body: unknown): WSGIApplication => (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return body as ResponseBody;
    };

  await t.step("not undefined, null or false", async () => {
    for (const body of [undefined, null, false]) {
      await assertFails(
        () => run(returning(body)),
        "The application must return an iterator, if only an empty array",
      );
    }
  });

  await t.step("not a bare string or Uint8Array", async () => {
    await assertFails(
      () => run(returning(enc("Hello World"))),
      "You should not return a Uint8Array as your application iterator, " +
        "instead return a single-item array containing a Uint8Array.",
    );
    await assertFails(
      () => run(returning("Hello World")),
      "You should not return a string as your application iterator, " +
        "instead return a single-item array containing a Uint8Array.",
    );
  });

  await t.step("iterable at all", async () => {
    await assertFails(
      () => run(returning({ body: "x" })),
      "The application must return an iterator, if only an empty array " +
        "(got { body: 'x' })",
    );
    await assertFails(
      () => run(returning(0)),
      "The application must return an iterator, if only an empty array " +
        "(got 0)",
    );
  });

  await t.step("an async app is checked the same way", async () => {
    const app: WSGIApplication = async (_environ, startResponse) => {
      await Promise.resolve();
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return enc("Hello World") as unknown as ResponseBody;
    };
    await assertFails(
      () => run(app),
      "You should not return a Uint8Array as your application iterator, " +
        "instead return a single-item array containing a Uint8Array.",
    );
  });

  await t.step("every chunk is a Uint8Array, sync and async", async () => {
    await assertFails(
      () => run(returning(["Hello, world!"])),
      "Iterator yielded non-bytestring ('Hello, world!'); body chunks " +
        "must be Uint8Array",
    );
    await assertFails(
      () =>
        run(returning((async function* () {
          yield enc("ok");
          yield 42;
        })())),
      "Iterator yielded non-bytestring (42); body chunks must be Uint8Array",
    );
    await assertFails(
      () => run(returning(ReadableStream.from(["text"]))),
      "Iterator yielded non-bytestring ('text'); body chunks must be " +
        "Uint8Array",
    );
  });

  await t.step("not iterated before startResponse", async () => {
    const app: WSGIApplication = () => [enc("too early")];
    await assertFails(
      () => run(app),
      "The application returns and we started iterating over its body, " +
        "but start_response has not yet been called",
    );
    const asyncApp: WSGIApplication = () =>
      ReadableStream.from([enc("too early")]);
    await assertFails(
      () => run(asyncApp),
      "The application returns and we started iterating over its body, " +
        "but start_response has not yet been called",
    );
  });

  await t.step("not read after close()", async () => {
    const checked = validator(hello);
    const { startResponse } = recorder();
    const body = checked(makeEnviron(), startResponse) as ResponseBody;
    body.close!();
    const iterator = (body as Iterable<Uint8Array>)[Symbol.iterator]();
    await assertFails(() => iterator.next(), "Iterator read after closed");

    const asyncBody = await validator(returning(ReadableStream.from([])))(
      makeEnviron(),
      startResponse,
    );
    await asyncBody.close!();
    const asyncIterator = (asyncBody as AsyncIterable<Uint8Array>)
      [Symbol.asyncIterator]();
    await assertFails(() => asyncIterator.next(), "Iterator read after closed");
  });

  await t.step("close() passes through exactly once", async () => {
    let closes = 0;
    const original = Object.assign([enc("x")], {
      close() {
        closes++;
      },
    });
    const checked = validator(returning(original));
    const { startResponse } = recorder();
    const body = checked(makeEnviron(), startResponse) as ResponseBody;
    assertEquals((await drain(body)).map(dec), ["x"]);
    assertEquals(closes, 1);
    await assertFails(
      () => body.close!(),
      "Iterator closed twice: close() must be called exactly once",
    );
    assertEquals(closes, 1);
  });

  await t.step("an async close() is awaited through the wrapper", async () => {
    const events: string[] = [];
    const original = Object.assign(
      (async function* () {
        yield enc("x");
      })(),
      {
        async close() {
          await Promise.resolve();
          events.push("closed");
        },
      },
    );
    const { chunks } = await run(returning(original));
    assertEquals(chunks.map(dec), ["x"]);
    assertEquals(events, ["closed"]);
  });

  await t.step("stopping early returns the inner iterator", async () => {
    const events: string[] = [];
    const gen = (function* () {
      try {
        yield enc("a");
        yield enc("b");
      } finally {
        events.push("finally");
      }
    })();
    const checked = validator(returning(gen));
    const { startResponse } = recorder();
    const body = checked(makeEnviron(), startResponse) as Iterable<Uint8Array>;
    for (const _chunk of body) break;
    assertEquals(events, ["finally"]);

    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(enc("chunk"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const asyncBody = await validator(returning(stream))(
      makeEnviron(),
      startResponse,
    );
    for await (const _chunk of asyncBody as AsyncIterable<Uint8Array>) break;
    assert(cancelled);
  });
});

Deno.test("validator: warnings go to console.warn by default", async () => {
  const environ = makeEnviron({ REQUEST_METHOD: "BREW" });
  const original = console.warn;
  const printed: unknown[][] = [];
  console.warn = (...args: unknown[]) => void printed.push(args);
  try {
    const { startResponse } = recorder();
    await drain(await validator(hello)(environ, startResponse));
  } finally {
    console.warn = original;
  }
  assertEquals(printed, [["WSGIWarning: Unknown REQUEST_METHOD: 'BREW'"]]);
});

Deno.test("validator: onWarning may throw to make warnings fatal", () => {
  const checked = validator(hello, {
    onWarning(w) {
      throw w;
    },
  });
  const { startResponse } = recorder();
  let caught: unknown;
  try {
    checked(makeEnviron({ REQUEST_METHOD: "BREW" }), startResponse);
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof WSGIWarning)) throw caught;
  assertEquals(caught.message, "Unknown REQUEST_METHOD: 'BREW'");
});

Deno.test("validator: a body dropped without close() is reported when collected", async (t) => {
  // FinalizationRegistry callbacks only run after a real collection, so the
  // check runs in a child Deno with --expose-gc.
  const validate = import.meta.resolve("../validate.ts");
  const script = (closeIt: boolean, async: boolean) => `
    import { validator } from ${JSON.stringify(validate)};
    const app = validator((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return ${
    async ? "ReadableStream.from([new Uint8Array(1)])" : "[new Uint8Array(1)]"
  };
    });
    await (async () => {
      const environ = {
        REQUEST_METHOD: "GET", SERVER_NAME: "localhost", SERVER_PORT: "80",
        SCRIPT_NAME: "", PATH_INFO: "/", QUERY_STRING: "",
        "wsgi.version": [1, 0], "wsgi.url_scheme": "http",
        "wsgi.input": { read() {}, readline() {}, readlines() {}, *[Symbol.iterator]() {} },
        "wsgi.errors": { write() {}, writelines() {}, flush() {} },
        "wsgi.multithread": false, "wsgi.multiprocess": false, "wsgi.run_once": false,
      };
      const body = await app(environ, () => () => {});
      ${closeIt ? "await body.close();" : ""}
    })();
    for (let i = 0; i < 5; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  `;
  const runChild = async (closeIt: boolean, async: boolean) => {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--expose-gc", script(closeIt, async)],
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(code, 0);
    return new TextDecoder().decode(stderr);
  };

  await t.step("a sync body never closed", async () => {
    assertEquals(
      await runChild(false, false),
      "Iterator garbage collected without being closed\n",
    );
  });
  await t.step("an async body never closed", async () => {
    assertEquals(
      await runChild(false, true),
      "Iterator garbage collected without being closed\n",
    );
  });
  await t.step("a closed body is not reported", async () => {
    assertEquals(await runChild(true, false), "");
    assertEquals(await runChild(true, true), "");
  });
});
