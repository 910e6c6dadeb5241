// The types as a TypeScript user meets them (issue 16, item 5). This file
// is type-checked by `deno task test` (deno check tests/): each line below
// compiles as written, and each `@ts-expect-error` marks a mistake the
// checker must keep refusing. The tests then run the same apps, to show
// the runtime accepts what the types accept.

import { assertEquals } from "@std/assert";
import { BaseCGIHandler } from "../handlers.ts";
import { toFetchHandler } from "../fetch.ts";
import { BytesIO, setupTestingDefaults, StringIO } from "../util.ts";
import type {
  HeaderList,
  StartResponse,
  WSGIApplication,
  WSGIEnvironment,
} from "../types.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The required keys need no `!`: every server sets them. */
const echo: WSGIApplication = (environ, startResponse) => {
  const body = environ["wsgi.input"].read();
  environ["wsgi.errors"].write(`${environ.REQUEST_METHOD} ${body.length}\n`);
  const scheme: string = environ["wsgi.url_scheme"];
  const name: string = environ.SERVER_NAME;
  // @ts-expect-error PATH_INFO may be absent (PEP 3333: when empty)
  const path: string = environ.PATH_INFO;
  const headers = [["Content-Type", "text/plain"]]; // string[][]
  startResponse("200 OK", headers);
  return [enc(`${scheme}://${name}${path ?? ""}`)];
};

/** Header lists as users write them. */
const lists: WSGIApplication = (environ, startResponse) => {
  const asConst = [["Content-Type", "text/plain"]] as const;
  const pairs: readonly (readonly [string, string])[] = [["X-A", "1"]];
  const frozen: HeaderList = Object.freeze([["X-B", "2"]]);
  const mutable: [string, string][] = [["X-C", "3"]];
  const which = environ.QUERY_STRING;
  if (which === "const") startResponse("200 OK", asConst);
  else if (which === "pairs") startResponse("200 OK", pairs);
  else if (which === "frozen") startResponse("200 OK", frozen);
  else startResponse("200 OK", mutable);
  return [enc(which ?? "")];
};

/** What the checker refuses. */
function refused(startResponse: StartResponse): void {
  // @ts-expect-error a status is a string
  startResponse(200, []);
  // @ts-expect-error headers are a list of pairs, not a string
  startResponse("200 OK", "Content-Type: text/plain");
  // @ts-expect-error a value is a string
  startResponse("200 OK", [["X-N", 5]]);
  // @ts-expect-error write() takes bytes
  startResponse("200 OK", [])("text");
}

/** An environ built step by step, completed by setupTestingDefaults. */
function environFor(query: string): WSGIEnvironment {
  const environ: Partial<WSGIEnvironment> = { QUERY_STRING: query };
  // @ts-expect-error not an environ yet: wsgi.input and others are missing
  const early: WSGIEnvironment = environ;
  void early;
  setupTestingDefaults(environ);
  return environ; // now a WSGIEnvironment
}

Deno.test("the typed apps run under the handlers and the bridge", async () => {
  void refused;
  for (const query of ["const", "pairs", "frozen", "mutable"]) {
    const out = new BytesIO();
    const environ = environFor(query);
    const h = new BaseCGIHandler(new BytesIO(), out, new StringIO(), environ);
    h.osEnviron = {};
    await h.run(lists);
    const text = new TextDecoder().decode(out.getValue());
    assertEquals(text.slice(0, 16), "Status: 200 OK\r\n", query);
    assertEquals(text.endsWith(`\r\n\r\n${query}`), true, text);

    const response = await toFetchHandler(lists)(
      new Request(`http://x/?${query}`),
    );
    assertEquals(response.status, 200);
    assertEquals(await response.text(), query);
  }
  const errors = new StringIO();
  const response = await toFetchHandler(echo, { errors })(
    new Request("http://example.org/p", { method: "POST", body: "abc" }),
  );
  assertEquals(await response.text(), "http://example.org/p");
  assertEquals(errors.getValue(), "POST 3\n");
});
