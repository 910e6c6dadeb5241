import {
  assert,
  assertEquals,
  assertFalse,
  assertNotStrictEquals,
  assertThrows,
} from "@std/assert";
import { ResponseHeaders } from "../headers.ts";

Deno.test("ResponseHeaders: mapping interface", () => {
  const test: [string, string][] = [["x", "y"]];
  assertEquals(new ResponseHeaders().length, 0);
  assertEquals(new ResponseHeaders([]).length, 0);
  assertEquals(new ResponseHeaders(test.slice()).length, 1);
  assertEquals(new ResponseHeaders(test.slice()).keys(), ["x"]);
  assertEquals(new ResponseHeaders(test.slice()).values(), ["y"]);
  assertEquals(new ResponseHeaders(test.slice()).items(), test);
  assertNotStrictEquals(new ResponseHeaders(test).items(), test);

  const h = new ResponseHeaders();
  h.delete("foo"); // no error
  h.set("Foo", "bar");
  for (const name of ["foo", "Foo", "FOO"]) {
    assert(h.has(name));
    assertEquals(h.get(name), "bar");
    assertEquals(h.getAll(name), ["bar"]);
  }
  assertFalse(h.has("bar"));
  assertEquals(h.get("bar"), undefined);
  assertEquals(h.getAll("bar"), []);

  h.set("foo", "baz");
  assertEquals(h.get("FOO"), "baz");
  assertEquals(h.getAll("foo"), ["baz"]);
  assertEquals(h.get("foo", "whee"), "baz");
  assertEquals(h.get("zoo", "whee"), "whee");
  assertEquals(h.setDefault("foo", "whee"), "baz");
  assertEquals(h.setDefault("zoo", "whee"), "whee");
  assertEquals(h.get("foo"), "baz");
  assertEquals(h.get("zoo"), "whee");
});

Deno.test("ResponseHeaders: wraps the array in place", () => {
  const list: [string, string][] = [["A", "1"], ["b", "2"], ["a", "3"]];
  const h = new ResponseHeaders(list);
  h.set("c", "4");
  assertEquals(list, [["A", "1"], ["b", "2"], ["a", "3"], ["c", "4"]]);
  h.delete("a");
  assertEquals(list, [["b", "2"], ["c", "4"]]);
  h.set("B", "5");
  assertEquals(list, [["c", "4"], ["B", "5"]], "set removes, then appends");
  list.push(["d", "6"]);
  assertEquals(h.get("D"), "6", "changes to the array show through");
  assertEquals(h.length, 3);
  assertEquals([...h], list);
});

Deno.test("ResponseHeaders: repeats are kept in order", () => {
  const h = new ResponseHeaders([
    ["Set-Cookie", "a=1"],
    ["X", "y"],
    ["set-cookie", "b=2"],
  ]);
  assertEquals(h.get("set-cookie"), "a=1");
  assertEquals(h.getAll("SET-COOKIE"), ["a=1", "b=2"]);
  assertEquals(h.keys(), ["Set-Cookie", "X", "set-cookie"]);
  assertEquals(h.get("x", undefined), "y");
  assertEquals(h.get("missing", null), null);
});

Deno.test("ResponseHeaders: a non-array is a TypeError naming it", () => {
  assertThrows(
    () => new ResponseHeaders("foo" as unknown as [string, string][]),
    TypeError,
    'the string "foo"',
  );
  assertThrows(
    () => new ResponseHeaders({} as unknown as [string, string][]),
    TypeError,
    "an object (Object)",
  );
  assertThrows(
    () => new ResponseHeaders(null as unknown as [string, string][]),
    TypeError,
    "null",
  );
  assertThrows(
    () => new ResponseHeaders([["a"]] as unknown as [string, string][]),
    TypeError,
    "[name, value] pair",
  );
});

Deno.test("ResponseHeaders: names and values must be strings", () => {
  assertThrows(
    () => new ResponseHeaders([["a", 1]] as unknown as [string, string][]),
    TypeError,
    "Header value must be of type string (got the number 1)",
  );
  assertThrows(
    () => new ResponseHeaders([[2, "a"]] as unknown as [string, string][]),
    TypeError,
    "Header name must be of type string (got the number 2)",
  );
  const h = new ResponseHeaders();
  assertThrows(() => h.set("a", 1 as unknown as string), TypeError, "value");
  assertThrows(() => h.get(1 as unknown as string), TypeError, "name");
  assertThrows(() => h.setDefault("a", null as unknown as string), TypeError);
  assertEquals(h.length, 0, "nothing was added by a refused call");
});

