// Reads llhttp's request fixtures (nodejs/llhttp, test/request/*.md) into
// cases for tests/llhttp_test.ts: the bytes a client sends, and what llhttp
// (strict mode) makes of them, taken from the fixture's expected log.
//
// The fixtures are not part of this repository: they are read at test time
// from a checkout of nodejs/llhttp named by LLHTTP_DIR. The input bytes are
// built from a fixture's ```http block exactly as llhttp's own runner
// (test/md-test.ts) builds them: newlines become CRLF, then the escapes
// \r \n \t \f \xNN and octal \NNN are replaced.

/** One request as llhttp parsed it. */
export interface LlhttpMessage {
  /** The method span. */
  method: string;
  /** The request-target span, as sent. */
  url: string;
  /** "HTTP/1.1" and the like; "" when llhttp stopped before the version. */
  version: string;
  /** Header fields as llhttp reported them (values as its spans give them). */
  headers: [string, string][];
  /** The body, decoded (chunk data concatenated), as a native string. */
  body: string;
  /** True once llhttp reported "message complete". */
  complete: boolean;
  /** Offset in the input just past the request line's version, or -1. */
  versionEnd: number;
  /** True once the head ended (later fields are chunked trailers). */
  trailers: boolean;
}

/** What llhttp made of one fixture's input. */
export interface LlhttpOutcome {
  /** The messages it began, in order (the last may be incomplete). */
  messages: LlhttpMessage[];
  /** The error that stopped it, if any: code and reason. */
  error: { code: number; reason: string } | null;
  /**
   * True when llhttp stopped on CONNECT or Upgrade (error code 22, "Pause
   * on CONNECT/Upgrade"): what follows the last message is not HTTP to it.
   */
  upgrade: boolean;
}

/** One convertible fixture. */
export interface LlhttpCase {
  /** `file.md: heading` (a repeated heading gets ` #2`, ` #3`, …). */
  name: string;
  /** The fixture file, e.g. "invalid.md". */
  file: string;
  /** 1-based line of the fixture's meta comment, for finding it. */
  line: number;
  /** The fixture's meta, e.g. `{ type: "request", noScan: true }`. */
  meta: Record<string, unknown>;
  /**
   * True for a fixture of one of llhttp's lenient modes: what llhttp
   * accepts there, its strict mode may refuse.
   */
  lenient: boolean;
  /** The bytes sent, as a native string (one code unit per byte). */
  input: string;
  /** llhttp's reading of them. */
  expected: LlhttpOutcome;
}

/** A fixture left out, and why. */
export interface SkippedFixture {
  /** As {@linkcode LlhttpCase.name}. */
  name: string;
  /** Why it is not convertible. */
  reason: string;
}

/** Error code 22 of llhttp: HPE_PAUSED_UPGRADE. */
const PAUSED_UPGRADE = 22;

