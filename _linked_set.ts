// The set of a server's open connections, kept as a doubly linked list of
// nodes that the set owns.
//
// A server adds an item for each connection and removes it when the
// connection closes: many adds and deletes on a set that lives as long as
// the server. A JavaScript Set under that churn rehashes into new tables,
// and V8's young-generation GC treats the old tables' slots as roots until
// the next full GC: every item they held then outlives its connection (see
// bench/README.md). Here a removed node is unlinked and its links cleared,
// so nothing keeps a removed item alive.

/** One item's place in a {@linkcode LinkedSet}; given by `add()`. */
export interface LinkedNode<T> {
  /** The item. */
  readonly item: T;
}

interface Node<T> extends LinkedNode<T> {
  prev: Node<T> | null;
  next: Node<T> | null;
  /** False once removed. */
  linked: boolean;
}

/**
 * A set of items in the order they were added: `add()` gives the item's
 * node, `delete(node)` removes it (once; a second call does nothing).
 * The item being visited may be removed while iterating.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { LinkedSet } from "./_linked_set.ts";
 *
 * const set = new LinkedSet<string>();
 * const a = set.add("a");
 * set.add("b");
 * set.delete(a);
 * assertEquals([...set], ["b"]);
 * assertEquals(set.size, 1);
 * ```
 */
export class LinkedSet<T> implements Iterable<T> {
  #head: Node<T> | null = null;
  #tail: Node<T> | null = null;
  #size = 0;

  /** How many items the set holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds `item` at the end; its node removes it. */
  add(item: T): LinkedNode<T> {
    const node: Node<T> = { item, prev: this.#tail, next: null, linked: true };
    if (this.#tail === null) this.#head = node;
    else this.#tail.next = node;
    this.#tail = node;
    this.#size++;
    return node;
  }

  /** Removes the item of `node`, if it is still in the set. */
  delete(node: LinkedNode<T>): void {
    const n = node as Node<T>;
    if (!n.linked) return;
    n.linked = false;
    if (n.prev === null) this.#head = n.next;
    else n.prev.next = n.next;
    if (n.next === null) this.#tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = n.next = null;
    this.#size--;
  }

  /** The items, in the order they were added. */
  *[Symbol.iterator](): Iterator<T> {
    for (let n = this.#head; n !== null;) {
      // The next one is read first: the caller may remove this one.
      const next = n.next;
      yield n.item;
      n = next;
    }
  }
}