Deno.test("ResponseHeaders: CR, LF and NUL are refused everywhere", async (t) => {
  for (const bad of ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"]) {
    await t.step(JSON.stringify(bad), () => {
      assertThrows(
        () => new ResponseHeaders([["X", bad]]),
        TypeError,
        "not allowed in a response head",
      );
      assertThrows(
        () => new ResponseHeaders([[bad, "v"]]),
        TypeError,
        "Header name",
      );
      const list: [string, string][] = [];
      const h = new ResponseHeaders(list);
      assertThrows(() => h.set("X", bad), TypeError, "Header value");
      assertThrows(() => h.set(bad, "v"), TypeError, "Header name");
      assertThrows(() => h.setDefault(bad, "v"), TypeError);
      assertThrows(() => h.addHeader("X", bad), TypeError);
      assertThrows(() => h.addHeader("X", "v", { p: bad }), TypeError);
      assertEquals(list, []);
    });
  }
});

Deno.test("ResponseHeaders: names are tokens, values have no controls", async (t) => {
  for (const name of ["Bad Name", "X-A:", "", "caf\xe9", "a\tb", "(x)"]) {
    await t.step(`name ${JSON.stringify(name)}`, () => {
      assertThrows(
        () => new ResponseHeaders([[name, "v"]]),
        TypeError,
        name ? "a header name is a token" : "must not be empty",
      );
      const h = new ResponseHeaders();
      assertThrows(() => h.set(name, "v"), TypeError, "Header name");
      assertThrows(() => h.addHeader(name, "v"), TypeError, "Header name");
      assertThrows(() => h.setDefault(name, "v"), TypeError, "Header name");
      assertEquals(h.get(name), undefined, "a lookup is not refused");
    });
  }
  for (const value of ["a\x01b", "\x7f", "a\x1bb"]) {
    await t.step(`value ${JSON.stringify(value)}`, () => {
      assertThrows(
        () => new ResponseHeaders([["X", value]]),
        TypeError,
        "control character",
      );
    });
  }
  await t.step("HTAB, spaces and 0x80-0xFF are fine", () => {
    const h = new ResponseHeaders([["X-A", "a\tb c\xe9\xff"]]);
    assertEquals(h.get("x-a"), "a\tb c\xe9\xff");
  });
});

Deno.test("ResponseHeaders: addHeader and the wire format", () => {
  const h = new ResponseHeaders();
  assertEquals(h.toString(), "\r\n");
  h.addHeader("foo", "bar", { baz: "spam" });
  assertEquals(h.get("foo"), 'bar; baz="spam"');
  assertEquals(h.toString(), 'foo: bar; baz="spam"\r\n\r\n');
  h.addHeader("Foo", "bar", { cheese: null });
  assertEquals(h.getAll("foo"), ['bar; baz="spam"', "bar; cheese"]);
  assertEquals(
    h.toString(),
    'foo: bar; baz="spam"\r\n' +
      "Foo: bar; cheese\r\n" +
      "\r\n",
  );
  assertEquals(new TextDecoder().decode(h.toBytes()), h.toString());
});

Deno.test("ResponseHeaders: addHeader params", () => {
  const h = new ResponseHeaders();
  h.addHeader("content-disposition", "attachment", { file_name: "bud.gif" });
  assertEquals(h.get("Content-Disposition"), 'attachment; file-name="bud.gif"');
  h.addHeader("X", null, { a: "1", b_c: null, d: "" });
  assertEquals(h.get("x"), 'a="1"; b-c; d');
  h.addHeader("Y", "v", { q: 'say "hi" \\ bye' });
  assertEquals(h.get("y"), 'v; q="say \\"hi\\" \\\\ bye"');
  h.addHeader("Z", "plain");
  assertEquals(h.get("z"), "plain");
});

Deno.test("ResponseHeaders: toBytes is ISO-8859-1", () => {
  const h = new ResponseHeaders([["X-Latin", "caf\xe9"]]);
  assertEquals(
    h.toBytes(),
    new Uint8Array([
      ...new TextEncoder().encode("X-Latin: caf"),
      0xe9,
      13,
      10,
      13,
      10,
    ]),
  );
  // A value that is not ISO-8859-1 is refused when it is added...
  assertThrows(() => h.set("X-Euro", "\u20ac"), TypeError, "U+20AC");
  // ...and when it was pushed onto the list behind the view's back.
  const list: [string, string][] = [];
  const behind = new ResponseHeaders(list);
  list.push(["X-Euro", "\u20ac"]);
  assertThrows(() => behind.toBytes(), TypeError, "U+20AC");
});
