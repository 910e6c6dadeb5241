import {
  assert,
  assertEquals,
  assertFalse,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  applicationUri,
  BytesIO,
  FileWrapper,
  guessScheme,
  isHopByHop,
  nativeToText,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
  StringIO,
  textToNative,
} from "../util.ts";
import type { FileLike, WSGIEnvironment } from "../types.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function checkShift(
  snIn: string,
  piIn: string,
  part: string | undefined,
  snOut: string,
  piOut: string,
) {
  const env: Partial<WSGIEnvironment> = { SCRIPT_NAME: snIn, PATH_INFO: piIn };
  setupTestingDefaults(env);
  assertStrictEquals(shiftPathInfo(env), part, `shift ${snIn} ${piIn}`);
  assertEquals(env.PATH_INFO, piOut, `PATH_INFO for ${snIn} ${piIn}`);
  assertEquals(env.SCRIPT_NAME, snOut, `SCRIPT_NAME for ${snIn} ${piIn}`);
}

Deno.test("shiftPathInfo: simple shifts", () => {
  checkShift("", "/", "", "/", "");
  checkShift("", "/x", "x", "/x", "");
  checkShift("/", "", undefined, "/", "");
  checkShift("/a", "/x/y", "x", "/a/x", "/y");
  checkShift("/a", "/x/", "x", "/a/x", "/");
});

Deno.test("shiftPathInfo: normalized shifts", () => {
  checkShift("/a/b", "/../y", "..", "/a", "/y");
  checkShift("", "/../y", "..", "", "/y");
  checkShift("/a/b", "//y", "y", "/a/b/y", "");
  checkShift("/a/b", "//y/", "y", "/a/b/y", "/");
  checkShift("/a/b", "/./y", "y", "/a/b/y", "");
  checkShift("/a/b", "/./y/", "y", "/a/b/y", "/");
  checkShift("/a/b", "///./..//y/.//", "..", "/a", "/y/");
  checkShift("/a/b", "///", "", "/a/b/", "");
  checkShift("/a/b", "/.//", "", "/a/b/", "");
  checkShift("/a/b", "/x//", "x", "/a/b/x", "/");
  checkShift("/a/b", "/.", undefined, "/a/b", "");
});

Deno.test("shiftPathInfo: repeated shifts walk the whole path", () => {
  const env: Partial<WSGIEnvironment> = {
    SCRIPT_NAME: "",
    PATH_INFO: "/a/b/c",
  };
  assertEquals(shiftPathInfo(env), "a");
  assertEquals(shiftPathInfo(env), "b");
  assertEquals(shiftPathInfo(env), "c");
  assertEquals(shiftPathInfo(env), undefined);
  assertEquals(env.SCRIPT_NAME, "/a/b/c");
  assertEquals(env.PATH_INFO, "");
});

Deno.test("shiftPathInfo: missing keys and a relative PATH_INFO", () => {
  const env: Partial<WSGIEnvironment> = {};
  assertEquals(shiftPathInfo(env), undefined);
  assertEquals(env, {});
  // as in wsgiref, a relative PATH_INFO with a slash shifts its last part
  const rel: Partial<WSGIEnvironment> = { PATH_INFO: "x/y" };
  assertEquals(shiftPathInfo(rel), "y");
  assertEquals(rel, { PATH_INFO: "x", SCRIPT_NAME: "/y" });
  assertThrows(
    () => shiftPathInfo({ PATH_INFO: "x" }),
    TypeError,
    'start with "/"',
  );
});

