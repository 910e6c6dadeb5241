// The CGI baseline: a bare `deno run` that prints a fixed response, no
// library. bench/cgi.ts compares CGIHandler programs against it.
Deno.stdout.writeSync(
  new TextEncoder().encode(
    "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello world!",
  ),
);
