// The buffers a server lends to its connections (read buffers, response
// staging): a connection that is done, or between responses, holds none,
// and a new connection or response takes one back instead of allocating
// (a fresh 8 KiB Uint8Array costs far more than a reused one once the
// garbage collector has to reclaim them).

/** The size of the buffers a connection borrows: its read buffer, its response staging. */
export const BUFFER_SIZE = 8 * 1024;

/**
 * Where a connection borrows its buffers from, and gives them back when it
 * holds nothing in them (so that they serve another connection meanwhile).
 */
export interface Buffers {
  /** A buffer of at least `size` bytes. */
  take(size: number): Uint8Array;
  /** A buffer the connection no longer needs. */
  give(buf: Uint8Array): void;
}

/** Buffers made for each `take` and left to the garbage collector. */
export const ALLOCATE: Buffers = Object.freeze({
  take: (size: number) => new Uint8Array(size),
  give: () => {},
});

/**
 * A free list of buffers of one size, owned by one server.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BufferPool } from "./_buffer_pool.ts";
 *
 * const pool = new BufferPool(1024);
 * const a = pool.take(1024);
 * pool.give(a);
 * assertEquals(pool.take(1024) === a, true); // the same buffer again
 * ```
 */
export class BufferPool implements Buffers {
  readonly #free: Uint8Array[] = [];

  /**
   * @param size the size of the buffers kept (others are made and dropped)
   * @param max the most buffers kept
   */
  constructor(
    readonly size: number = BUFFER_SIZE,
    readonly max: number = 512,
  ) {}

  /** A buffer of `size` bytes: a free one if there is one. */
  take(size: number): Uint8Array {
    return (size === this.size ? this.#free.pop() : undefined) ??
      new Uint8Array(size);
  }

  /** Keeps `buf` for the next `take` (unless the pool is full, or `buf` is of another size). */
  give(buf: Uint8Array): void {
    if (buf.length === this.size && this.#free.length < this.max) {
      this.#free.push(buf);
    }
  }
}
