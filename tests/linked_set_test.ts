import { assertEquals } from "@std/assert";
import { LinkedSet } from "../_linked_set.ts";

Deno.test("LinkedSet: items in the order added; delete once, from anywhere", () => {
  const set = new LinkedSet<number>();
  const nodes = [1, 2, 3, 4].map((n) => set.add(n));
  set.delete(nodes[0]); // the first
  set.delete(nodes[2]); // one in the middle
  set.delete(nodes[2]); // a second time: nothing
  assertEquals([...set], [2, 4]);
  assertEquals(set.size, 2);
  set.delete(nodes[3]); // the last
  set.add(5);
  assertEquals([...set], [2, 5]);
  set.delete(nodes[1]);
  assertEquals([...set], [5]);
  assertEquals(set.size, 1);
});

Deno.test("LinkedSet: the item being visited may be removed", () => {
  const set = new LinkedSet<string>();
  const nodes = new Map(["a", "b", "c"].map((s) => [s, set.add(s)]));
  const seen: string[] = [];
  for (const item of set) {
    seen.push(item);
    set.delete(nodes.get(item)!); // as shutdown() drops each connection
  }
  assertEquals(seen, ["a", "b", "c"]);
  assertEquals(set.size, 0);
  assertEquals([...set], []);
});
