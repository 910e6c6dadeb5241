/**
 * A mapping-like view over a WSGI response header list, as Python's
 * `wsgiref.headers.Headers`. It is named {@linkcode ResponseHeaders} so as
 * not to shadow the Web `Headers` global.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
 *
 * const list: [string, string][] = [["Content-Type", "text/plain"]];
 * const headers = new ResponseHeaders(list);
 * headers.addHeader("Content-Disposition", "attachment", { filename: "a.txt" });
 * assertEquals(list.length, 2); // the list is changed in place
 * assertEquals(
 *   headers.toString(),
 *   'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\n',
 * );
 * ```
 *
 * @module
 */

import { latin1Encode } from "./_latin1.ts";
import { checkHeaderName, checkHeaderValue } from "./_field.ts";
import { checkHeaderList, checkString } from "./_gateway.ts";

/** A name to look up, lower-cased: any string (a lookup puts nothing on the wire). */
function lookup(name: string): string {
  checkString(name, "Header name");
  return name.toLowerCase();
}

/** A name to add: a token (see `checkHeaderName`). */
function nameToAdd(name: string): string {
  checkString(name, "Header name");
  checkHeaderName(name);
  return name;
}

/** A value to add: fit for a response head (see `checkHeaderValue`). */
function valueToAdd(value: string): string {
  checkString(value, "Header value");
  checkHeaderValue(value);
  return value;
}

/**
 * Formats one `add_header` parameter: `key="value"` with `\` and `"`
 * escaped, or a bare `key` for an empty or missing value.
 */
function formatParam(key: string, value: string | null): string {
  if (value === null || value.length === 0) return key;
  return `${key}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * A mapping-like view over a list of `[name, value]` response headers.
 *
 * The list given to the constructor is wrapped **in place**: every change
 * made through the view is made to that array. Names are matched without
 * regard to case; values are kept as given. Every name added must be a
 * token and every value fit for a response head (no CR, LF or other
 * control character but HTAB, ISO-8859-1), or a `TypeError` says what is
 * wrong: nothing added through the view can forge a header on the wire.
 *
 * @example
 * ```ts
 * import { assertEquals, assertThrows } from "@std/assert";
 * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
 *
 * const h = new ResponseHeaders();
 * h.set("Foo", "bar");
 * assertEquals(h.get("foo"), "bar");
 * assertEquals(h.setDefault("Content-Type", "text/plain"), "text/plain");
 * assertEquals(h.getAll("FOO"), ["bar"]);
 * h.delete("foo");
 * assertEquals(h.has("Foo"), false);
 * // Nothing that could forge a header gets in:
 * assertThrows(() => h.set("X-A", "1\r\nSet-Cookie: a=1"), TypeError, "CR");
 * ```
 */
export class ResponseHeaders implements Iterable<[string, string]> {
  #list: [string, string][];

  /**
   * Wraps `list` in place. A non-array is a `TypeError`, and so is an entry
   * that is not a pair of a token name and a valid value.
   *
   * @param list the header list to view and change
   */
  constructor(list: [string, string][] = []) {
    checkHeaderList(list);
    this.#list = list;
  }

  /** The number of header lines, repeats included. */
  get length(): number {
    return this.#list.length;
  }

  /** The first value of `name`, or `undefined` when it is absent. */
  get(name: string): string | undefined;
  /** The first value of `name`, or `fallback` when it is absent. */
  get(name: string, fallback: string): string;
  /** The first value of `name`, or `fallback` when it is absent. */
  get<T>(name: string, fallback: T): string | T;
  get<T>(name: string, fallback?: T): string | T | undefined {
    const lower = lookup(name);
    for (const [k, v] of this.#list) {
      if (k.toLowerCase() === lower) return v;
    }
    return fallback;
  }

  /** Replaces every `name` header with one `name: value`, at the end. */
  set(name: string, value: string): void {
    nameToAdd(name);
    valueToAdd(value);
    this.delete(name);
    this.#list.push([name, value]);
  }

  /** Removes every `name` header; no error when there is none. */
  delete(name: string): void {
    const lower = lookup(name);
    const list = this.#list;
    let w = 0;
    for (let r = 0; r < list.length; r++) {
      if (list[r][0].toLowerCase() !== lower) list[w++] = list[r];
    }
    list.length = w;
  }

  /** True if there is a `name` header. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * Returns the first value of `name`; if there is none, appends
   * `name: value` and returns `value`.
   */
  setDefault(name: string, value: string): string {
    const found = this.get(name);
    if (found !== undefined) return found;
    this.#list.push([nameToAdd(name), valueToAdd(value)]);
    return value;
  }

  /** Every value of `name`, in order; an empty array when there is none. */
  getAll(name: string): string[] {
    const lower = lookup(name);
    const out: string[] = [];
    for (const [k, v] of this.#list) if (k.toLowerCase() === lower) out.push(v);
    return out;
  }

  /**
   * Appends a header with parameters, as wsgiref's `add_header`: each
   * param becomes `; key="value"`, with `_` in the key written as `-`; a
   * `null` param value gives a bare `; key`. A `null` `value` leaves only
   * the parameters.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
   *
   * const h = new ResponseHeaders();
   * h.addHeader("content-disposition", "attachment", { file_name: "bud.gif" });
   * assertEquals(h.get("Content-Disposition"), 'attachment; file-name="bud.gif"');
   * h.addHeader("Foo", "bar", { cheese: null });
   * assertEquals(h.get("foo"), "bar; cheese");
   * ```
   */
  addHeader(
    name: string,
    value: string | null,
    params: Record<string, string | null> = {},
  ): void {
    nameToAdd(name);
    const parts: string[] = [];
    if (value !== null) parts.push(valueToAdd(value));
    for (const [key, v] of Object.entries(params)) {
      const k = key.replaceAll("_", "-");
      parts.push(formatParam(k, v === null ? null : valueToAdd(v)));
    }
    this.#list.push([name, valueToAdd(parts.join("; "))]);
  }

  /** The header names, in order, repeats included. */
  keys(): string[] {
    return this.#list.map(([k]) => k);
  }

  /** The header values, in order. */
  values(): string[] {
    return this.#list.map(([, v]) => v);
  }

  /** A copy of the `[name, value]` list. */
  items(): [string, string][] {
    return this.#list.map(([k, v]) => [k, v]);
  }

  /** Iterates over the `[name, value]` pairs. */
  [Symbol.iterator](): Iterator<[string, string]> {
    return this.#list[Symbol.iterator]();
  }

  /**
   * The headers as they go on the wire: `Name: value\r\n` per header, then
   * a blank line.
   */
  toString(): string {
    let out = "";
    for (const [k, v] of this.#list) out += `${k}: ${v}\r\n`;
    return out + "\r\n";
  }

  /**
   * {@linkcode ResponseHeaders.toString} as ISO-8859-1 bytes. A character
   * above U+00FF is a `TypeError`: encode such text first (RFC 8187 or
   * percent-encoding).
   */
  toBytes(): Uint8Array {
    return latin1Encode(this.toString(), "Headers");
  }
}
