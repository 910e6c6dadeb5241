// llhttp's request fixtures (nodejs/llhttp, test/request/*.md, strict mode)
// against makeServer over TCP. Every convertible case is sent on its own
// connection (a Host line added to an HTTP/1.1 request that has none), the
// client half-closes, and what the app saw is held against what llhttp
// parsed:
//
// - the app never sees a request llhttp did not see (same method, target,
//   version, header fields and body, in the same order);
// - a valid case is served whole;
// - an invalid case is refused (a 4xx/5xx answer, or the connection closed),
//   after the requests before the error are served.
//
// The only differences allowed are listed in ALLOWED with their reasons; an
// entry that no longer differs fails too, so that the list stays true.
//
// The fixtures are vendored in tests/fixtures/llhttp (their commit and
// license there). To run another version's, point LLHTTP_DIR at a checkout
// of https://github.com/nodejs/llhttp (its test/request folder is read):
//
//   LLHTTP_DIR=../llhttp deno test -A tests/llhttp_test.ts

import { assert, assertEquals } from "@std/assert";
import { makeServer, WSGIRequestHandler } from "../simple_server.ts";
import type { WSGIApplication, WSGIEnvironment } from "../types.ts";
import { StringIO } from "../util.ts";
import { type ParsedResponse, parseResponse, RawClient } from "./_tcp.ts";
import {
  type LlhttpCase,
  type LlhttpMessage,
  readFixtures,
} from "./_llhttp_fixtures.ts";

/** The Host line added to an HTTP/1.1 request that has none. */
const HOST = "llhttp.test";

/** How the server answered a case. */
type Verdict =
  /** Every request llhttp completed was served, nothing else. */
  | "served"
  /** The requests before llhttp's error were served; the rest refused. */
  | "refused"
  /** The app saw a request llhttp did not (or saw one differently). */
  | "extra"
  /** A request llhttp completed was not served. */
  | "unserved"
  /** llhttp found an error, and the server neither refused nor closed. */
  | "not refused";

/**
 * The cases where this server and llhttp's strict mode part, each with the
 * verdict it gets and the reason. Keyed by `file.md: heading`.
 */
const ALLOWED: Record<string, { verdict: Verdict; reason: string }> = {
  "invalid.md: HTTP protocol and ANNOUNCE method": {
    verdict: "extra",
    reason:
      "any token is a method (RFC 9110 section 9.1), as wsgiref has it; " +
      "llhttp knows a fixed list",
  },
  "uri.md: Disallow UTF-8 in URI path in strict mode": {
    verdict: "extra",
    reason: "raw bytes 0x80-0xFF in the target are kept, as wsgiref keeps " +
      "them (PATH_INFO is a native string); they cannot move a request boundary",
  },
  "method.md: SOURCE request with ICE": {
    verdict: "unserved",
    reason: "ICE/1.0 is not HTTP: 400",
  },
  "method.md: OPTIONS request with RTSP": {
    verdict: "unserved",
    reason: "RTSP/1.0 is not HTTP: 400",
  },
  "method.md: ANNOUNCE request with RTSP": {
    verdict: "unserved",
    reason: "RTSP/1.0 is not HTTP: 400",
  },
  "sample.md: No HTTP version": {
    verdict: "unserved",
    reason: "an HTTP/0.9 request line (no version) is refused with 400",
  },
  "transfer-encoding.md: POST with `chunked` as last transfer-encoding": {
    verdict: "unserved",
    reason: "a transfer coding other than chunked (deflate) is answered 501, " +
      "as RFC 9112 section 6.1 says for a coding the server does not know",
  },
  "transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)":
    {
      verdict: "unserved",
      reason: "as above: 501 for deflate",
    },
  "method.md: CONNECT request": {
    verdict: "unserved",
    reason: "a WSGI server has no tunnel: CONNECT is answered 501 and closed",
  },
  "method.md: CONNECT request with CAPS": {
    verdict: "unserved",
    reason: "CONNECT: 501, as above",
  },
  "method.md: CONNECT with body": {
    verdict: "unserved",
    reason: "CONNECT: 501, as above",
  },
  "uri.md: Underscore in hostname": {
    verdict: "unserved",
    reason: "CONNECT: 501, as above",
  },
  "method.md: M-SEARCH request": {
    verdict: "unserved",
    reason: "the asterisk-form target is for OPTIONS only (RFC 9112 section " +
      "3.2.4): M-SEARCH * (SSDP, over UDP) is answered 400",
  },
  "uri.md: `host:port` and basic auth": {
    verdict: "unserved",
    reason: "userinfo (user:pass@) in an absolute-form target is an error " +
      "(RFC 9110 section 4.2.4: it is likely used to obscure the " +
      "authority): 400",
  },
};

