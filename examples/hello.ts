// wsgiref's hello world, served by makeServer:
//
//   deno run --allow-net examples/hello.ts        # port 8000
//   deno run --allow-net examples/hello.ts 8080   # another port (0: any)
import { makeServer } from "../simple_server.ts";
import type { WSGIApplication } from "../types.ts";

const helloWorldApp: WSGIApplication = (_environ, startResponse) => {
  const status = "200 OK"; // HTTP Status
  const headers: [string, string][] = [
    ["Content-type", "text/plain; charset=utf-8"], // HTTP Headers
  ];
  startResponse(status, headers);
  // The returned object is going to be printed
  return [new TextEncoder().encode("Hello World")];
};

const port = Number(Deno.args[0] ?? 8000);
await using httpd = makeServer("", port, helloWorldApp);
console.log(`Serving on port ${httpd.port}...`);
// Serve until process is killed
await httpd.serveForever();
