/**
 * A mapping-like view over a WSGI response header list, as Python's
 * `wsgiref.headers.Headers`. It is named {@linkcode ResponseHeaders} so as
 * not to shadow the Web `Headers` global.
 *
 * @example
 * ```ts
 * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
 *
 * const list: [string, string][] = [["Content-Type", "text/plain"]];
 * const headers = new ResponseHeaders(list);
 * headers.addHeader("Content-Disposition", "attachment", { filename: "a.txt" });
 * list.length; // 2: the list is changed in place
 * headers.toString(); // "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\n"
 * ```
 *
 * @module
 */

import { latin1Encode } from "./_latin1.ts";

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "object") {
    return `an object (${value.constructor?.name ?? "no prototype"})`;
  }
  return `${typeof value} ${String(value)}`;
}

/**
 * Checks that `value` may stand in a header line: a string with no CR, LF
 * or NUL (which would let it forge other headers). Returns it.
 */
function checked(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Header ${what}s must be strings, got ${describe(value)}`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) {
      throw new TypeError(
        `Header ${what} ${JSON.stringify(value)} contains ${
          c === 13 ? "CR" : c === 10 ? "LF" : "NUL"
        } at index ${i}: line breaks and NUL are not allowed in headers`,
      );
    }
  }
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
 * regard to case; values are kept as given. Every name and value must be a
 * string with no CR, LF or NUL.
 *
 * @example
 * ```ts
 * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
 *
 * const h = new ResponseHeaders();
 * h.set("Foo", "bar");
 * h.get("foo"); // "bar"
 * h.setDefault("Content-Type", "text/plain"); // "text/plain"
 * h.getAll("FOO"); // ["bar"]
 * h.delete("foo");
 * h.has("Foo"); // false
 * ```
 */
export class ResponseHeaders implements Iterable<[string, string]> {
  #list: [string, string][];

  /**
   * Wraps `list` in place. A non-array is a `TypeError`, and so is an entry
   * that is not a pair of strings free of CR, LF and NUL.
   *
   * @param list the header list to view and change
   */
  constructor(list: [string, string][] = []) {
    if (!Array.isArray(list)) {
      throw new TypeError(
        `ResponseHeaders needs an array of [name, value] pairs, got ${
          describe(list)
        }`,
      );
    }
    for (const pair of list) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(
          `Each header must be a [name, value] pair, got ${describe(pair)}`,
        );
      }
      checked(pair[0], "name");
      checked(pair[1], "value");
    }
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
    const lower = checked(name, "name").toLowerCase();
    for (const [k, v] of this.#list) {
      if (k.toLowerCase() === lower) return v;
    }
    return fallback;
  }

  /** Replaces every `name` header with one `name: value`, at the end. */
  set(name: string, value: string): void {
    checked(value, "value");
    this.delete(name);
    this.#list.push([name, value]);
  }

  /** Removes every `name` header; no error when there is none. */
  delete(name: string): void {
    const lower = checked(name, "name").toLowerCase();
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
    this.#list.push([name, checked(value, "value")]);
    return value;
  }

  /** Every value of `name`, in order; an empty array when there is none. */
  getAll(name: string): string[] {
    const lower = checked(name, "name").toLowerCase();
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
   * import { ResponseHeaders } from "@wsgiref/wsgiref/headers";
   *
   * const h = new ResponseHeaders();
   * h.addHeader("content-disposition", "attachment", { file_name: "bud.gif" });
   * h.get("Content-Disposition"); // 'attachment; file-name="bud.gif"'
   * h.addHeader("Foo", "bar", { cheese: null });
   * h.get("foo"); // "bar; cheese"
   * ```
   */
  addHeader(
    name: string,
    value: string | null,
    params: Record<string, string | null> = {},
  ): void {
    checked(name, "name");
    const parts: string[] = [];
    if (value !== null) parts.push(checked(value, "value"));
    for (const [key, v] of Object.entries(params)) {
      const k = key.replaceAll("_", "-");
      parts.push(formatParam(k, v === null ? null : checked(v, "value")));
    }
    this.#list.push([name, checked(parts.join("; "), "value")]);
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
