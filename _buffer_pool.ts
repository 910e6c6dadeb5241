// The buffers a server lends to its connections (read buffers, response
// staging): a connection that is done, or between responses, holds none,
// and a new connection or response takes one back instead of allocating
// (a fresh 8 KiB Uint8Array costs far more than a reused one once the
// garbage collector has to reclaim them). A connection waiting for a
// request head reads into a small one, so that thousands of idle
// connections hold little.

/** The size of the buffers a connection borrows: its read buffer, its response staging. */
export const BUFFER_SIZE = 8 * 1024;

/**
 * The size of the read buffer a connection waits for a request head with:
 * most heads fit (a larger one moves to a {@linkcode BUFFER_SIZE} buffer).
 */
export const HEAD_BUFFER_SIZE = 1024;

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
 * Free lists of buffers of a few sizes, owned by one server.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BufferPool } from "./_buffer_pool.ts";
 *
 * const pool = new BufferPool([1024]);
 * const a = pool.take(1024);
 * pool.give(a);
 * assertEquals(pool.take(1024) === a, true); // the same buffer again
 * ```
 */
export class BufferPool implements Buffers {
  /** The free buffers of each size kept. */
  readonly #free = new Map<number, Uint8Array[]>();

  /**
   * @param sizes the sizes of the buffers kept (others are made and dropped)
   * @param max the most buffers kept of each size
   */
  constructor(
    sizes: readonly number[] = [HEAD_BUFFER_SIZE, BUFFER_SIZE],
    readonly max: number = 512,
  ) {
    for (const size of sizes) this.#free.set(size, []);
  }

  /** A buffer of `size` bytes: a free one if there is one. */
  take(size: number): Uint8Array {
    return this.#free.get(size)?.pop() ?? new Uint8Array(size);
  }

  /** Keeps `buf` for the next `take` (unless the pool is full, or `buf` is of a size not kept). */
  give(buf: Uint8Array): void {
    const free = this.#free.get(buf.length);
    if (free !== undefined && free.length < this.max) free.push(buf);
  }
}
