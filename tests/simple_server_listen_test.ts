// How the simple server listens and stops: the `signal` option, HTTPS
// (`cert`, `key`) checked with curl --cacert against a certificate made
// here with openssl, and Unix sockets (`path`) checked with curl
// --unix-socket. Everything on loopback or in a temp dir removed after.
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { makeServer, type ServerOptions } from "../simple_server.ts";
import { requestUri } from "../util.ts";
import type { WSGIApplication } from "../types.ts";
import { withServer } from "./_tcp.ts";
import { curl, selfSignedCert } from "./_tools.ts";

const enc = new TextEncoder();

/** Answers the environ values that depend on how the server listens, as JSON. */
const whereApp: WSGIApplication = (environ, startResponse) => {
  const keys = [
    "REMOTE_ADDR",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTPS",
    "HTTP_HOST",
    "wsgi.url_scheme",
  ];
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = environ[k] ?? null;
  out.url = requestUri(environ);
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [enc.encode(JSON.stringify(out))];
};

/** True once nothing accepts connections on 127.0.0.1:`port`. */
async function refused(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return false;
  } catch {
    return true;
  }
}

Deno.test("signal: aborting it shuts the server down gracefully", async (t) => {
  await t.step(
    "a request in flight finishes, then serveForever returns",
    async () => {
      const entered = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const app: WSGIApplication = async (_environ, startResponse) => {
        entered.resolve();
        await release.promise;
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return [enc.encode("finished")];
      };
      const stop = new AbortController();
      const server = makeServer("127.0.0.1", 0, app, {
        signal: stop.signal,
        logRequests: false,
      });
      const served = server.serveForever();
      try {
        const res = fetch(`http://127.0.0.1:${server.port}/`, {
          signal: AbortSignal.timeout(20000),
        });
        await entered.promise;
        stop.abort();
        // Stopped accepting at once; the request in flight still runs.
        assert(await refused(server.port), "still accepting after abort()");
        release.resolve();
        const r = await res;
        assertEquals(r.status, 200);
        assertEquals(r.headers.get("connection"), "close");
        assertEquals(await r.text(), "finished");
        await served;
        assert(server.shuttingDown);
      } finally {
        release.resolve();
        server.close();
      }
    },
  );

  await t.step("a signal aborted already: nothing is served", async () => {
    let calls = 0;
    const server = makeServer("127.0.0.1", 0, () => {
      calls++;
      return [];
    }, { signal: AbortSignal.abort(), logRequests: false });
    try {
      assert(server.shuttingDown);
      await server.serveForever(); // returns: there is nothing to serve
      assert(await refused(server.port));
      assertEquals(calls, 0);
    } finally {
      server.close();
    }
  });

  await t.step("its listener is removed when the server closes", async () => {
    const stop = new AbortController();
    const signal = stop.signal;
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    type Spied = (
      type: string,
      listener: EventListener,
      options?: AddEventListenerOptions,
    ) => void;
    const spyAdd: Spied = (type, listener, options) => {
      added.push(listener);
      add(type, listener, options);
    };
    const spyRemove: Spied = (type, listener, options) => {
      removed.push(listener);
      remove(type, listener, options);
    };
    signal.addEventListener = spyAdd as typeof signal.addEventListener;
    signal.removeEventListener = spyRemove as typeof signal.removeEventListener;
    for (const end of ["close", "shutdown"] as const) {
      added.length = removed.length = 0;
      const server = makeServer("127.0.0.1", 0, whereApp, { signal });
      assertEquals(added.length, 1);
      if (end === "close") server.close();
      else await server.shutdown();
      assertEquals(removed, added, `not removed by ${end}()`);
      server.close();
    }
    stop.abort(); // no server left to stop: nothing happens
  });

  await t.step("anything but an AbortSignal is refused", () => {
    assertThrows(
      () =>
        makeServer("127.0.0.1", 0, whereApp, {
          signal: new AbortController() as unknown as AbortSignal,
        }),
      TypeError,
      "makeServer option signal must be an AbortSignal",
    );
  });
});