/** The input of a ```http block, as llhttp's md-test.ts builds it. */
export function fixtureInput(block: string): string {
  let input = block.replace(/\n$/, "");
  input = input.replace(/\\(\r\n|\r|\n)/g, "");
  input = input.replace(/\r\n|\r|\n/g, "\r\n");
  input = input.replace(/\\r/g, "\r");
  input = input.replace(/\\n/g, "\n");
  input = input.replace(/\\t/g, "\t");
  input = input.replace(/\\f/g, "\f");
  input = input.replace(
    /\\x([0-9a-fA-F]+)/g,
    (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
  );
  input = input.replace(
    /\\([0-7]{1,3})/g,
    (_, digits: string) => String.fromCharCode(parseInt(digits, 8)),
  );
  // The bytes sent are the UTF-8 of that text (llhttp's logs count
  // "\xffValue2" as 8 bytes).
  return native(new TextEncoder().encode(input));
}

function native(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/**
 * A span's bytes, as a native string. The log prints a span's bytes as
 * they are (UTF-8 text in the fixture file), with tabs and form feeds
 * escaped as `\t` and `\f` (md-test.ts unescapes just those two).
 */
function spanBytes(quoted: string): string {
  const text = quoted.replace(/\\t/g, "\t").replace(/\\f/g, "\f");
  return native(new TextEncoder().encode(text));
}

const SPAN = /^off=(\d+) len=(\d+) span\[([a-z_]+)\]="(.*)"$/;
const EVENT = /^off=(\d+) (.*)$/;
const ERROR = /^error code=(\d+) reason="(.*)"$/;

/** llhttp's reading of an input, from the fixture's ```log block. */
export function parseLog(log: string): LlhttpOutcome {
  const messages: LlhttpMessage[] = [];
  let error: { code: number; reason: string } | null = null;
  let upgrade = false;
  let m: LlhttpMessage | undefined;
  let field = "";
  let value = "";
  let inValue = false;
  let protocol = "";
  const endField = () => {
    if (m !== undefined && inValue) m.headers.push([field, value]);
    field = value = "";
    inValue = false;
  };
  for (const line of log.split("\n")) {
    if (line.trim() === "") continue;
    const span = SPAN.exec(line);
    if (span !== null) {
      const [, off, len, kind, quoted] = span;
      const text = spanBytes(quoted);
      if (m === undefined) continue;
      switch (kind) {
        case "method":
          m.method += text;
          break;
        case "url":
          m.url += text;
          break;
        case "protocol":
          protocol += text;
          break;
        case "version":
          m.version = `${protocol}/${text}`;
          m.versionEnd = Number(off) + Number(len);
          break;
        case "header_field":
          if (m.trailers) break;
          if (inValue) endField();
          field += text;
          break;
        case "header_value":
          if (m.trailers) break;
          inValue = true;
          value += text;
          break;
        case "body":
          m.body += text;
          break;
      }
      continue;
    }
    const event = EVENT.exec(line);
    if (event === null) continue;
    const what = event[2];
    if (what === "message begin") {
      m = {
        method: "",
        url: "",
        version: "",
        headers: [],
        body: "",
        complete: false,
        versionEnd: -1,
        trailers: false,
      };
      protocol = "";
      field = value = "";
      inValue = false;
      messages.push(m);
    } else if (what === "header_value complete") {
      if (m?.trailers) continue;
      inValue = true;
      endField();
    } else if (what.startsWith("headers complete")) {
      endField();
      // Fields after the head are chunked trailers, not header fields.
      if (m !== undefined) m.trailers = true;
    } else if (what === "message complete") {
      if (m !== undefined) m.complete = true;
    } else {
      const err = ERROR.exec(what);
      if (err !== null) {
        const code = Number(err[1]);
        if (code === PAUSED_UPGRADE) upgrade = true;
        else error = { code, reason: err[2] };
        break;
      }
    }
  }
  return { messages, error, upgrade };
}

/** Meta types run as they are: llhttp's strict mode. */
const STRICT_TYPES = new Set(["request"]);

/**
 * Every fixture of one file: the convertible cases, and the others with
 * the reason they were left out.
 */
export function parseFixtureFile(
  file: string,
  text: string,
): { cases: LlhttpCase[]; skipped: SkippedFixture[] } {
  const lines = text.split("\n");
  const cases: LlhttpCase[] = [];
  const skipped: SkippedFixture[] = [];
  const seen = new Map<string, number>();
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const h = /^#+\s+(.*)$/.exec(line);
    if (h !== null) {
      heading = h[1].trim();
      continue;
    }
    if (i + 1 < lines.length && /^(=+|-+)$/.test(lines[i + 1]) && line) {
      heading = line.trim();
      continue;
    }
    const metaMatch = /^<!--\s*meta=(\{.*\})\s*-->$/.exec(line.trim());
    if (metaMatch === null) continue;
    const meta = JSON.parse(metaMatch[1]) as Record<string, unknown>;
    const count = (seen.get(heading) ?? 0) + 1;
    seen.set(heading, count);
    const name = `${file}: ${heading}${count > 1 ? ` #${count}` : ""}`;
    const metaLine = i + 1;
    const http = readBlock(lines, i + 1, "http");
    if (http === null) {
      skipped.push({ name, reason: "no ```http block after the meta" });
      continue;
    }
    const log = readBlock(lines, http.next, "log");
    if (log === null) {
      skipped.push({ name, reason: "no ```log block" });
      continue;
    }
    i = log.next - 1;
    const type = String(meta.type);
    if (!STRICT_TYPES.has(type) && !type.startsWith("request-lenient-")) {
      skipped.push({ name, reason: `type ${type}: not a parse of a request` });
      continue;
    }
    if (meta.skipBody === true) {
      skipped.push({
        name,
        reason: "skipBody: the test's callback skips the body",
      });
      continue;
    }
    cases.push({
      name,
      file,
      line: metaLine,
      meta,
      lenient: !STRICT_TYPES.has(type),
      input: fixtureInput(http.content),
      expected: parseLog(log.content),
    });
  }
  return { cases, skipped };
}

/** The fenced block of `lang` starting at or after line `from`. */
function readBlock(
  lines: string[],
  from: number,
  lang: string,
): { content: string; next: number } | null {
  let i = from;
  while (i < lines.length && lines[i].trim() === "") i++;
  if (i >= lines.length || lines[i].trim() !== "```" + lang) return null;
  const body: string[] = [];
  for (i++; i < lines.length; i++) {
    if (lines[i].trim() === "```") {
      return { content: body.join("\n") + "\n", next: i + 1 };
    }
    body.push(lines[i]);
  }
  return null;
}

/** Every `.md` file of `dir` (llhttp's test/request), parsed. */
export function readFixtures(
  dir: string,
): { cases: LlhttpCase[]; skipped: SkippedFixture[] } {
  const cases: LlhttpCase[] = [];
  const skipped: SkippedFixture[] = [];
  const files = [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => e.name)
    .sort();
  for (const file of files) {
    const r = parseFixtureFile(file, Deno.readTextFileSync(`${dir}/${file}`));
    cases.push(...r.cases);
    skipped.push(...r.skipped);
  }
  return { cases, skipped };
}