/** What the app saw of one request. */
interface Seen {
  requestline: string;
  env: Record<string, string>;
  body: string;
}

function native(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** The `HTTP_*` variables llhttp's reading of a request should give. */
function expectedEnv(
  m: LlhttpMessage,
  hostAdded: boolean,
): Record<string, string> {
  const env: Record<string, string> = {};
  const authority = absoluteAuthority(m.url);
  if (authority !== undefined) env.HTTP_HOST = authority;
  const fields: [string, string][] = hostAdded
    ? [["Host", HOST], ...m.headers]
    : m.headers;
  for (const [name, value] of fields) {
    // Fields whose names hold "_" are dropped (as nginx, Apache, gunicorn).
    if (name.includes("_")) continue;
    const key = name.toUpperCase().replaceAll("-", "_");
    if (key === "CONTENT_TYPE" || key === "CONTENT_LENGTH") continue;
    // An absolute-form target's host wins over the Host field (RFC 9112
    // section 3.2.2).
    if (key === "HOST" && authority !== undefined) continue;
    const v = value.replace(/^[ \t]+|[ \t]+$/g, "");
    const k = "HTTP_" + key;
    env[k] = env[k] === undefined ? v : `${env[k]},${v}`;
  }
  return env;
}

/**
 * The host (and port) of an absolute-form target, without user info; or
 * undefined for another form.
 */
function absoluteAuthority(url: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(url);
  if (m === null) return undefined;
  return m[1].slice(m[1].lastIndexOf("@") + 1);
}

/** The bytes to send: the input, with a Host line where one is needed. */
function withHost(c: LlhttpCase): { input: string; added: Set<number> } {
  const added = new Set<number>();
  let input = c.input;
  const messages = c.expected.messages;
  for (let k = messages.length - 1; k >= 0; k--) {
    const m = messages[k];
    if (m.version !== "HTTP/1.1" || m.versionEnd < 0) continue;
    if (m.headers.some(([n]) => n.toLowerCase() === "host")) continue;
    let at = m.versionEnd;
    let eol: string;
    if (input.startsWith("\r\n", at)) eol = "\r\n";
    else if (input[at] === "\n") eol = "\n";
    else continue;
    at += eol.length;
    input = input.slice(0, at) + `Host: ${HOST}${eol}` + input.slice(at);
    added.add(k);
  }
  return { input, added };
}

/** Every response in `bytes`, as far as they parse. */
function responses(bytes: Uint8Array): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = bytes;
  for (;;) {
    const r = parseResponse(rest, true);
    if (r.kind !== "response") return out;
    out.push(r.response);
    rest = rest.subarray(r.used);
  }
}

/** The verdict of a server that parses as llhttp does. */
function llhttpVerdict(c: LlhttpCase): Verdict {
  return c.expected.error !== null ? "refused" : "served";
}

interface Run {
  verdict: Verdict;
  detail: string;
}

function judge(
  c: LlhttpCase,
  added: Set<number>,
  seen: Seen[],
  answers: ParsedResponse[],
): Run {
  const { messages, error, upgrade } = c.expected;
  const complete = messages.filter((m) => m.complete);
  for (let i = 0; i < seen.length; i++) {
    const s = seen[i];
    const m = complete[i];
    if (m === undefined) {
      return {
        verdict: "extra",
        detail: `the app saw ${
          JSON.stringify(s.requestline)
        }, llhttp no request #${i + 1}`,
      };
    }
    const line = `${m.method} ${m.url} ${m.version}`;
    const k = messages.indexOf(m);
    const problems: string[] = [];
    if (s.requestline !== line) {
      problems.push(
        `request line ${JSON.stringify(s.requestline)} vs ${
          JSON.stringify(line)
        }`,
      );
    }
    if (s.body !== m.body) {
      problems.push(
        `body ${JSON.stringify(s.body)} vs ${JSON.stringify(m.body)}`,
      );
    }
    const want = expectedEnv(m, added.has(k));
    const got = JSON.stringify(Object.entries(s.env).sort());
    const exp = JSON.stringify(Object.entries(want).sort());
    if (got !== exp) problems.push(`fields ${got} vs ${exp}`);
    if (problems.length) {
      return { verdict: "extra", detail: problems.join("; ") };
    }
  }
  if (seen.length < complete.length) {
    const m = complete[seen.length];
    const answer = answers[seen.length];
    return {
      verdict: "unserved",
      detail: `${
        JSON.stringify(`${m.method} ${m.url} ${m.version}`)
      } not served (answer: ${answer ? answer.statusLine : "none"})`,
    };
  }
  if (error !== null || upgrade) {
    // Whatever followed is not a request to llhttp: refused or closed.
    const next = answers[seen.length];
    if (next !== undefined && next.status < 400) {
      return {
        verdict: "not refused",
        detail: `llhttp: ${
          error?.reason ?? "upgrade"
        }; the server answered ${next.statusLine}`,
      };
    }
    return error !== null
      ? { verdict: "refused", detail: next ? next.statusLine : "closed" }
      : { verdict: "served", detail: next ? next.statusLine : "closed" };
  }
  return { verdict: "served", detail: "" };
}

