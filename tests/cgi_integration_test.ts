// CGIHandler under real web servers: lighttpd, apache2 and nginx+fcgiwrap,
// each started in the foreground on a free 127.0.0.1 port with a temp
// config, running
// tests/_cgi_app.ts and examples/cgi.ts through `deno run`. Skipped with a
// printed reason when a server is not installed, except under CI=true
// where a missing server fails (see tests/_cgi_servers.ts).

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  type CgiServer,
  serverMissing,
  type ServerName,
  startCgiServer,
} from "./_cgi_servers.ts";
import { latin1Decode, latin1Encode } from "../_latin1.ts";

const APP = new URL("./_cgi_app.ts", import.meta.url).pathname;
const EXAMPLE = new URL("../examples/cgi.ts", import.meta.url).pathname;
const ERROR_BODY =
  "A server error occurred.  Please contact the administrator.";

/**
 * fetch(), bounded: the whole response is read within 30 s or the request
 * is aborted (a hung CGI program fails the test instead of stalling it).
 */
async function fetchT(url: string, init: RequestInit = {}): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 30000);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const body = await res.arrayBuffer();
    const empty = res.status === 204 || res.status === 304;
    return new Response(empty ? null : body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  } finally {
    clearTimeout(timer);
  }
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** One raw HTTP/1.0 exchange; the whole response as a native string. */
async function rawRequest(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 20000);
  try {
    await conn.write(latin1Encode(head));
    const parts: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      parts.push(buf.slice(0, n));
    }
    return parts.map((p) => latin1Decode(p)).join("");
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

async function waitForLog(server: CgiServer, text: string): Promise<string> {
  // Servers write CGI stderr as it comes; give the log a moment to land.
  let log = "";
  for (let i = 0; i < 100; i++) {
    log = await server.errorLog();
    if (log.includes(text)) return log;
    await new Promise((r) => setTimeout(r, 50));
  }
  return log;
}