Deno.test("HTTPS: cert and key, checked by curl --cacert", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-tls-" });
  try {
    const { certFile, keyFile, cert, key } = await selfSignedCert(dir);

    await t.step(
      "wsgi.url_scheme https, HTTPS on, URLs with https",
      async () => {
        await withServer(whereApp, async (server) => {
          for (const host of ["localhost", "127.0.0.1"]) {
            const body = await curl([
              "--cacert",
              certFile,
              `https://${host}:${server.port}/x?y=1`,
            ]);
            assertEquals(JSON.parse(body), {
              REMOTE_ADDR: "127.0.0.1",
              SERVER_NAME: "localhost",
              SERVER_PORT: String(server.port),
              HTTPS: "on",
              HTTP_HOST: `${host}:${server.port}`,
              "wsgi.url_scheme": "https",
              url: `https://${host}:${server.port}/x?y=1`,
            });
          }
        }, { cert, key });
      },
    );

    await t.step("plain HTTP is http, without HTTPS", async () => {
      await withServer(whereApp, async (server) => {
        const body = JSON.parse(
          await curl([`http://127.0.0.1:${server.port}/`]),
        );
        assertEquals(body["wsgi.url_scheme"], "http");
        assertEquals(body.HTTPS, null);
      });
    });

    await t.step("clear errors for options that cannot work", () => {
      const cases: [ServerOptions, string][] = [
        [{ cert }, "cert and key (--cert, --key) go together"],
        [{ key }, "cert and key (--cert, --key) go together"],
        [
          { cert: certFile, key: keyFile },
          'option cert must be PEM text ("-----BEGIN …"), got a string without it (a file name?): pass Deno.readTextFileSync(file)',
        ],
        [
          { cert, key, path: `${dir}/s.sock` },
          "cannot serve HTTPS on a Unix socket",
        ],
        [{ path: "" }, "option path must be a non-empty string"],
        [
          { cert: enc.encode(cert) as unknown as string, key },
          'option cert must be PEM text ("-----BEGIN …"), got object',
        ],
      ];
      for (const [options, message] of cases) {
        assertThrows(
          () => makeServer("127.0.0.1", 0, whereApp, options),
          TypeError,
          message,
        );
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket: path, checked by curl --unix-socket", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wsgiref-unix-" });
  const path = `${dir}/app.sock`;
  try {
    await t.step("the environ for a socket, and the access log", async () => {
      const log = await withServer(whereApp, async (server) => {
        assertEquals(server.addr, { transport: "unix", path });
        assertEquals(server.port, 0);
        const body = await curl([
          "--unix-socket",
          path,
          "http://example.com/p?q=1",
        ]);
        assertEquals(JSON.parse(body), {
          REMOTE_ADDR: "", // curl binds no path of its own (gunicorn's too)
          SERVER_NAME: "localhost",
          SERVER_PORT: "80",
          HTTPS: null,
          HTTP_HOST: "example.com",
          "wsgi.url_scheme": "http",
          url: "http://example.com/p?q=1",
        });
        // HTTP/1.0 without Host: the URL falls back on SERVER_NAME and
        // SERVER_PORT, and names no port.
        const bare = JSON.parse(
          await curl(["--unix-socket", path, "-0", "-H", "Host:", "http://x/"]),
        );
        assertEquals(bare.HTTP_HOST, null);
        assertEquals(bare.url, "http://localhost/");
      }, { path });
      assertStringIncludes(log.getValue(), ' "GET /p?q=1 HTTP/1.1" 200 ');
    });

    await t.step("the socket file is removed on close", async () => {
      const server = makeServer("", 0, whereApp, { path });
      assert((await Deno.lstat(path)).isSocket);
      server.close();
      await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
    });

    await t.step("a socket file left behind is replaced", async () => {
      // Left by a server that was killed: a socket nobody listens on.
      await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          'Deno.listen({ transport: "unix", path: Deno.args[0] }); ' +
          'Deno.kill(Deno.pid, "SIGKILL");',
          path,
        ],
      }).output();
      assert((await Deno.lstat(path)).isSocket);
      await withServer(whereApp, async () => {
        const body = await curl(["--unix-socket", path, "http://x/"]);
        assertEquals(JSON.parse(body).SERVER_NAME, "localhost");
      }, { path });
    });

    await t.step("any other file there is kept, and an error", async () => {
      const file = `${dir}/data.txt`;
      await Deno.writeTextFile(file, "precious");
      await Deno.symlink(file, `${dir}/link.sock`);
      for (const p of [file, `${dir}/link.sock`]) {
        assertThrows(
          () => makeServer("", 0, whereApp, { path: p }),
          Deno.errors.AlreadyExists,
          `${p} exists and is not a socket: the server does not remove it`,
        );
      }
      assertEquals(await Deno.readTextFile(file), "precious");
      assert((await Deno.lstat(`${dir}/link.sock`)).isSymlink);
    });

    await t.step("a signal stops it too, and the file goes", async () => {
      const stop = new AbortController();
      const server = makeServer("", 0, whereApp, {
        path,
        signal: stop.signal,
        logRequests: false,
      });
      const served = server.serveForever();
      assertEquals(
        JSON.parse(await curl(["--unix-socket", path, "http://x/"])).url,
        "http://x/",
      );
      stop.abort();
      await served;
      await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
      server.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
