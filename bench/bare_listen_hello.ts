// Bench target: the floor of any server on Deno.listen. It does not parse
// HTTP: it reads until a request's empty line, answers every request with
// the same bytes, and closes when the request says `Connection: close`. No
// server built on Deno.listen (as simple_server is) can do less per request.
//
//   deno run --allow-net bench/bare_listen_hello.ts PORT

const port = Number(Deno.args[0] ?? 8000);
const encoder = new TextEncoder();
const body = "Hello world!";
const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
  `Content-Length: ${body.length}\r\n`;
const keepAlive = encoder.encode(`${head}\r\n${body}`);
const close = encoder.encode(`${head}Connection: close\r\n\r\n${body}`);
const END = encoder.encode("\r\n\r\n");
const CLOSE = /connection:\s*close/i;

/** Where the empty line ending a head ends in `buf[from, to)`, or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(0, from - 3); i + 4 <= to; i++) {
    if (
      buf[i] === END[0] && buf[i + 1] === END[1] && buf[i + 2] === END[2] &&
      buf[i + 3] === END[3]
    ) return i + 4;
  }
  return -1;
}

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(8192);
  let len = 0;
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) break;
      let end = headEnd(buf, len, len + n);
      len += n;
      let closing = false;
      while (end !== -1) {
        let text = "";
        for (let i = 0; i < end; i++) text += String.fromCharCode(buf[i]);
        closing = CLOSE.test(text);
        await conn.write(closing ? close : keepAlive);
        buf.copyWithin(0, end, len);
        len -= end;
        end = closing ? -1 : headEnd(buf, 0, len);
      }
      if (closing || len === buf.length) break;
    }
  } catch { /* the client went away */ }
  try {
    conn.close();
  } catch { /* already closed */ }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log("ready");
for await (const conn of listener) serve(conn);
