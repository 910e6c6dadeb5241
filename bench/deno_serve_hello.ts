// Bench target: Deno.serve answering the same hello-world response as
// bench/wsgi_hello.ts.
//
//   deno run --allow-net --allow-read --allow-env bench/deno_serve_hello.ts PORT [string]
//
// The body is bytes, as a WSGI app gives them; with "string" it is the
// string "Hello world!", which Deno's Response keeps without copying (how
// a Deno user would write it). With BENCH_FILE set, GET /file streams that
// file (file.readable).
const port = Number(Deno.args[0] ?? 8000);
const bigFile = Deno.env.get("BENCH_FILE");
const body: string | Uint8Array<ArrayBuffer> = Deno.args[1] === "string"
  ? "Hello world!"
  : new TextEncoder().encode("Hello world!");

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log("ready") },
  async (request) => {
    if (bigFile !== undefined && new URL(request.url).pathname === "/file") {
      const file = await Deno.open(bigFile);
      const { size } = await file.stat();
      return new Response(file.readable, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(size),
        },
      });
    }
    return new Response(body, { headers: { "Content-Type": "text/plain" } });
  },
);
