// The one thing toFetchHandler reads behind Deno's Fetch objects: a
// request's header fields as received. The Fetch API only hands headers out
// sorted and with repeats combined with ", ", where wsgiref joins repeated
// fields with ","; and `request.headers` is the largest share of what
// reading a request from Deno.serve costs. The symbols are not public: they
// are found once by description, what they give is checked on every call,
// and nothing is ever written through them. On another runtime, or a Deno
// that changed them, `requestHeaderList` returns null and the bridge reads
// `request.headers` instead (repeats then joined with ", ").
//
// - A Request's "request" is, for a request from Deno.serve, an
//   `InnerRequest` whose `headerList` getter reads the fields from the HTTP
//   layer.
// - A Headers object's "header list" holds the pairs of a Headers built in
//   JS (a `new Request(url, { headers: pairs })`).

type Pairs = readonly (readonly [string, string])[];

function findSymbol(of: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(of).find((s) =>
    s.description === description
  );
}

const LIST = findSymbol(new Headers(), "header list");
const REQUEST = findSymbol(new Request("http://localhost/"), "request");

/** True when every entry is a pair of strings. */
function isPairs(list: unknown): list is Pairs {
  if (!Array.isArray(list)) return false;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i];
    if (
      !Array.isArray(pair) || pair.length !== 2 ||
      typeof pair[0] !== "string" || typeof pair[1] !== "string"
    ) return false;
  }
  return true;
}

/** The pairs of a Headers built in JS, or null. */
function rawHeaderList(headers: Headers): Pairs | null {
  if (LIST === undefined) return null;
  const list = (headers as unknown as Record<symbol, unknown>)[LIST];
  return isPairs(list) ? list : null;
}

/**
 * The header fields of `request` in the order received, repeats apart, or
 * null when the runtime does not expose them. A request from Deno.serve
 * (its headers immutable) is read without making its `Headers` object.
 */
export function requestHeaderList(request: Request): Pairs | null {
  if (REQUEST !== undefined) {
    const inner = (request as unknown as Record<symbol, unknown>)[REQUEST];
    if (
      inner !== null && typeof inner === "object" &&
      inner.constructor?.name === "InnerRequest"
    ) {
      const list = (inner as { headerList?: unknown }).headerList;
      if (isPairs(list)) return list;
    }
  }
  return rawHeaderList(request.headers);
}
