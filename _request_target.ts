// The four forms of a request-target (RFC 9112 section 3.2) and which
// method may use which: origin-form (`/path?query`) for any method,
// absolute-form (`http://host/path`) for any method but CONNECT,
// authority-form (`host:port`) for CONNECT only, asterisk-form (`*`) for
// OPTIONS only. Anything else is refused.
//
// The target's bytes were checked by the head parser (VCHAR and obs-text);
// here it is a native string.

import { badRequest } from "./_http_error.ts";
import { HOST } from "./_http_syntax.ts";

/** The form of a request-target. */
export const TargetForm = {
  /** `/path?query`. */
  Origin: 0,
  /** `scheme://authority/path?query`. */
  Absolute: 1,
  /** `host:port` (CONNECT). */
  Authority: 2,
  /** `*` (OPTIONS). */
  Asterisk: 3,
} as const;
/** One of the {@linkcode TargetForm} values. */
export type TargetForm = typeof TargetForm[keyof typeof TargetForm];

/** Length of `scheme` in `scheme "://"` at the start of `target`, or 0. */
function schemeLength(target: string): number {
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1)
  let i = 0;
  for (; i < target.length; i++) {
    const c = target.charCodeAt(i) | 0x20; // letters folded to lowercase
    const alpha = c >= 0x61 && c <= 0x7a;
    if (alpha) continue;
    if (i === 0) return 0;
    const k = target.charCodeAt(i);
    if ((k >= 0x30 && k <= 0x39) || k === 0x2b || k === 0x2d || k === 0x2e) {
      continue;
    }
    break;
  }
  return target.startsWith("://", i) ? i : 0;
}

/** True if `s` is a non-empty uri-host [":" port], as a Host value is. */
function isAuthority(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || HOST[c] !== 1) return false;
  }
  return true;
}

/** True for `uri-host ":" port` (RFC 9112 section 3.2.3). */
function isAuthorityForm(target: string): boolean {
  const colon = target.lastIndexOf(":");
  if (colon <= 0 || !isAuthority(target)) return false;
  for (let i = colon + 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The form of `target` for a request with `method`; throws HTTPError(400)
 * when the form is not one the method may use, or the target is none of
 * the four.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { TargetForm, targetForm } from "./_request_target.ts";
 *
 * assertEquals(targetForm("GET", "/a?b"), TargetForm.Origin);
 * assertEquals(targetForm("OPTIONS", "*"), TargetForm.Asterisk);
 * ```
 */
export function targetForm(method: string, target: string): TargetForm {
  const c = target.charCodeAt(0);
  if (method === "CONNECT") {
    if (isAuthorityForm(target)) return TargetForm.Authority;
    throw badRequest(
      "CONNECT needs an authority-form request target (host:port)",
    );
  }
  if (c === 0x2f) return TargetForm.Origin; // "/"
  if (target === "*") {
    if (method === "OPTIONS") return TargetForm.Asterisk;
    throw badRequest(`request target * is only for OPTIONS, not ${method}`);
  }
  const n = schemeLength(target);
  if (n > 0) {
    absoluteParts(target, n); // throws if the authority is bad
    return TargetForm.Absolute;
  }
  if (isAuthorityForm(target)) {
    throw badRequest(
      "authority-form request target (host:port) is only for CONNECT",
    );
  }
  throw badRequest(
    "invalid request target (it must start with / or be an absolute URI)",
  );
}

/**
 * The authority and the origin-form path (with its query) of an
 * absolute-form target: `http://h:8/p?q` gives `["h:8", "/p?q"]`; an empty
 * path is `/`. `n` is the length of the scheme (found when not given).
 * Throws HTTPError(400) for a missing or invalid authority, userinfo
 * (`user@`, which RFC 9110 section 4.2.4 says to treat as an error)
 * included.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { absoluteParts } from "./_request_target.ts";
 *
 * assertEquals(absoluteParts("http://example.com/abs?x"), ["example.com", "/abs?x"]);
 * ```
 */
export function absoluteParts(
  target: string,
  n: number = schemeLength(target),
): [authority: string, path: string] {
  const from = n + 3;
  let i = from;
  while (i < target.length) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f) break; // "/" or "?"
    i++;
  }
  const authority = target.slice(from, i);
  if (!isAuthority(authority)) {
    throw badRequest(
      authority.includes("@")
        ? "userinfo (user@) in the request target"
        : "invalid or empty host in the absolute-form request target",
    );
  }
  const rest = target.slice(i);
  return [authority, rest.charCodeAt(0) === 0x2f ? rest : "/" + rest];
}