for (const name of ["lighttpd", "apache2", "nginx"] as ServerName[]) {
  Deno.test({
    name: `CGIHandler under ${name}`,
    ignore: serverMissing(name),
    async fn(t) {
      await using server = await startCgiServer(name, {
        programs: {
          app: { script: APP, flags: ["--allow-env"] },
          appx: { script: APP, flags: ["-A"] },
          form: { executable: EXAMPLE },
        },
      });
      const url = server.url;

      await t.step("UTF-8 and invalid UTF-8 path bytes", async () => {
        for (const prog of ["app", "appx"]) {
          const res = await fetchT(`${url}/${prog}/p%C3%A4th/%FF/x`);
          assertEquals(res.status, 200);
          const text = latin1Decode(await bytesOf(res));
          assertStringIncludes(text, `SCRIPT_NAME=/${prog}\n`);
          assertStringIncludes(text, "\nPATH_INFO=/p\xc3\xa4th/\xff/x\n");
        }
      });

      await t.step(
        "a path that only starts with a program's name is not it",
        async () => {
          // nginx's recipe once was a prefix location: /formxyz ran the form
          // with PATH_INFO "xyz".
          for (const path of ["/formxyz", "/appxyz", "/formx/y"]) {
            const res = await fetchT(`${url}${path}`);
            assertEquals(res.status, 404, path);
            const body = await res.text();
            assert(!body.includes("<form"), `${path} ran the form`);
            assert(!body.includes("SCRIPT_NAME="), `${path} ran the app`);
          }
          const res = await fetchT(`${url}/form/`);
          assertEquals(res.status, 200);
          assertStringIncludes(await res.text(), "<form");
        },
      );

      await t.step("a line feed in PATH_INFO", async () => {
        const res = await fetchT(`${url}/app/x%0Ay`);
        if (name === "lighttpd") {
          assertEquals(res.status, 400); // lighttpd refuses it
          return;
        }
        assertEquals(res.status, 200);
        const text = latin1Decode(await bytesOf(res));
        assertStringIncludes(text, "\nPATH_INFO=/x\ny\n");
      });

      await t.step("HTTP_HOST and SERVER_PORT", async () => {
        const text = latin1Decode(await bytesOf(await fetchT(`${url}/app/h`)));
        assertStringIncludes(text, `\nSERVER_PORT=${server.port}\n`);
        // Debian's nginx fastcgi_params (since 1.22.1-9+deb12u6) sets
        // HTTP_HOST to $host, which drops the port; before, and upstream,
        // the client's Host header went through as sent.
        const hostOnly = name === "nginx" &&
          /^\s*fastcgi_param\s+HTTP_HOST\s+\$host;/m
            .test(
              await Deno.readTextFile("/etc/nginx/fastcgi_params").catch(() =>
                ""
              ),
            );
        assertStringIncludes(
          text,
          `\nHTTP_HOST=127.0.0.1${hostOnly ? "" : `:${server.port}`}\n`,
        );
      });

      await t.step("a query string, raw", async () => {
        const res = await fetchT(`${url}/app/q?a=%FF&b=%C3%A4+c&d`);
        const text = latin1Decode(await bytesOf(res));
        assertStringIncludes(text, "\nQUERY_STRING=a=%FF&b=%C3%A4+c&d\n");
        assertStringIncludes(text, "REQUEST_METHOD=GET\n");
        assertStringIncludes(text, "\nwsgi.run_once=true\n");
      });

      await t.step("raw 8-bit header bytes (with -A)", async () => {
        const res = await fetchT(`${url}/appx/h`, {
          headers: { "X-Raw": "a\xe9\xff" },
        });
        const text = latin1Decode(await bytesOf(res));
        assertStringIncludes(text, "\nHTTP_X_RAW=a\xe9\xff\n");
      });

      await t.step("a POST of 1.5 MB comes back byte for byte", async () => {
        const body = noise(1536 * 1024);
        const res = await fetchT(`${url}/app/post`, {
          method: "POST",
          headers: { "Content-Type": "application/octet-stream" },
          body,
        });
        assertEquals(res.status, 200);
        assertEquals(
          res.headers.get("Content-Type"),
          "application/octet-stream",
        );
        const got = await bytesOf(res);
        assertEquals(got.length, body.length);
        assert(got.every((b, i) => b === body[i]), "the body differs");
      });

      await t.step("a custom status line and header", async () => {
        const raw = await rawRequest(
          server.port,
          "GET /app/custom HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        );
        const [head, body] = raw.split("\r\n\r\n");
        const statusLine = head.split("\r\n")[0];
        // Apache and nginx pass the CGI reason phrase on; lighttpd writes
        // its own, and has none for 299.
        assertEquals(
          statusLine.replace(/^HTTP\/1\.[01] /, ""),
          name === "lighttpd" ? "299 " : "299 Custom Thing",
        );
        assertStringIncludes(head + "\r\n", "\r\nX-Custom: yes; ok\r\n");
        assertStringIncludes(head + "\r\n", "\r\nContent-Type: text/plain\r\n");
        assertEquals(body, "custom body\n");
      });

      await t.step("the error page when the app throws", async () => {
        const marker = `fail-${crypto.randomUUID()}`;
        const res = await fetchT(`${url}/app/${marker}`);
        assertEquals(res.status, 500);
        assertEquals(res.headers.get("Content-Type"), "text/plain");
        assertEquals(latin1Decode(await bytesOf(res)), ERROR_BODY);
        const log = await waitForLog(server, marker);
        assertStringIncludes(log, `Error: boom from the app at /${marker}`);
        assertStringIncludes(log, "at app (");
      });

      await t.step(
        "the app's stderr reaches the server's error log",
        async () => {
          const marker = crypto.randomUUID();
          const res = await fetchT(`${url}/app/log?${marker}`);
          assertEquals(res.status, 204);
          await res.body?.cancel();
          const log = await waitForLog(server, marker);
          assertStringIncludes(log, `app log line ${marker}`);
        },
      );

      await t.step(
        "examples/cgi.ts answers the form by GET and POST",
        async () => {
          let res = await fetchT(`${url}/form?name=Ada%20%C3%A9`);
          assertEquals(res.status, 200);
          assertEquals(
            res.headers.get("Content-Type"),
            "text/html; charset=utf-8",
          );
          assertStringIncludes(
            await res.text(),
            "<p>Hello, Ada \u00e9! (sent by GET)</p>",
          );
          res = await fetchT(`${url}/form`, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: "name=Bob+%26+%3Cb%3E",
          });
          assertEquals(res.status, 200);
          assertStringIncludes(
            await res.text(),
            "<p>Hello, Bob &#38; &#60;b&#62;! (sent by POST)</p>",
          );
          // Not UTF-8 (a raw 0xE9): 400, not a form full of U+FFFD.
          res = await fetchT(`${url}/form`, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: latin1Encode("name=caf\xe9"),
          });
          assertEquals(res.status, 400);
          assertEquals(await res.text(), "The form is not UTF-8 text.\n");
          res = await fetchT(`${url}/form`, { method: "DELETE" });
          assertEquals(res.status, 405);
          assertEquals(res.headers.get("Allow"), "GET, HEAD, POST");
          await res.body?.cancel();
        },
      );
    },
  });
}

Deno.test({
  name: "nginx: docs/cgi.md's HTTP_HOST line puts the port back",
  ignore: serverMissing("nginx"),
  async fn() {
    // After `include fastcgi_params`, as docs/cgi.md says: fcgiwrap keeps
    // the last HTTP_HOST.
    await using server = await startCgiServer("nginx", {
      programs: { app: { script: APP, flags: ["--allow-env"] } },
      env: { HTTP_HOST: "$host:$server_port" },
    });
    const res = await fetchT(`${server.url}/app/h`);
    assertEquals(res.status, 200);
    assertStringIncludes(
      latin1Decode(await bytesOf(res)),
      `\nHTTP_HOST=127.0.0.1:${server.port}\n`,
    );
  },
});
