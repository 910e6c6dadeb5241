// Wraps a bench target for bench/instructions.ts: the target's Deno.serve
// handler is counted, and the process exits after N requests, so that
// callgrind writes its totals.
//
//   deno run -A bench/_exit_after.ts TARGET.ts PORT N

const [target, port, n] = Deno.args;
const limit = Number(n);
let count = 0;
const serve = Deno.serve;
type Handler = (r: Request, i: Deno.ServeHandlerInfo) => unknown;
Object.defineProperty(Deno, "serve", {
  value: (options: Deno.ServeTcpOptions, handler: Handler) =>
    serve(options, (r: Request, i: Deno.ServeHandlerInfo) => {
      if (++count === limit) setTimeout(() => Deno.exit(0), 50);
      return handler(r, i) as Response | Promise<Response>;
    }),
});
Object.defineProperty(Deno, "args", { value: [port] });
await import(new URL(target, `file://${Deno.cwd()}/`).href);
