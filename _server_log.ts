// Logging for simple_server.ts: http.server's access-log format and an
// ordered, batched writer for stderr.

import type { ErrorStream } from "./types.ts";

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

const pad2 = (n: number) => (n < 10 ? "0" : "") + n;

/**
 * A local time (ms since the epoch; default now) as http.server's
 * `log_date_time_string()` writes it: `20/Nov/2026 23:02:49`.
 */
export function logDateTimeString(ms: number = Date.now()): string {
  const d = new Date(ms);
  return `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${
    String(d.getFullYear()).padStart(4, "0")
  } ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/**
 * http.server's `_control_char_table`: C0 controls, DEL and the C1
 * controls become `\xNN`, a backslash becomes `\\`, so that a request line
 * cannot forge log lines or terminal escapes.
 */
export function escapeControl(s: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[\x00-\x1f\x7f-\x9f\\]/.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) out += "\\\\";
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
      out += "\\x" + c.toString(16).padStart(2, "0");
    } else out += s[i];
  }
  return out;
}

const encoder = new TextEncoder();

/**
 * Text bound for a file descriptor (stderr by default), written in order
 * and in batches: writes within one turn of the event loop become one
 * `writeSync`. `flush()` writes at once.
 */
export class BatchedWriter implements ErrorStream {
  #parts: string[] = [];
  #scheduled = false;
  #sink: { writeSync(p: Uint8Array): number };

  constructor(sink: { writeSync(p: Uint8Array): number } = Deno.stderr) {
    this.#sink = sink;
  }

  write(s: string): void {
    this.#parts.push(s);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#parts.length === 0) return;
    const text = this.#parts.length === 1
      ? this.#parts[0]
      : this.#parts.join("");
    this.#parts = [];
    let data = encoder.encode(text);
    try {
      while (data.length > 0) data = data.subarray(this.#sink.writeSync(data));
    } catch {
      // stderr closed: nothing more can be said.
    }
  }
}
