// A 200 Response with the app's reason phrase, built on Deno's fast path.
//
// Deno's Response has a fast path for a 200 with an empty statusText and at
// most a Content-Type header, which Deno.serve then sends from a static
// buffer; any statusText, "OK" included, takes the general path (a regex
// check, a header list built and searched), about 0.2 µs more per response.
// Deno.serve never puts a statusText on the wire (HTTP/1.1 goes out with the
// standard phrase for the code), so the reason matters only to whoever reads
// `response.statusText`. The Response is built without it, and the reason is
// then written where Deno's `statusText` getter reads it: its inner response,
// behind the symbol "response" (not public). That this works is checked once,
// at load; on another runtime, or a Deno that changed it, the Response is
// built the standard way.

const INNER = Object.getOwnPropertySymbols(new Response(null)).find((s) =>
  s.description === "response"
);

type Inner = { statusMessage: string };

function innerOf(response: Response): Inner {
  return (response as unknown as Record<symbol, Inner>)[INNER!];
}

function probe(): boolean {
  if (INNER === undefined) return false;
  try {
    const response = new Response("x", {
      headers: { "content-type": "text/plain" },
    });
    const inner = innerOf(response);
    if (typeof inner !== "object" || inner?.statusMessage !== "") return false;
    inner.statusMessage = "Probe";
    return response.statusText === "Probe" &&
      response.clone().statusText === "Probe" && response.status === 200;
  } catch {
    return false;
  }
}

const FAST = probe();

// What the Fetch standard allows in a statusText (Deno checks the same).
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
let lastReason = "OK";

/**
 * `new Response(body, { status: 200, statusText: reason, headers })`, on
 * Deno's fast path where it can be. Throws the same `TypeError` for a
 * reason that is not allowed.
 */
export function okResponse(
  body: BodyInit | null,
  reason: string,
  headers: HeadersInit,
): Response {
  if (!FAST) return new Response(body, { statusText: reason, headers });
  if (reason !== lastReason) {
    if (!REASON.test(reason)) {
      throw new TypeError(`Invalid status text: ${JSON.stringify(reason)}`);
    }
    lastReason = reason;
  }
  const response = new Response(body, { headers });
  if (reason !== "") innerOf(response).statusMessage = reason;
  return response;
}
