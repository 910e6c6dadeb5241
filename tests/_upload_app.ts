// The app of the upload tests and bench/upload.ts: reads wsgi.input to its
// end in 1 MiB blocks and answers its length and SHA-256 (hashed as it is
// read, never held whole), with the process's memory (VmRSS, VmHWM).
// GET resets the process's peak RSS first. And `lengthApp`, which answers
// the length of the body it read.

import { createHash } from "node:crypto";
import type { InputStream, WSGIApplication } from "../types.ts";

/** VmRSS and VmHWM of this process, in KiB. */
function memory(): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/**
 * The body in blocks: read into one buffer of the app's own with
 * `readinto` (the default), or one new array per `read()` (`?read`), which
 * the runtime frees only now and then.
 */
function* blocks(input: InputStream, fresh: boolean): Generator<Uint8Array> {
  if (fresh || input.readinto === undefined) {
    for (let b = input.read(1 << 20); b.length > 0; b = input.read(1 << 20)) {
      yield b;
    }
    return;
  }
  const buf = new Uint8Array(1 << 20);
  for (let n = input.readinto(buf); n > 0; n = input.readinto(buf)) {
    yield buf.subarray(0, n);
  }
}

const json = (
  value: unknown,
) => [new TextEncoder().encode(JSON.stringify(value))];

/** The upload app (see the module comment). */
export const uploadApp: WSGIApplication = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  if (environ.REQUEST_METHOD === "GET") {
    // Writing 5 to clear_refs resets the peak RSS (Linux >= 4.0).
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return json(memory());
  }
  let length = 0;
  const hash = createHash("sha256");
  const fresh = environ.QUERY_STRING === "read";
  for (const b of blocks(environ["wsgi.input"], fresh)) {
    length += b.length;
    hash.update(b);
  }
  const sha256 = hash.digest("hex");
  return json({ length, sha256, ...memory() });
};

/** An app that reads its whole body and answers its length, as text. */
export const lengthApp: WSGIApplication = (environ, startResponse) => {
  const n = environ["wsgi.input"].read().length;
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(String(n))];
};
