// A request body held in memory, assembled from the slices the connection
// core hands out (its DATA events), for `wsgi.input`.

/**
 * Collects body bytes into one buffer: of the exact size when the length is
 * known, else growing by doubling (never past `max`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BodyBuffer } from "./_body_buffer.ts";
 *
 * const body = new BodyBuffer(-1, 1024);
 * body.append(new Uint8Array([1, 2]));
 * body.append(new Uint8Array([3]));
 * assertEquals(body.bytes(), new Uint8Array([1, 2, 3]));
 * ```
 */
export class BodyBuffer {
  #data: Uint8Array;
  #length = 0;
  readonly #max: number;

  /**
   * @param length the body's length when known (Content-Length), else -1
   * @param max the most bytes it may hold
   */
  constructor(length: number, max: number) {
    this.#max = max;
    this.#data = new Uint8Array(length >= 0 ? length : 0);
  }

  /** Copies `data` in after what is held. */
  append(data: Uint8Array): void {
    const need = this.#length + data.length;
    if (need > this.#data.length) {
      const cap = Math.min(
        Math.max(this.#max, need),
        Math.max(need, this.#data.length * 2, 1024),
      );
      const next = new Uint8Array(cap);
      next.set(this.#data.subarray(0, this.#length));
      this.#data = next;
    }
    this.#data.set(data, this.#length);
    this.#length = need;
  }

  /** The bytes held. */
  bytes(): Uint8Array {
    return this.#data.subarray(0, this.#length);
  }
}