Deno.test("setupTestingDefaults: every default", async (t) => {
  const cases: [string, unknown][] = [
    ["SERVER_NAME", "127.0.0.1"],
    ["SERVER_PORT", "80"],
    ["SERVER_PROTOCOL", "HTTP/1.0"],
    ["HTTP_HOST", "127.0.0.1"],
    ["REQUEST_METHOD", "GET"],
    ["SCRIPT_NAME", ""],
    ["PATH_INFO", "/"],
    ["wsgi.version", [1, 0]],
    ["wsgi.run_once", false],
    ["wsgi.multithread", false],
    ["wsgi.multiprocess", false],
    ["wsgi.url_scheme", "http"],
  ];
  for (const [key, value] of cases) {
    await t.step(key, () => {
      const env: Partial<WSGIEnvironment> = {};
      setupTestingDefaults(env);
      assertEquals(env[key], value);
      const alt = { marker: key };
      const env2: Partial<WSGIEnvironment> = { [key]: alt };
      setupTestingDefaults(env2);
      assertStrictEquals(env2[key], alt);
    });
  }
  await t.step("wsgi.input and wsgi.errors", () => {
    const env: Partial<WSGIEnvironment> = {};
    setupTestingDefaults(env);
    assert(env["wsgi.input"] instanceof BytesIO);
    assertEquals(env["wsgi.input"]!.read().length, 0);
    assert(env["wsgi.errors"] instanceof StringIO);
    env["wsgi.errors"]!.write("kept");
    assertEquals((env["wsgi.errors"] as StringIO).getValue(), "kept");
    const input = new BytesIO(enc("x"));
    const errors = new StringIO();
    const env2: Partial<WSGIEnvironment> = {
      "wsgi.input": input,
      "wsgi.errors": errors,
    };
    setupTestingDefaults(env2);
    assertStrictEquals(env2["wsgi.input"], input);
    assertStrictEquals(env2["wsgi.errors"], errors);
  });
  await t.step("each call makes fresh streams", () => {
    const a: Partial<WSGIEnvironment> = {};
    const b: Partial<WSGIEnvironment> = {};
    setupTestingDefaults(a);
    setupTestingDefaults(b);
    assert(a["wsgi.input"] !== b["wsgi.input"]);
    assert(a["wsgi.errors"] !== b["wsgi.errors"]);
  });
  await t.step("PATH_INFO alone keeps SCRIPT_NAME unset", () => {
    const env: Partial<WSGIEnvironment> = { PATH_INFO: "/x" };
    setupTestingDefaults(env);
    assertFalse("SCRIPT_NAME" in env);
  });
});

Deno.test("setupTestingDefaults: cross defaults", () => {
  const cross = (key: string, value: string, env: Partial<WSGIEnvironment>) => {
    setupTestingDefaults(env);
    assertEquals(env[key], value, `${key} from ${JSON.stringify(env)}`);
  };
  cross("HTTP_HOST", "foo.bar", { SERVER_NAME: "foo.bar" });
  cross("wsgi.url_scheme", "https", { HTTPS: "on" });
  cross("wsgi.url_scheme", "https", { HTTPS: "1" });
  cross("wsgi.url_scheme", "https", { HTTPS: "yes" });
  cross("wsgi.url_scheme", "http", { HTTPS: "foo" });
  cross("SERVER_PORT", "80", { HTTPS: "foo" });
  cross("SERVER_PORT", "443", { HTTPS: "on" });
});

Deno.test("guessScheme", () => {
  assertEquals(guessScheme({}), "http");
  assertEquals(guessScheme({ HTTPS: "foo" }), "http");
  assertEquals(guessScheme({ HTTPS: "on" }), "https");
  assertEquals(guessScheme({ HTTPS: "yes" }), "https");
  assertEquals(guessScheme({ HTTPS: "1" }), "https");
  assertEquals(guessScheme({ HTTPS: "ON" }), "http");
});

Deno.test("applicationUri", () => {
  const check = (uri: string, env: Partial<WSGIEnvironment> = {}) => {
    setupTestingDefaults(env);
    assertEquals(applicationUri(env), uri);
  };
  check("http://127.0.0.1/");
  check("http://127.0.0.1/spam", { SCRIPT_NAME: "/spam" });
  check("http://127.0.0.1/sp%E4m", { SCRIPT_NAME: "/sp\xe4m" });
  check("http://spam.example.com:2071/", {
    HTTP_HOST: "spam.example.com:2071",
    SERVER_PORT: "2071",
  });
  check("http://spam.example.com/", { SERVER_NAME: "spam.example.com" });
  check("http://127.0.0.1/", {
    HTTP_HOST: "127.0.0.1",
    SERVER_NAME: "spam.example.com",
  });
  check("https://127.0.0.1/", { HTTPS: "on" });
  check("http://127.0.0.1:8000/", {
    SERVER_PORT: "8000",
    HTTP_HOST: undefined,
  });
  check("https://127.0.0.1:8443/", {
    HTTPS: "on",
    SERVER_PORT: "8443",
    HTTP_HOST: undefined,
  });
  check("https://127.0.0.1/", {
    HTTPS: "on",
    SERVER_PORT: "443",
    HTTP_HOST: "",
  });
});

