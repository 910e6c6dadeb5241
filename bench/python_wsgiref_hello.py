"""Bench target: Python's wsgiref.simple_server with the same hello world.

    python3 bench/python_wsgiref_hello.py PORT

With BENCH_FILE set, GET /file answers that file through
wsgi.file_wrapper (wsgiref's FileWrapper, 256 KiB blocks).

The one change to stock wsgiref: a listen backlog of 128 instead of
socketserver's 5. With 5, wrk's connects overflow the queue, the kernel drops
SYNs, and every dropped connect waits a second for its retry: the figures
then swing from 3,000 to 12 requests/s between runs.
"""
import os
import sys
from wsgiref.simple_server import make_server, WSGIRequestHandler, WSGIServer

BIG_FILE = os.environ.get("BENCH_FILE")


class Server(WSGIServer):
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kw):
        pass


def app(environ, start_response):
    if BIG_FILE is not None and environ["PATH_INFO"] == "/file":
        f = open(BIG_FILE, "rb")
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(size)),
        ])
        return environ["wsgi.file_wrapper"](f, 1 << 18)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello world!"]


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
with make_server("127.0.0.1", port, app, Server, QuietHandler) as httpd:
    print("ready", flush=True)
    httpd.serve_forever()
