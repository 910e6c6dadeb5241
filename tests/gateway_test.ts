// One table of broken apps, run under the three gateways of the library:
// BaseCGIHandler (the handlers), makeServer (the simple server, over TCP)
// and toFetchHandler (the Fetch bridge, on Deno.serve). Each mistake must
// give the same status and the same logged message under all three: the
// rules live once, in _gateway.ts and _field.ts.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { BaseCGIHandler } from "../handlers.ts";
import { toFetchHandler } from "../fetch.ts";
import { BytesIO, setupTestingDefaults, StringIO } from "../util.ts";
import type {
  HeaderList,
  ResponseBody,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";
import { native, withServer } from "./_tcp.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** What a gateway made of an app: the status, and the logged error line. */
interface Outcome {
  status: number;
  message: string;
  /** The whole response as it reached the client (head and body). */
  wire: string;
}

/** The first `SomeError: message` line of a log. */
function errorLine(log: string): string {
  return /^(?:Uncaught )?\w*Error: .*$/m.exec(log)?.[0] ??
    `(no error in ${log})`;
}

async function underCgi(app: WSGIApplication): Promise<Outcome> {
  const environ: Partial<WSGIEnvironment> = {};
  setupTestingDefaults(environ);
  const out = new BytesIO();
  const err = new StringIO();
  const h = new BaseCGIHandler(new BytesIO(), out, err, environ);
  h.osEnviron = {};
  await h.run(app);
  const wire = native(out.getValue());
  const status = Number(/^Status: (\d{3})/.exec(wire)?.[1]);
  return { status, message: errorLine(err.getValue()), wire };
}

async function underServer(app: WSGIApplication): Promise<Outcome> {
  let outcome!: Outcome;
  const log = await withServer(app, async (server) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/`, {
      signal: AbortSignal.timeout(10_000),
    });
    const head = [...response.headers].map(([k, v]) => `${k}: ${v}`);
    const body = await response.text();
    outcome = {
      status: response.status,
      message: "",
      wire: `${head.join("\r\n")}\r\n\r\n${body}`,
    };
  }, { logRequests: false });
  outcome.message = errorLine(log.getValue());
  return outcome;
}

async function underBridge(app: WSGIApplication): Promise<Outcome> {
  const errors = new StringIO();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app, { errors }),
  );
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
    signal: AbortSignal.timeout(10_000),
  });
  const head = [...response.headers].map(([k, v]) => `${k}: ${v}`);
  const body = await response.text();
  return {
    status: response.status,
    message: errorLine(errors.getValue()),
    wire: `${head.join("\r\n")}\r\n\r\n${body}`,
  };
}

/** startResponse with any arguments, as a JavaScript caller may pass them. */
function start(
  sr: StartResponse,
  status: unknown,
  headers: unknown,
  excInfo?: unknown,
) {
  return (sr as (...a: unknown[]) => (d: unknown) => void)(
    status,
    headers,
    excInfo,
  );
}

const TEXT: HeaderList = [["Content-Type", "text/plain"]];
const ok = (sr: StartResponse) => start(sr, "200 OK", TEXT);

/** [what, the app, the expected error line] */
const BROKEN: [string, WSGIApplication, RegExp][] = [
  [
    "a status without a reason",
    (_e, sr) => (start(sr, "200", TEXT), []),
    /^AssertionError: Status must be at least 4 characters \(got "200"\): a status is a 3-digit code, a space and a reason, such as "200 OK"/,
  ],
  [
    "a status without a code",
    (_e, sr) => (start(sr, "OK Fine", TEXT), []),
    /^AssertionError: Status message must begin w\/3-digit code \(got "OK Fine"\)/,
  ],
  [
    "a status that is a number",
    (_e, sr) => (start(sr, 200, TEXT), []),
    /^TypeError: Status must be of type string \(got the number 200\): pass the status line/,
  ],
  [
    "a status with CRLF",
    (_e, sr) => (start(sr, "200 OK\r\nSet-Cookie: evil=1", TEXT), []),
    /^TypeError: Status "200 OK\\r\\nSet-Cookie: evil=1" contains CR at index 6/,
  ],
  [
    "a header name that is not a token",
    (_e, sr) => (start(sr, "200 OK", [...TEXT, ["Bad Name", "x"]]), []),
    /^TypeError: Header name "Bad Name" has " " at index 3: a header name is a token/,
  ],
  [
    "a header value with CRLF",
    (_e, sr) => (start(sr, "200 OK", [["X-A", "a\r\nSet-Cookie: evil=1"]]), []),
    /^TypeError: Header value "a\\r\\nSet-Cookie: evil=1" contains CR at index 1: line breaks and NUL are not allowed/,
  ],
  [
    "a header value past ISO-8859-1",
    (_e, sr) => (start(sr, "200 OK", [["X-A", "\u20ac"]]), []),
    /^TypeError: Header value "€" has U\+20AC at index 0: response heads are ISO-8859-1/,
  ],
  [
    "a header value with a control character",
    (_e, sr) => (start(sr, "200 OK", [["X-A", "a\x01b"]]), []),
    /^TypeError: Header value "a\\u0001b" has the control character U\+0001 at index 1/,
  ],
  [
    "a header value that is not a string",
    (_e, sr) => (start(sr, "200 OK", [["X-N", 5]]), []),
    /^TypeError: Header value must be of type string \(got the number 5\)/,
  ],
  [
    "a header that is not a pair",
    (_e, sr) => (start(sr, "200 OK", [["Content-Type"]]), []),
    /^TypeError: Each header must be a \[name, value\] pair \(got an array of length 1 at index 0\)/,
  ],
  [
    "headers that are not a list",
    (_e, sr) => (start(sr, "200 OK", "Content-Type: text/plain"), []),
    /^TypeError: Headers must be an array of \[name, value\] pairs \(got the string "Content-Type: text\/plain"\)/,
  ],
  [
    "a hop-by-hop header",
    (_e, sr) => (start(sr, "200 OK", [...TEXT, ["Connection", "close"]]), []),
    /^AssertionError: Hop-by-hop header, 'Connection: close', not allowed: the server manages the connection/,
  ],
  [
    "a second startResponse without excInfo",
    (_e, sr) => (ok(sr), ok(sr), []),
    /^AssertionError: Headers already set! startResponse\(\) may be called again only with the caught error as its third argument \(excInfo\)/,
  ],
  [
    "a body that yields before startResponse",
    (_e, sr) =>
      (function* () {
        yield enc("too early");
        ok(sr);
      })(),
    /^AssertionError: The response body yielded data before startResponse\(\) was called: call startResponse\(status, headers\) before the first chunk/,
  ],
  [
    "a body returned without startResponse",
    () => [enc("no status")],
    /^AssertionError: The application returned without calling startResponse\(\): call startResponse\(status, headers\) before returning the body/,
  ],
  [
    "an empty body returned without startResponse",
    () => [],
    /^AssertionError: The application returned without calling startResponse\(\)/,
  ],
  [
    "a string body",
    (_e, sr) => (ok(sr), "Hello" as unknown as ResponseBody),
    /^AssertionError: The application returned a string: a body is Uint8Array chunks; return \[new TextEncoder\(\)\.encode\(text\)\] instead/,
  ],
  [
    "a bare Uint8Array body",
    (_e, sr) => (ok(sr), enc("Hello") as unknown as ResponseBody),
    /^AssertionError: The application returned a bare Uint8Array: return \[body\] instead/,
  ],
  [
    "no body at all",
    (_e, sr) => (ok(sr), undefined as unknown as ResponseBody),
    /^AssertionError: The application returned undefined: return an iterable of Uint8Array chunks, such as \[new TextEncoder\(\)\.encode\(text\)\], or \[\] for no body/,
  ],
  [
    "a body that is not iterable",
    (_e, sr) => (ok(sr), 42 as unknown as ResponseBody),
    /^AssertionError: The application returned the number 42, which is not iterable/,
  ],
  [
    "a string chunk in an array",
    (_e, sr) => (ok(sr), ["Hello"] as unknown as ResponseBody),
    /^AssertionError: The response body yielded the string "Hello": body chunks must be Uint8Array; encode text with new TextEncoder\(\)\.encode\(text\)/,
  ],
  [
    "a number chunk from a generator",
    (_e, sr) => (ok(sr),
      (function* () {
        yield 7;
      })() as unknown as ResponseBody),
    /^AssertionError: The response body yielded the number 7: body chunks must be Uint8Array/,
  ],
  [
    "write() with a string",
    (_e, sr) => {
      ok(sr)("Hello");
      return [];
    },
    /^AssertionError: write\(\) argument must be a Uint8Array \(got the string "Hello"\): encode text/,
  ],
  [
    "a CRLF value pushed onto the list after startResponse",
    (_e, sr) => {
      const list: [string, string][] = [["Content-Type", "text/plain"]];
      start(sr, "200 OK", list);
      list.push(["X-B", "a\r\nSet-Cookie: evil=1"]);
      return [enc("body")];
    },
    /^TypeError: Header value "a\\r\\nSet-Cookie: evil=1" contains CR at index 1/,
  ],
  [
    "a bad name pushed onto the list after startResponse",
    (_e, sr) => {
      const list: [string, string][] = [["Content-Type", "text/plain"]];
      start(sr, "200 OK", list);
      list.push(["Set-Cookie: evil=1; X", "v"]);
      return [enc("body")];
    },
    /^TypeError: Header name "Set-Cookie: evil=1; X" has ":" at index 10/,
  ],
  [
    "a framing header pushed onto the list after startResponse",
    (_e, sr) => {
      const list: [string, string][] = [["Content-Type", "text/plain"]];
      start(sr, "200 OK", list);
      list.push(["Transfer-Encoding", "chunked"]);
      return [enc("body")];
    },
    /^AssertionError: Hop-by-hop header, 'Transfer-Encoding: chunked', not allowed/,
  ],
];

Deno.test("the same broken app, the same answer under every gateway", async (t) => {
  for (const [what, app, expected] of BROKEN) {
    await t.step(what, async () => {
      const cgi = await underCgi(app);
      const server = await underServer(app);
      const bridge = await underBridge(app);
      assertEquals(
        [cgi.status, server.status, bridge.status],
        [500, 500, 500],
        "status under BaseCGIHandler, makeServer, toFetchHandler",
      );
      assertMatch(cgi.message, expected);
      assertEquals(server.message, cgi.message, "makeServer's log");
      assertEquals(bridge.message, cgi.message, "toFetchHandler's log");
      for (const { wire } of [cgi, server, bridge]) {
        assert(!wire.includes("evil"), wire);
        assert(
          wire.endsWith(
            "A server error occurred.  Please contact the administrator.",
          ),
          wire,
        );
      }
    });
  }
});

Deno.test("a frozen header list is sent as it is under every gateway", async () => {
  // The handlers add Content-Length to the list they wrap: a frozen list is
  // copied instead, and stays as it was for the next request.
  const FROZEN: HeaderList = Object.freeze([
    Object.freeze(["Content-Type", "text/plain"] as const),
  ]);
  const app: WSGIApplication = (_e, sr) => {
    sr("200 OK", FROZEN);
    return [enc("hi")];
  };
  const cgi = await underCgi(app);
  assertEquals(cgi.status, 200);
  assertMatch(cgi.wire, /\r\nContent-Length: 2\r\n\r\nhi$/);
  const server = await underServer(app);
  assertEquals(server.status, 200);
  const bridge = await underBridge(app);
  assertEquals(bridge.status, 200);
  assertEquals(FROZEN, [["Content-Type", "text/plain"]]);
});