Deno.test("applicationUri: a missing key is a clear error", () => {
  assertThrows(
    () => applicationUri({ SERVER_NAME: "x", SERVER_PORT: "80" }),
    TypeError,
    "wsgi.url_scheme",
  );
  assertThrows(
    () => applicationUri({ ...base(), SCRIPT_NAME: "/\u0100" }),
    TypeError,
    "native string",
  );
});

function base(): Partial<WSGIEnvironment> {
  const env: Partial<WSGIEnvironment> = {};
  setupTestingDefaults(env);
  return env;
}

Deno.test("requestUri", () => {
  const check = (uri: string, env: Partial<WSGIEnvironment>, query = true) => {
    setupTestingDefaults(env);
    assertEquals(requestUri(env, query), uri);
  };
  check("http://127.0.0.1/", {});
  check("http://127.0.0.1/spam", { SCRIPT_NAME: "/spam" });
  check("http://127.0.0.1/sp%E4m", { SCRIPT_NAME: "/sp\xe4m" });
  check("http://127.0.0.1/spammity/spam", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
  });
  check("http://127.0.0.1/spammity/sp%E4m", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/sp\xe4m",
  });
  check("http://127.0.0.1/spammity/spam;ham", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;ham",
  });
  check("http://127.0.0.1/spammity/spam;cookie=1234,5678", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;cookie=1234,5678",
  });
  check("http://127.0.0.1/spammity/spam?say=ni", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "say=ni",
  });
  check("http://127.0.0.1/spammity/spam?s%E4y=ni", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "s%E4y=ni",
  });
  check("http://127.0.0.1/spammity/spam", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "say=ni",
  }, false);
});

Deno.test("requestUri: quoting is over ISO-8859-1 bytes", () => {
  const env = base();
  // UTF-8 bytes of "ä" read as ISO-8859-1, a space, a "?" and a "%".
  env.PATH_INFO = "/p\xc3\xa4th a?b%c~d";
  env.SCRIPT_NAME = "";
  assertEquals(requestUri(env), "http://127.0.0.1/p%C3%A4th%20a%3Fb%25c~d");
  env.PATH_INFO = "/\xff\x00";
  assertEquals(requestUri(env), "http://127.0.0.1/%FF%00");
  env.PATH_INFO = "/\u20ac";
  assertThrows(() => requestUri(env), TypeError, "PATH_INFO");
});

Deno.test("isHopByHop", () => {
  const title = (s: string) =>
    s.toLowerCase().replace(/(^|-)([a-z])/g, (_, p, c) => p + c.toUpperCase());
  for (
    const hop of [
      "Connection",
      "Keep-Alive",
      "Proxy-Authenticate",
      "Proxy-Authorization",
      "TE",
      "Trailers",
      "Transfer-Encoding",
      "Upgrade",
    ]
  ) {
    for (const alt of [hop, title(hop), hop.toUpperCase(), hop.toLowerCase()]) {
      assert(isHopByHop(alt), alt);
    }
  }
  for (
    const name of [
      "Accept",
      "Cache-Control",
      "Date",
      "Pragma",
      "Trailer",
      "Via",
      "Warning",
    ]
  ) {
    for (
      const alt of [name, title(name), name.toUpperCase(), name.toLowerCase()]
    ) {
      assertFalse(isHopByHop(alt), alt);
    }
  }
});

class TextFile implements FileLike {
  pos = 0;
  closed = 0;
  constructor(readonly data: Uint8Array) {}
  read(size: number): Uint8Array {
    const out = this.data.subarray(this.pos, this.pos + size);
    this.pos += out.length;
    return out;
  }
  close() {
    this.closed++;
  }
}

Deno.test("FileWrapper: blocks of blksize, closed only by close()", () => {
  const file = new TextFile(enc("xyz".repeat(50)));
  const it = new FileWrapper(file, 120);
  assertStrictEquals(it.filelike, file);
  assertEquals(it.blksize, 120);
  assertEquals([...it].map(dec), ["xyz".repeat(40), "xyz".repeat(10)]);
  assertEquals(file.closed, 0);
  assertEquals([...it], [], "an exhausted wrapper stays exhausted");
  it.close();
  assertEquals(file.closed, 1);
  it.close();
  assertEquals(file.closed, 1, "close() is idempotent");
});

