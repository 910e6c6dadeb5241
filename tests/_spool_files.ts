// What a process holds of the request-body spool: its open descriptors
// that name a spool file (removed from its directory, still open).

import { SPOOL_PREFIX } from "../_spool.ts";

/** The spool files process `pid` (this one by default) holds open. */
export function openSpoolFiles(pid: number | "self" = "self"): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
      if (target.includes(SPOOL_PREFIX)) out.push(target);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

/**
 * Waits (at most `ms`) until process `pid` holds no spool file open;
 * returns those it still holds then.
 */
export async function spoolFilesClosed(
  pid: number | "self" = "self",
  ms = 3000,
): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const open = openSpoolFiles(pid);
    if (open.length === 0 || Date.now() > until) return open;
    await new Promise((r) => setTimeout(r, 20));
  }
}
