// The smallest CGIHandler program: the same fixed response as
// _cgi_fixed.ts, through the gateway (readEnviron, the handler, the
// response head).
import { CGIHandler } from "../handlers.ts";

await new CGIHandler().run((_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("Hello world!")];
});
