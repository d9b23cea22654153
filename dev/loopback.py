"""What the loopback processor APIs (stripe_api.py, gocardless_api.py,
paypal_api.py) share: a request handler that reads the body and answers
JSON or text, and the serve loop (loopback only, quits cleanly on SIGTERM).
Standard library only."""

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    """Subclasses set `name` and implement `handle_any(method)`."""

    name = "loopback"
    protocol_version = "HTTP/1.1"
    # Headers every answer carries (Stripe's `Request-Id`).
    always = ()

    def log_message(self, *args):
        pass

    def raw_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, content_type, data, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (*self.always, *headers):
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        print(f"{self.name}: {self.command} {self.path} -> {status}", file=sys.stderr, flush=True)

    def reply(self, status, body, headers=()):
        self.send(status, "application/json", json.dumps(body).encode(), headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def arguments(description, port_var, default_port):
    """The --host and --port every server takes; the caller may add more."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get(port_var, default_port)))
    return parser


def serve(name, handler, host, port):
    """Serves `handler` on loopback until SIGTERM or Ctrl-C."""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        raise SystemExit(f"{name} serves loopback only")
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    # shutdown() waits for serve_forever() to return, so not from its thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"{name}: serving http://{host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    print(f"{name}: stopped", file=sys.stderr, flush=True)
