import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
} from "@std/assert";
import { AssertionError, validator, WSGIWarning } from "../validate.ts";
import { BytesIO, setupTestingDefaults, StringIO } from "../util.ts";
import { BaseCGIHandler } from "../handlers.ts";
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
  const environ: Partial<WSGIEnvironment> = { QUERY_STRING: "", ...extra };
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
    delete (environ as Partial<WSGIEnvironment>).SERVER_NAME;
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
    delete (environ as Partial<WSGIEnvironment>)["wsgi.url_scheme"];
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
    (body as ResponseBody).close!();

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
    await asyncBody.close!();
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

// ---------------------------------------------------------------------------
// Through a real handler: what a user sees (wsgiref's run_amock tests).

const ERROR_PAGE = "Status: 500 Internal Server Error\r\n" +
  "Content-Type: text/plain\r\n" +
  "Content-Length: 59\r\n" +
  "\r\n" +
  "A server error occurred.  Please contact the administrator.";

const CGI_ENV: Record<string, string> = {
  REQUEST_METHOD: "GET",
  SERVER_NAME: "localhost",
  SERVER_PORT: "80",
  SERVER_PROTOCOL: "HTTP/1.0",
  SCRIPT_NAME: "",
  PATH_INFO: "/",
  QUERY_STRING: "",
};

interface ServeOptions {
  /** CGI variables to add to (or, as undefined, remove from) CGI_ENV. */
  cgi?: Record<string, string | undefined>;
  /** Changes the environ the handler built, before the app sees it. */
  mutate?: (environ: WSGIEnvironment) => void;
  /** The request body. */
  input?: Uint8Array;
}

/** Runs `validator(app)` under a BaseCGIHandler over in-memory streams. */
async function serve(app: WSGIApplication, options: ServeOptions = {}) {
  const cgi: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...CGI_ENV, ...options.cgi })) {
    if (v !== undefined) cgi[k] = v;
  }
  const stdout = new BytesIO();
  const stderr = new StringIO();
  const mutate = options.mutate;
  const Handler = mutate === undefined
    ? BaseCGIHandler
    : class extends BaseCGIHandler {
      override setupEnviron(): void {
        super.setupEnviron();
        mutate(this.environ!);
      }
    };
  const handler = new Handler(
    new BytesIO(options.input),
    stdout,
    stderr,
    cgi,
  );
  const warnings: string[] = [];
  await handler.run(
    validator(app, { onWarning: (w) => warnings.push(w.message) }),
  );
  return {
    out: new TextDecoder("latin1").decode(stdout.getValue()),
    err: stderr.getValue(),
    warnings,
  };
}

/** The app is refused: the error page goes out, the message to wsgi.errors. */
async function assertRefused(
  app: WSGIApplication,
  message: string,
  options?: ServeOptions,
): Promise<void> {
  const { out, err } = await serve(app, options);
  assertEquals(out, ERROR_PAGE);
  assertEquals(err.split("\n")[0], `AssertionError: ${message}`);
  assert(/\n {4}at /.test(err), "a stack trace follows the message");
}

const bodyApp =
  (body: unknown): WSGIApplication => (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return body as ResponseBody;
  };

