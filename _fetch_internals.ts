// What toFetchHandler reads and writes behind Deno's Fetch objects, where
// the Fetch API alone would cost more: symbols that are not public, found
// once by description. What they give is checked (on every call, or once at
// load), and on another runtime, or a Deno that changed them, the standard
// API does the same work, more slowly.
//
// - A request's header fields as received. The Fetch API only hands headers
//   out sorted and combined with ", ", and `request.headers` is the largest
//   share of what reading a request from Deno.serve costs. A Request's
//   "request" is, for a request from Deno.serve, an `InnerRequest` whose
//   `headerList` getter reads the fields from the HTTP layer; a Headers
//   object's "header list" holds the pairs of a Headers built in JS.
// - A 200 with the app's reason phrase. Deno's Response has a fast path for
//   a 200 with an empty statusText and at most a Content-Type header, which
//   Deno.serve then sends from a static buffer; any statusText, "OK"
//   included, takes the general path (a regex check, a header list built and
//   searched), about 0.2 µs more per response. Deno.serve never puts a
//   statusText on the wire (HTTP/1.1 goes out with the standard phrase for
//   the code), so the reason matters only to whoever reads
//   `response.statusText`: the Response is built without it, and the reason
//   is then written where that getter reads it, in the inner response behind
//   a Response's "response" symbol.

type Pairs = readonly (readonly [string, string])[];

function findSymbol(of: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(of).find((s) =>
    s.description === description
  );
}

const LIST = findSymbol(new Headers(), "header list");
const REQUEST = findSymbol(new Request("http://localhost/"), "request");
const RESPONSE = findSymbol(new Response(null), "response");

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

type InnerResponse = { statusMessage: string };

function innerResponse(response: Response): InnerResponse {
  return (response as unknown as Record<symbol, InnerResponse>)[RESPONSE!];
}

/** Whether a reason set on the inner response is what `statusText` reads. */
function probeStatusMessage(): boolean {
  if (RESPONSE === undefined) return false;
  try {
    const response = new Response("x", {
      headers: { "content-type": "text/plain" },
    });
    const inner = innerResponse(response);
    if (typeof inner !== "object" || inner?.statusMessage !== "") return false;
    inner.statusMessage = "Probe";
    return response.statusText === "Probe" &&
      response.clone().statusText === "Probe" && response.status === 200;
  } catch {
    return false;
  }
}

const SET_STATUS_MESSAGE = probeStatusMessage();

// What the Fetch standard allows in a statusText (Deno checks the same).
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * `new Response(body, { status: 200, statusText: reason, headers })`, on
 * Deno's fast path where it can be. A reason the Fetch API refuses gets
 * the standard path, and with it Deno's `TypeError`.
 */
export function okResponse(
  body: BodyInit | null,
  reason: string,
  headers: HeadersInit,
): Response {
  if (!SET_STATUS_MESSAGE || !REASON.test(reason)) {
    return new Response(body, { statusText: reason, headers });
  }
  const response = new Response(body, { headers });
  if (reason !== "") innerResponse(response).statusMessage = reason;
  return response;
}