// llhttp's fixtures as vendored in tests/fixtures/llhttp, or LLHTTP_DIR's.
const dir = Deno.env.get("LLHTTP_DIR") ??
  new URL("./fixtures/llhttp", import.meta.url).pathname;

Deno.test({
  name: "llhttp request fixtures (strict mode) against makeServer",
  async fn(t) {
    const { cases: all, skipped } = readFixtures(`${dir}/test/request`);
    const cases = all.filter((c) => !c.lenient);
    const lenient = all.filter((c) => c.lenient);
    assert(cases.length > 100, `only ${cases.length} cases read from ${dir}`);
    let seen: Seen[] = [];
    const app: WSGIApplication = (environ: WSGIEnvironment, startResponse) => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(environ)) {
        if (k.startsWith("HTTP_") && typeof v === "string") env[k] = v;
      }
      seen.push({
        requestline: String(environ["llhttp.requestline"]),
        env,
        body: native(environ["wsgi.input"].read()),
      });
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode("ok")];
    };
    const log = new StringIO();
    class Handler extends WSGIRequestHandler {
      override getEnviron(): Partial<WSGIEnvironment> {
        const env = super.getEnviron();
        env["llhttp.requestline"] = this.requestline;
        return env;
      }
      override getStderr() {
        return log;
      }
    }
    const server = makeServer("127.0.0.1", 0, app, {
      handlerClass: Handler,
      keepAliveTimeout: 1000,
      headerTimeout: 2000,
    });
    const serving = server.serveForever();
    const results = new Map<string, Run>();
    try {
      for (const c of all) {
        seen = [];
        const { input, added } = withHost(c);
        const client = await RawClient.open(server.port);
        try {
          await client.trySend(input);
          await client.closeWrite();
          const bytes = await client.readToEnd(5000);
          results.set(c.name, judge(c, added, seen, responses(bytes)));
        } finally {
          client.close();
        }
      }
    } finally {
      await server.shutdown();
      await serving;
      server.close();
    }

    const verdicts = new Map<Verdict, number>();
    for (const c of cases) {
      const r = results.get(c.name)!;
      verdicts.set(r.verdict, (verdicts.get(r.verdict) ?? 0) + 1);
    }
    console.log(
      `llhttp: ${cases.length} strict cases run (${
        [...verdicts].map(([v, n]) => `${n} ${v}`).join(", ")
      }), ${lenient.length} lenient ones, ${skipped.length} fixtures not ` +
        `convertible`,
    );

    await t.step("every case is served or refused as llhttp reads it", () => {
      const wrong: string[] = [];
      for (const c of cases) {
        const r = results.get(c.name)!;
        const want = ALLOWED[c.name]?.verdict ?? llhttpVerdict(c);
        if (r.verdict !== want) {
          wrong.push(
            `${c.name} (${c.file}:${c.line}; llhttp: ${
              c.expected.error ? `"${c.expected.error.reason}"` : "valid"
            }; want ${want}): ${r.verdict}${r.detail ? `: ${r.detail}` : ""}`,
          );
        }
      }
      assertEquals(wrong, []);
    });

    await t.step(
      "lenient fixtures: the app never sees what lenient llhttp did not",
      () => {
        const wrong = lenient
          .map((c) => [c, results.get(c.name)!] as const)
          .filter(([, r]) => r.verdict === "extra")
          .map(([c, r]) => `${c.name} (${c.file}:${c.line}): ${r.detail}`);
        assertEquals(wrong, []);
      },
    );

    await t.step("every allowed difference is still one", () => {
      const stale = Object.keys(ALLOWED).filter((name) => {
        const c = cases.find((c) => c.name === name);
        return c === undefined ||
          results.get(name)!.verdict === llhttpVerdict(c);
      });
      assertEquals(
        stale,
        [],
        "ALLOWED lists cases that do not differ (or were not run)",
      );
    });
  },
});