Deno.test("validator under BaseCGIHandler", async (t) => {
  await t.step(
    "test_validated_hello: no Content-Length, as wsgiref",
    async () => {
      const { out, err, warnings } = await serve(hello);
      assertEquals(
        out,
        "Status: 200 OK\r\n" +
          "Content-Type: text/plain\r\n" +
          "Date: Mon, 05 Jun 2006 18:49:54 GMT\r\n" +
          "\r\n" +
          "Hello, world!",
      );
      assertEquals(err, "");
      assertEquals(warnings, []);
    },
  );

  await t.step("test_bytes_validation", async () => {
    const app: WSGIApplication = (_environ, startResponse) => {
      startResponse("200 OK", [
        ["Content-Type", "text/plain; charset=utf-8"],
        ["Date", "Wed, 24 Dec 2008 13:29:32 GMT"],
      ]);
      return [enc("data")];
    };
    const { out, err } = await serve(app);
    assertEquals(
      out,
      "Status: 200 OK\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        "Date: Wed, 24 Dec 2008 13:29:32 GMT\r\n" +
        "\r\n" +
        "data",
    );
    assertEquals(err, "");
  });

  await t.step("async app and async bodies pass", async () => {
    const app: WSGIApplication = async (_environ, startResponse) => {
      await Promise.resolve();
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return ReadableStream.from([enc("a"), enc("b")]);
    };
    const { out, err } = await serve(app);
    assertEquals(out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nab");
    assertEquals(err, "");
  });

  await t.step(
    "test_simple_validation_error: headers not an array",
    async () => {
      await assertRefused(
        (_environ, startResponse) => {
          startResponse(
            "200 OK",
            ["Content-Type", "text/plain"] as unknown as [string, string][],
          );
          return [enc("Hello, world!")];
        },
        "Individual headers ('Content-Type') must be of type array: string",
      );
      await assertRefused(
        (_environ, startResponse) => {
          startResponse(
            "200 OK",
            { "Content-Type": "text/plain" } as unknown as [string, string][],
          );
          return [enc("Hello, world!")];
        },
        "Headers ({ 'Content-Type': 'text/plain' }) must be of type array: " +
          "Object",
      );
    },
  );

  await t.step("test_wsgi_input: read() without a size", async () => {
    await assertRefused(
      (environ, startResponse) => {
        environ["wsgi.input"]!.read();
        startResponse("200 OK", [[
          "Content-Type",
          "text/plain; charset=utf-8",
        ]]);
        return [enc("data")];
      },
      "wsgi.input.read() must be called with exactly one argument, " +
        "the size (got 0 arguments)",
    );
  });

  await t.step("environ: a required key missing", async () => {
    await assertRefused(
      hello,
      "Environment missing required key: 'REQUEST_METHOD'",
      {
        cgi: { REQUEST_METHOD: undefined },
      },
    );
    await assertRefused(
      hello,
      "Environment missing required key: 'wsgi.input'",
      {
        mutate: (e) => delete (e as Partial<WSGIEnvironment>)["wsgi.input"],
      },
    );
  });

  await t.step("environ: HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH", async () => {
    await assertRefused(
      hello,
      "Environment should not have the key: HTTP_CONTENT_LENGTH " +
        "(use CONTENT_LENGTH instead)",
      { cgi: { HTTP_CONTENT_LENGTH: "0" } },
    );
  });

  await t.step("environ: CGI values are strings", async () => {
    await assertRefused(
      hello,
      "Environmental variable SERVER_PORT is not a string: number (value: 80)",
      { mutate: (e) => e.SERVER_PORT = 80 as unknown as string },
    );
  });

  await t.step("environ: wsgi.version", async () => {
    await assertRefused(
      hello,
      "wsgi.version should be an array like [1, 0] ('1.0')",
      { mutate: (e) => e["wsgi.version"] = "1.0" as unknown as [1, 0] },
    );
  });

  await t.step("environ: wsgi.url_scheme", async () => {
    await assertRefused(hello, "wsgi.url_scheme unknown: 'ftp'", {
      mutate: (e) => e["wsgi.url_scheme"] = "ftp",
    });
  });

  await t.step("environ: wsgi.input and wsgi.errors methods", async () => {
    await assertRefused(
      hello,
      "wsgi.input ({ read: [Function: read] }) doesn't have the attribute " +
        "readline",
      {
        mutate: (e) =>
          e["wsgi.input"] = { read: () => enc("") } as unknown as BytesIO,
      },
    );
    await assertRefused(
      hello,
      "wsgi.errors ({ write: [Function: write] }) doesn't have the " +
        "attribute flush",
      {
        mutate: (e) =>
          e["wsgi.errors"] = { write: () => {} } as unknown as StringIO,
      },
    );
  });

  await t.step("environ: SCRIPT_NAME and PATH_INFO", async () => {
    await assertRefused(hello, "SCRIPT_NAME doesn't start with /: 'app'", {
      cgi: { SCRIPT_NAME: "app" },
    });
    await assertRefused(hello, "PATH_INFO doesn't start with /: 'x'", {
      cgi: { PATH_INFO: "x" },
    });
    await assertRefused(
      hello,
      "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO " +
        "should at least be '/' if SCRIPT_NAME is empty)",
      { cgi: { SCRIPT_NAME: undefined, PATH_INFO: undefined } },
    );
    await assertRefused(
      hello,
      "SCRIPT_NAME cannot be '/'; it should instead be '', and " +
        "PATH_INFO should be '/'",
      { cgi: { SCRIPT_NAME: "/", PATH_INFO: "" } },
    );
  });

  await t.step("environ: CONTENT_LENGTH", async () => {
    await assertRefused(hello, "Invalid CONTENT_LENGTH: '-5'", {
      cgi: { CONTENT_LENGTH: "-5" },
    });
  });

  await t.step("environ warnings do not stop the response", async () => {
    const { out, warnings } = await serve(hello, {
      cgi: { QUERY_STRING: undefined, REQUEST_METHOD: "BREW" },
    });
    assert(out.startsWith("Status: 200 OK\r\n"));
    assertEquals(warnings, [
      "QUERY_STRING is not in the WSGI environment; the cgi module will " +
      "use sys.argv when this variable is missing, so application errors " +
      "are more likely",
      "Unknown REQUEST_METHOD: 'BREW'",
    ]);
  });

  await t.step("wsgi.input: readline arguments, results", async () => {
    await assertRefused(
      (environ, startResponse) => {
        (environ["wsgi.input"]!.readline as (...a: number[]) => Uint8Array)(
          1,
          2,
        );
        return hello(environ, startResponse);
      },
      "wsgi.input.readline() takes at most one argument (got 2 arguments)",
    );
    let line = "";
    const { out } = await serve((environ, startResponse) => {
      line = dec(environ["wsgi.input"]!.readline());
      return hello(environ, startResponse);
    }, { input: enc("first\nsecond\n") });
    assertEquals(line, "first\n");
    assert(out.startsWith("Status: 200 OK\r\n"));
  });

  await t.step("wsgi.input / wsgi.errors: close() is an error", async () => {
    await assertRefused(
      (environ, startResponse) => {
        (environ["wsgi.input"] as unknown as { close(): void }).close();
        return hello(environ, startResponse);
      },
      "input.close() must not be called",
    );
    await assertRefused(
      (environ, startResponse) => {
        (environ["wsgi.errors"] as unknown as { close(): void }).close();
        return hello(environ, startResponse);
      },
      "errors.close() must not be called",
    );
  });

  await t.step("wsgi.errors: strings only", async () => {
    await assertRefused(
      (environ, startResponse) => {
        environ["wsgi.errors"]!.write(42 as unknown as string);
        return hello(environ, startResponse);
      },
      "wsgi.errors.write() argument must be a string (got 42)",
    );
  });

  await t.step("startResponse: argument count", async () => {
    await assertRefused(
      (_environ, startResponse) => {
        (startResponse as (...a: unknown[]) => WriteFn)("200 OK");
        return [];
      },
      "Invalid number of arguments: ['200 OK']",
    );
  });

  await t.step("startResponse: status", async () => {
    const withStatus =
      (status: unknown): WSGIApplication => (_environ, startResponse) => {
        startResponse(status as string, [
          ["Content-Type", "text/plain; charset=utf-8"],
        ]);
        return [enc("Hello, world!")];
      };
    await assertRefused(
      withStatus(200),
      "Status must be of type string (got 200)",
    );
    // wsgiref's test_status_validation_errors, under the validator.
    await assertRefused(
      withStatus("200OK"),
      "Status codes must be three characters: '200OK'",
    );
    await assertRefused(withStatus("20X OK"), "Status code is invalid: '20X'");
    await assertRefused(withStatus("099 X"), "Status code is invalid: 99");
    // "200" is only questionable for the validator; the handler refuses it.
    const { out, err, warnings } = await serve(withStatus("200"));
    assertEquals(out, ERROR_PAGE);
    assertEquals(
      err.split("\n")[0],
      'AssertionError: Status must be at least 4 characters (got "200"): ' +
        'a status is a 3-digit code, a space and a reason, such as "200 OK" ' +
        'or "404 Not Found"',
    );
    assertEquals(warnings, [
      "The status string ('200') should be a three-digit integer followed " +
      "by a single space and a status explanation",
    ]);
  });

  await t.step("startResponse: header pairs", async () => {
    const withHeaders =
      (headers: unknown): WSGIApplication => (_environ, startResponse) => {
        startResponse("200 OK", headers as [string, string][]);
        return [];
      };
    const ct = ["Content-Type", "text/plain"];
    await assertRefused(
      withHeaders([ct, ["X-A", "1", "2"]]),
      "Individual headers (['X-A', '1', '2']) must be [name, value] pairs " +
        "(got 3 items)",
    );
    await assertRefused(
      withHeaders([ct, [Symbol("x"), "1"]]),
      "Header name must be of type string (got Symbol(x))",
    );
    await assertRefused(
      withHeaders([ct, ["X-A", 1]]),
      "Header value must be of type string (got 1)",
    );
    await assertRefused(
      withHeaders([ct, ["Status", "404 Not Found"]]),
      "The Status header cannot be used; it conflicts with CGI script, " +
        "and HTTP status is not given through headers " +
        "(value: '404 Not Found').",
    );
    await assertRefused(
      withHeaders([ct, ["X:A", "1"]]),
      "Header names may not contain ':' or '\\n': 'X:A'",
    );
    await assertRefused(
      withHeaders([ct, ["X A", "1"]]),
      "Bad header name: 'X A'",
    );
    await assertRefused(
      withHeaders([ct, ["X-A-", "1"]]),
      "Names may not end in '-' or '_': 'X-A-'",
    );
    await assertRefused(
      withHeaders([ct, ["X-A", "1\r\nSet-Cookie: a=b"]]),
      "Bad header value: '1\\r\\nSet-Cookie: a=b' (bad char: '\\r')",
    );
  });

  await t.step("startResponse: Content-Type", async () => {
    await assertRefused(
      (_environ, startResponse) => {
        startResponse("200 OK", [["Date", "Mon, 05 Jun 2006 18:49:54 GMT"]]);
        return [];
      },
      "No Content-Type header found in headers " +
        "([['Date', 'Mon, 05 Jun 2006 18:49:54 GMT']])",
    );
    await assertRefused(
      (_environ, startResponse) => {
        startResponse("204 No Content", [["Content-Type", "text/plain"]]);
        return [];
      },
      "Content-Type header found in a 204 response, which must not " +
        "return content.",
    );
    const { out } = await serve((_environ, startResponse) => {
      startResponse("304 Not Modified", []);
      return [];
    });
    assert(out.startsWith("Status: 304 Not Modified\r\n"));
  });

  await t.step("startResponse: excInfo", async () => {
    await assertRefused(
      (_environ, startResponse) => {
        startResponse("500 Error", [["Content-Type", "text/plain"]], "oops");
        return [];
      },
      "excInfo ('oops') is not an Error: string",
    );
    // A real error handler: the second call carries the thrown Error.
    const { out, err } = await serve((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      try {
        throw new Error("failed");
      } catch (e) {
        startResponse("500 Error", [["Content-Type", "text/plain"]], e);
      }
      return [enc("sorry")];
    });
    assertEquals(
      out,
      "Status: 500 Error\r\nContent-Type: text/plain\r\n\r\nsorry",
    );
    assertEquals(err, "");
  });

  await t.step("write(): Uint8Array only", async () => {
    await assertRefused(
      (_environ, startResponse) => {
        const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
        write("text" as unknown as Uint8Array);
        return [];
      },
      "write() argument must be a Uint8Array (got 'text')",
    );
  });

  await t.step("body: undefined, null, false", async () => {
    await assertRefused(
      bodyApp(undefined),
      "The application must return an iterator, if only an empty array",
    );
  });

  await t.step("body: a bare Uint8Array or string", async () => {
    await assertRefused(
      bodyApp(enc("Hello World")),
      "You should not return a Uint8Array as your application iterator, " +
        "instead return a single-item array containing a Uint8Array.",
    );
    await assertRefused(
      bodyApp("Hello World"),
      "You should not return a string as your application iterator, " +
        "instead return a single-item array containing a Uint8Array.",
    );
  });

  await t.step("body: not iterable", async () => {
    await assertRefused(
      bodyApp(42),
      "The application must return an iterator, if only an empty array " +
        "(got 42)",
    );
  });

  await t.step(
    "body: chunks are Uint8Array (sync, async, stream)",
    async () => {
      const message = "Iterator yielded non-bytestring ('Hello, world!'); " +
        "body chunks must be Uint8Array";
      await assertRefused(bodyApp(["Hello, world!"]), message);
      await assertRefused(
        bodyApp((async function* () {
          yield "Hello, world!";
        })()),
        message,
      );
      await assertRefused(
        bodyApp(ReadableStream.from(["Hello, world!"])),
        message,
      );
    },
  );

  await t.step("body: a bad chunk after output ends the response", async () => {
    const { out, err } = await serve(bodyApp([enc("good"), "bad"]));
    // Headers went out: no error page, the response is cut short.
    assertEquals(out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\ngood");
    assertEquals(
      err.split("\n")[0],
      "AssertionError: Iterator yielded non-bytestring ('bad'); " +
        "body chunks must be Uint8Array",
    );
  });

  await t.step("body: iterated before startResponse", async () => {
    await assertRefused(
      () => [enc("Hello")],
      "The application returns and we started iterating over its body, " +
        "but start_response has not yet been called",
    );
  });

  await t.step("body: wsgi.file_wrapper is checked like any body", async () => {
    let closed = 0;
    const data = enc("file contents");
    let pos = 0;
    const file = {
      read(size: number) {
        const chunk = data.subarray(pos, pos + size);
        pos += chunk.length;
        return chunk;
      },
      close() {
        closed++;
      },
    };
    const { out, err } = await serve((environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return environ["wsgi.file_wrapper"]!(file, 4);
    });
    assertEquals(
      out,
      "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfile contents",
    );
    assertEquals(err, "");
    assertEquals(closed, 1);
  });

  await t.step("the traceback starts at the app's offending line", async () => {
    const calls: [
      string,
      (environ: WSGIEnvironment, write: WriteFn) => void,
    ][] = [
      ["startResponse", () => {}],
      ["wsgi.input", (environ) => environ["wsgi.input"]!.read()],
      ["wsgi.errors", (environ) => environ["wsgi.errors"]!.write(1 as never)],
      ["write", (_environ, write) => write("x" as never)],
    ];
    for (const [what, misuse] of calls) {
      const brokenApp = (
        environ: WSGIEnvironment,
        startResponse: StartResponse,
      ): ResponseBody => {
        const write = startResponse(
          "200 OK",
          what === "startResponse" ? [] : [["Content-Type", "text/plain"]],
        );
        misuse(environ, write);
        return [];
      };
      const { err } = await serve(brokenApp);
      const frame = err.split("\n")[1];
      // Not a frame of the validator (check, checkHeaders, ...).
      assert(
        /\/tests\/validate_test\.ts:\d+:\d+\)?$/.test(frame),
        `${what}: ${err}`,
      );
    }
  });

  await t.step("body: the handler closes it exactly once", async () => {
    let closes = 0;
    const body = Object.assign([enc("x")], {
      close() {
        closes++;
      },
    });
    const { out } = await serve(bodyApp(body));
    assert(out.endsWith("\r\n\r\nx"));
    assertEquals(closes, 1);
    closes = 0;
    await serve(bodyApp(Object.assign([enc("x"), "bad"], {
      close() {
        closes++;
      },
    })));
    assertEquals(closes, 1);
  });
});

Deno.test("examples/validate.ts: the broken app from wsgiref's docs", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("../examples/validate.ts", import.meta.url).pathname,
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const collect = async (
    stream: ReadableStream<Uint8Array>,
    add: (s: string) => void,
  ) => {
    for await (const s of stream.pipeThrough(new TextDecoderStream())) add(s);
  };
  const collecting = Promise.all([
    collect(child.stdout, (s) => stdout += s),
    collect(child.stderr, (s) => stderr += s),
  ]);
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  try {
    await until(() => /Listening on port \d+\.\.\.\.\n/.test(stdout));
    const port = Number(/Listening on port (\d+)/.exec(stdout)?.[1]);
    assert(port > 0, `no port in ${JSON.stringify(stdout)}`);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(response.status, 500);
    assertEquals(
      await response.text(),
      "A server error occurred.  Please contact the administrator.",
    );
    await until(() => stderr.includes('"GET / HTTP/1.1" 500 59'));
    assertEquals(
      stderr.split("\n")[0],
      "AssertionError: You should not return a Uint8Array as your " +
        "application iterator, instead return a single-item array " +
        "containing a Uint8Array.",
    );
    assert(/\] "GET \/ HTTP\/1\.1" 500 59\n$/.test(stderr), stderr);
  } finally {
    child.kill();
    await collecting;
    await child.status;
  }
});
