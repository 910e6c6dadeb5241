// The gateway's own time inside one CGI process: importing handlers.ts,
// building a CGIHandler (readEnviron), and running a hello app to the end.
// Prints {"wall": ms, "cpu": ms, "import": ms, "construct": ms, "run": ms}
// on stderr (wall times, and the process's CPU time over the three steps);
// the response goes to stdout as usual. Run by bench/cgi.ts.
import { cpuUsage } from "node:process";

const c0 = cpuUsage();
const t0 = performance.now();
const { CGIHandler } = await import("../handlers.ts");
const t1 = performance.now();
const handler = new CGIHandler();
const t2 = performance.now();
await handler.run((_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("Hello world!")];
});
const t3 = performance.now();
const c = cpuUsage(c0);
console.error(JSON.stringify({
  wall: t3 - t0,
  cpu: (c.user + c.system) / 1000,
  import: t1 - t0,
  construct: t2 - t1,
  run: t3 - t2,
}));
