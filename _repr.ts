// Python-flavoured `repr()` for diagnostics, so that the validator's
// messages read as wsgiref's: strings in single quotes with Python's
// escapes, arrays as `[a, b]`, plain objects as `{ key: value }`; anything
// else through `Deno.inspect`.

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 4;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}

/** Python's `repr()` of a `str`: `'abc'`, `"it's"`, `'\n'`, `'\x01'`. */
export function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) {
      out += "\\x" + hex(code, 2);
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += ch + s[i + 1];
        i++;
      } else {
        out += "\\u" + hex(code, 4);
      }
    } else out += ch;
  }
  return out + quote;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function reprInner(value: unknown, seen: Set<object>, depth: number): string {
  if (typeof value === "string") return reprString(value);
  if (
    value === null || value === undefined || typeof value === "number" ||
    typeof value === "boolean"
  ) {
    return Object.is(value, -0) ? "-0" : String(value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value !== "object") {
    return Deno.inspect(value, { compact: true, breakLength: Infinity });
  }
  if (seen.has(value)) return "[Circular]";
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return "[Array]";
    seen.add(value);
    const items = value.map((v) => reprInner(v, seen, depth + 1));
    seen.delete(value);
    return `[${items.join(", ")}]`;
  }
  if (isPlainObject(value)) {
    if (depth >= MAX_DEPTH) return "[Object]";
    const keys = Reflect.ownKeys(value).filter((k) =>
      Object.prototype.propertyIsEnumerable.call(value, k)
    );
    if (keys.length === 0) return "{}";
    seen.add(value);
    const items = keys.map((k) => {
      const key = typeof k === "symbol"
        ? `[${String(k)}]`
        : IDENTIFIER.test(k)
        ? k
        : reprString(k);
      const v = (value as Record<PropertyKey, unknown>)[k];
      return `${key}: ${reprInner(v, seen, depth + 1)}`;
    });
    seen.delete(value);
    return `{ ${items.join(", ")} }`;
  }
  return Deno.inspect(value, {
    compact: true,
    breakLength: Infinity,
    depth: 2,
  });
}

/** A short, Python-flavoured representation of any value, for messages. */
export function repr(value: unknown): string {
  return reprInner(value, new Set(), 0);
}

/**
 * The name of a value's type, the TypeScript stand-in for Python's
 * `type(x)`: `"string"`, `"number"`, `"undefined"`, `"null"`, `"Array"`,
 * or an object's constructor name (`"Object"`, `"Map"`, `"Headers"` …).
 */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "Array";
  if (typeof value !== "object") return typeof value;
  const proto = Object.getPrototypeOf(value);
  if (proto === null) return "Object";
  const ctor = proto.constructor;
  return typeof ctor === "function" && typeof ctor.name === "string" &&
      ctor.name !== ""
    ? ctor.name
    : "Object";
}
