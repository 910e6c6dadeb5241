// Native strings ("bytes in unicode", PEP 3333): every code unit 0-255 is one
// byte. TextDecoder("latin1") is windows-1252 in the WHATWG Encoding spec, so
// it must not be used here: 0x80-0x9F would be remapped.

const CHUNK = 0x2000;

/** Reads bytes as ISO-8859-1: one code unit per byte, nothing remapped. */
export function latin1Decode(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): string {
  if (end - start <= CHUNK) {
    return String.fromCharCode.apply(
      null,
      bytes.subarray(start, end) as unknown as number[],
    );
  }
  let out = "";
  for (let i = start; i < end; i += CHUNK) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(i + CHUNK, end)) as unknown as number[],
    );
  }
  return out;
}

/** Index of the first code unit above 0xFF, or -1 if the string is native. */
export function firstNonLatin1(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) return i;
  }
  return -1;
}

/**
 * Writes a native string into `out` at `offset`, one byte per code unit.
 * The caller has checked the string (see {@linkcode firstNonLatin1}).
 * Returns the offset after the last byte written.
 */
export function latin1Into(s: string, out: Uint8Array, offset: number): number {
  for (let i = 0; i < s.length; i++) out[offset++] = s.charCodeAt(i);
  return offset;
}

/**
 * Encodes a native string as bytes. Throws a `TypeError` naming `what` if a
 * code unit is above 0xFF: such a string is not a native string; `fix` ends
 * the message.
 */
export function latin1Encode(
  s: string,
  what = "string",
  fix = "encode the text as UTF-8 bytes and read them as ISO-8859-1 first " +
    "(textToNative in util.ts)",
): Uint8Array<ArrayBuffer> {
  const bad = firstNonLatin1(s);
  if (bad !== -1) {
    throw new TypeError(
      `${what} must be a native string (ISO-8859-1, code units 0-255), ` +
        `but has U+${
          s.charCodeAt(bad).toString(16).toUpperCase().padStart(4, "0")
        } at index ${bad}: ${fix}`,
    );
  }
  const out = new Uint8Array(s.length);
  latin1Into(s, out, 0);
  return out;
}