Deno.test("FileWrapper: default blksize is 8192", () => {
  const it = new FileWrapper(new TextFile(new Uint8Array(20000)));
  assertEquals([...it].map((b) => b.length), [8192, 8192, 3616]);
});

Deno.test("FileWrapper: async iteration, async read", async () => {
  const file = new TextFile(enc("abcdefg"));
  const asyncFile: FileLike = {
    read: (n) => Promise.resolve(file.read(n)),
  };
  const chunks: string[] = [];
  for await (const b of new FileWrapper(asyncFile, 3)) chunks.push(dec(b));
  assertEquals(chunks, ["abc", "def", "g"]);
  const w = new FileWrapper(asyncFile, 3);
  assertThrows(() => [...w], TypeError, "for await");
  // no close() on the filelike: close() is a no-op
  await w.close();
});

Deno.test("FileWrapper: over a Deno.FsFile, sync and async", async () => {
  const path = await Deno.makeTempFile();
  try {
    const data = new Uint8Array(70000).map((_, i) => i % 251);
    await Deno.writeFile(path, data);
    {
      using f = await Deno.open(path);
      const w = new FileWrapper(f, 65536);
      const blocks: Uint8Array[] = [];
      for await (const b of w) blocks.push(b.slice());
      assertEquals(blocks.reduce((n, b) => n + b.length, 0), 70000);
      const all = new Uint8Array(70000);
      let at = 0;
      for (const b of blocks) all.set(b, (at += b.length) - b.length);
      assertEquals(all, data);
    }
    const f = await Deno.open(path);
    const w = new FileWrapper(f, 30000);
    assertEquals([...w].map((b) => b.length), [30000, 30000, 10000]);
    await w.close();
    await w.close();
    assertThrows(() => f.readSync(new Uint8Array(1)), Deno.errors.BadResource);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("FileWrapper: bad arguments", () => {
  assertThrows(
    () => new FileWrapper("nope" as unknown as FileLike),
    TypeError,
    "read(size)",
  );
  assertThrows(() => new FileWrapper(new TextFile(enc("")), 0), RangeError);
});

Deno.test("BytesIO: read, readline, readlines, iteration", () => {
  const io = new BytesIO(enc("one\ntwo\n\nthree"));
  assertEquals(dec(io.readline()), "one\n");
  assertEquals(dec(io.readline(2)), "tw");
  assertEquals(dec(io.readline(-1)), "o\n");
  assertEquals(dec(io.read(1)), "\n");
  assertEquals(io.remaining, 5);
  assertEquals(dec(io.read()), "three");
  assertEquals(io.read().length, 0);
  assertEquals(io.readline().length, 0);

  const lines = new BytesIO(enc("a\nbb\nccc\ndddd"));
  assertEquals(lines.readlines(4).map(dec), ["a\n", "bb\n"]);
  assertEquals(lines.readlines().map(dec), ["ccc\n", "dddd"]);
  assertEquals([...new BytesIO(enc("x\ny"))].map(dec), ["x\n", "y"]);
  assertEquals(dec(new BytesIO(enc("abc")).read(0)), "");
  assertEquals(dec(new BytesIO(enc("abc")).read(10)), "abc");
});

Deno.test("BytesIO: a writable sink", () => {
  const io = new BytesIO();
  assertEquals(io.write(enc("HTTP/1.0 ")), 9);
  io.write(new Uint8Array(1000).fill(65));
  const value = io.getValue();
  assertEquals(value.length, 1009);
  assertEquals(dec(value.subarray(0, 10)), "HTTP/1.0 A");
  assertEquals(dec(io.read(4)), "HTTP");
  assertEquals(io.getValue().length, 1009, "getValue is everything");
  assertThrows(
    () => io.write("text" as unknown as Uint8Array),
    TypeError,
    "Uint8Array",
  );
  assertThrows(
    () => new BytesIO("text" as unknown as Uint8Array),
    TypeError,
    "encode",
  );
});

Deno.test("StringIO: keeps what is written, refuses bytes", () => {
  const s = new StringIO("start:");
  s.write("a");
  s.writelines(["b", "c\n"]);
  s.flush();
  assertEquals(s.getValue(), "start:abc\n");
  s.write("d");
  assertEquals(s.getValue(), "start:abc\nd");
  assertThrows(
    () => s.write(enc("x") as unknown as string),
    TypeError,
    "strings",
  );
});

Deno.test("nativeToText: the text a native string's bytes encode", () => {
  assertEquals(nativeToText(""), "");
  assertEquals(nativeToText("/plain?a=1"), "/plain?a=1");
  assertEquals(nativeToText("/caf\xc3\xa9"), "/caf\u00e9");
  assertEquals(nativeToText("\xe6\x97\xa5\xf0\x9f\x98\x80"), "\u65e5\u{1f600}");
  // A byte order mark is text like any other: kept, not eaten.
  assertEquals(nativeToText("\xef\xbb\xbfx"), "\ufeffx");
  // Other encodings by label; windows-1252 is not ISO-8859-1 (0x80 is €).
  assertEquals(
    nativeToText("caf\xe9 \x80", "windows-1252"),
    "caf\u00e9 \u20ac",
  );
  assertEquals(nativeToText("\x93\xfa", "shift_jis"), "\u65e5");
});

Deno.test("nativeToText: errors say what was wrong", () => {
  // Text, not a native string.
  assertThrows(
    () => nativeToText("/\u65e5"),
    TypeError,
    "nativeToText's input must be a native string (ISO-8859-1, code units 0-255), but has U+65E5 at index 1: it is text already",
  );
  // Bytes that are not UTF-8: where, and which.
  assertThrows(
    () => nativeToText("/caf\xe9/x"),
    TypeError,
    "nativeToText: the bytes are not valid utf-8: E9 2F at byte offset 4 is not a character",
  );
  assertThrows(
    () => nativeToText("ab\xff"),
    TypeError,
    "FF at byte offset 2 is not a character",
  );
  assertThrows(
    () => nativeToText("\xc3\xa9\xc3("),
    TypeError,
    "C3 28 at byte offset 2 is not a character",
  );
  // An overlong form and a UTF-8-encoded surrogate are not UTF-8 either.
  assertThrows(() => nativeToText("/\xc0\xaf"), TypeError, "at byte offset 1");
  assertThrows(() => nativeToText("\xed\xa0\x80"), TypeError, "offset 0");
  // Cut in the middle of a character.
  assertThrows(
    () => nativeToText("ok\xe6\x97"),
    TypeError,
    "they end inside a character: E6 97 at byte offset 2 is incomplete",
  );
  assertThrows(
    () => nativeToText("\x81", "shift_jis"),
    TypeError,
    "not valid shift_jis",
  );
  assertThrows(() => nativeToText("x", "no-such-encoding"), RangeError);
  assertThrows(
    () => nativeToText(undefined as unknown as string),
    TypeError,
    "nativeToText takes a native string, got undefined",
  );
});

Deno.test("textToNative: the native string of the text's UTF-8", () => {
  assertEquals(textToNative(""), "");
  assertEquals(textToNative("/caf\u00e9"), "/caf\xc3\xa9");
  assertEquals(textToNative("\u{1f600}"), "\xf0\x9f\x98\x80");
  assertEquals(textToNative("\ufeff"), "\xef\xbb\xbf");
  // Each way undoes the other.
  const text = "a/\u00e9/\u65e5/\u{1f600}/\ufeff/\x00\x7f\x80\xff";
  assertEquals(nativeToText(textToNative(text)), text);
  let every = "";
  for (let c = 0; c < 0x80; c++) every += String.fromCharCode(c);
  assertEquals(textToNative(every), every);
  const native = textToNative(text);
  assertEquals(textToNative(nativeToText(native)), native);
});

Deno.test("textToNative: a lone surrogate is an error, not U+FFFD", () => {
  assertThrows(
    () => textToNative("ab\ud800c"),
    TypeError,
    "textToNative: the text has a lone surrogate U+D800 at index 2",
  );
  assertThrows(
    () => textToNative("\u{1f600}\udc00"),
    TypeError,
    "U+DC00 at index 2",
  );
  assertThrows(() => textToNative("x\ud83d"), TypeError, "U+D83D at index 1");
  assertThrows(
    () => textToNative(null as unknown as string),
    TypeError,
    "textToNative takes a string, got null",
  );
});
