// The environ from a request (_environ.ts), shared by the simple server and
// the Fetch bridge: percent-decoding, header fields, the file wrapper
// factory; and the same header rules seen through both servers.

import { assertEquals, assertFalse, assertStrictEquals } from "@std/assert";
import {
  addHeaderField,
  envKeys,
  fileWrapperFactory,
  unquoteNative,
} from "../_environ.ts";
import { toFetchHandler } from "../fetch.ts";
import { BytesIO, FileWrapper } from "../util.ts";
import type { WSGIApplication, WSGIEnvironment } from "../types.ts";
import { native, withServer } from "./_tcp.ts";

Deno.test("unquoteNative: each valid %XX is one code unit", () => {
  const cases: [string, string][] = [
    ["/plain", "/plain"],
    ["/caf%C3%A9", "/caf\xc3\xa9"],
    ["/a%2Fb%2fc", "/a/b/c"],
    ["/%zz%4", "/%zz%4"],
    ["/%", "/%"],
    ["/%%41", "/%A"],
    ["/\x80%80", "/\x80\x80"], // raw bytes 0x80-0xFF stay as they are
    ["%00%ff%FF", "\x00\xff\xff"],
  ];
  for (const [raw, decoded] of cases) {
    assertEquals(unquoteNative(raw), decoded, raw);
  }
});

Deno.test("addHeaderField: wsgiref's get_environ rules", async (t) => {
  await t.step("HTTP_*, repeats joined with ',', values stripped", () => {
    const env: Partial<WSGIEnvironment> = {};
    addHeaderField(env, "X-Thing", " one ");
    addHeaderField(env, "x-thing", "two\t");
    addHeaderField(env, "User-Agent", "ua");
    assertEquals(env, { HTTP_X_THING: "one,two", HTTP_USER_AGENT: "ua" });
  });
  await t.step("Content-Type and Content-Length unprefixed, once", () => {
    const env: Partial<WSGIEnvironment> = {};
    addHeaderField(env, "Content-Type", "text/plain");
    addHeaderField(env, "content-type", "text/html");
    addHeaderField(env, "Content-Length", "3");
    assertEquals(env, { CONTENT_TYPE: "text/plain", CONTENT_LENGTH: "3" });
  });
  await t.step("a name mapping onto a variable already set is skipped", () => {
    const env: Partial<WSGIEnvironment> = { SERVER_NAME: "real" };
    addHeaderField(env, "Server-Name", "forged");
    assertEquals(env, { SERVER_NAME: "real" });
  });
  await t.step("envKeys: the CGI name and the HTTP_ name", () => {
    assertEquals(envKeys("Content-Type"), [
      "CONTENT_TYPE",
      "HTTP_CONTENT_TYPE",
    ]);
    assertEquals(envKeys("x-a"), ["X_A", "HTTP_X_A"]);
    assertEquals(envKeys("X_A"), null);
  });
  await t.step("a name holding '_' is dropped", () => {
    const env: Partial<WSGIEnvironment> = {};
    addHeaderField(env, "X-Auth-User", "real");
    addHeaderField(env, "X_Auth_User", "forged");
    addHeaderField(env, "__proto__", "x");
    assertEquals(env, { HTTP_X_AUTH_USER: "real" });
  });
});

Deno.test("fileWrapperFactory: instances of the class given", () => {
  class Mine extends FileWrapper {}
  const plain = fileWrapperFactory(FileWrapper);
  assertStrictEquals(plain, fileWrapperFactory(FileWrapper));
  const w = plain(new BytesIO(), 16);
  assertStrictEquals(Object.getPrototypeOf(w), FileWrapper.prototype);
  assertEquals(w.blksize, 16);
  const m = fileWrapperFactory(Mine)(new BytesIO());
  assertStrictEquals(Object.getPrototypeOf(m), Mine.prototype);
});

Deno.test("X_Auth_User cannot pose as X-Auth-User on either server", async () => {
  const seen: WSGIEnvironment[] = [];
  const app: WSGIApplication = (environ, startResponse) => {
    seen.push(environ);
    startResponse("204 No Content", []);
    return [];
  };
  const request = "GET / HTTP/1.1\r\nHost: x\r\nX_Auth_User: forged\r\n" +
    "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n" +
    "Connection: close\r\n\r\n";
  const ask = async (port: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      return native(buf.subarray(0, n ?? 0));
    } finally {
      conn.close();
    }
  };
  await withServer(app, async (server) => {
    await ask(server.port);
  }, { logRequests: false });
  await using bridge = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app),
  );
  await ask(bridge.addr.port);
  assertEquals(seen.length, 2);
  for (const env of seen) {
    assertFalse("HTTP_X_AUTH_USER" in env);
    assertEquals(env.HTTP_X_FORWARDED_FOR, "10.0.0.1,10.0.0.2");
  }
});
