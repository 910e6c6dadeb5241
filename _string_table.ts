// The strings of request heads, shared by one server's connections: a
// client sends the same names, most of the same values, methods and many
// targets request after request, so a table of recent short strings gives
// the same string for the same bytes without building it (and later uses,
// such as map lookups, find its hash already computed).

/** Longest string kept, in bytes. */
const MAX = 128;
/** Slots in the table, less one (a power of two). */
const MASK = 1023;

/**
 * A direct-mapped table of recent short strings read as ISO-8859-1. An
 * entry is used only when every byte matches, so a collision costs a
 * rebuild, never a wrong string. At most 1,024 strings of 128 bytes. One
 * per server; it must not hold secrets (the head parser never gives it a
 * Cookie or Authorization value).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StringTable } from "./_string_table.ts";
 *
 * const strings = new StringTable();
 * const bytes = new TextEncoder().encode("Host: a");
 * assertEquals(strings.text(bytes, 0, 4), "Host");
 * ```
 */
export class StringTable {
  readonly #strings: string[] = new Array<string>(MASK + 1).fill("");
  /** The bytes of each entry, MAX apart: compared fast. */
  readonly #bytes = new Uint8Array((MASK + 1) * MAX);
  readonly #codes: number[] = [];

  /** True if strings of `n` bytes are kept. */
  keeps(n: number): boolean {
    return n <= MAX;
  }

  /** The string for `buf[a:b]` (1 to 128 bytes), read as ISO-8859-1. */
  text(buf: Uint8Array, a: number, b: number): string {
    const n = b - a;
    if (n === 1) return String.fromCharCode(buf[a]); // V8 caches these
    let h = Math.imul(n ^ buf[a], 0x9e3779b1);
    h = Math.imul(h ^ buf[a + (n >> 1)], 0x85ebca6b);
    h = Math.imul(h ^ buf[b - 1], 0xc2b2ae35);
    h = Math.imul(h ^ buf[a + (n >> 2)], 0x27d4eb2f);
    const slot = (h ^ (h >>> 15)) & MASK;
    const old = this.#strings[slot];
    if (old.length === n) {
      // Every byte is compared, with no early exit: the time taken tells
      // nothing about how much of an entry matched.
      const bytes = this.#bytes;
      let o = slot * MAX;
      let diff = 0;
      for (let k = a; k < b; k++, o++) diff |= bytes[o] ^ buf[k];
      if (diff === 0) return old;
    }
    // A new flat string (not a slice of a larger one, which it would keep
    // alive in the table).
    const codes = this.#codes;
    codes.length = n;
    for (let k = 0; k < n; k++) codes[k] = buf[a + k];
    const s = String.fromCharCode.apply(null, codes);
    this.#strings[slot] = s;
    this.#bytes.set(buf.subarray(a, b), slot * MAX);
    return s;
  }
}
