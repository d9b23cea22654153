#!/usr/bin/env python3
"""Cold-start init time of Lambda bootstrap binaries.

For each binary, runs it RUNS times (after one unmeasured warm-up run that
fills the page cache) against a loopback HTTP server standing in for the
Lambda Runtime API, and measures from just before posix_spawn to the moment
the server has read the binary's first
`GET /2018-06-01/runtime/invocation/next`. That is the function's init as
Lambda bills it (INIT phase: process start to first poll). The server answers
that poll with 503 and the process is killed; nothing leaves the machine.

Each binary runs with a clean environment like Lambda's (no HOME, the
AWS_LAMBDA_* variables, dummy credentials) plus the settings its function
reads at init (see ENV below and infra/template.yaml). Endpoints point at
127.0.0.1:9 so that nothing can reach AWS even if a binary called it.

Usage: python3 dev/coldstart.py [--runs N] [--json FILE] [--env K=V]... NAME=PATH ...
       (the first NAME=PATH is the baseline the ratios are computed against;
       NAME is a label, the function is PATH's file name, so two builds of
       one function can be compared: ingest-old=/tmp/a/ingest ingest=...)
dev/coldstart.sh builds the binaries and calls this.
"""

import argparse
import http.server
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time

POLL = "/2018-06-01/runtime/invocation/next"

# The environment Lambda gives every function, with dummy credentials.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]coldstart",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDCOLDSTART",
    "AWS_SECRET_ACCESS_KEY": "coldstart-secret",
    "AWS_SESSION_TOKEN": "coldstart-token",
    # Discard port: a binary that called AWS at init would fail, not leak.
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "RUST_LOG": "info",
}

# What each function reads at init, as in infra/template.yaml (Globals and
# the function's own Variables), with local values.
COMMON = {"TABLE_NAME": "pastdue-coldstart", "EVENT_BUS": "pastdue-coldstart", "RUN_HOUR": "9"}
ENV = {
    "ingest": {
        **COMMON,
        # In AWS these come from SSM (…_PARAM), a network call at init that
        # this local measurement leaves out: the values are given directly.
        "STRIPE_WEBHOOK_SECRET": "whsec_coldstart0123456789abcdef",
        "STANDARD_WEBHOOK_SECRET": "whsec_Y29sZHN0YXJ0MDEyMzQ1Njc4OWFiY2RlZg==",
    },
    "notifier": {
        **COMMON,
        "SENDER_EMAIL": "billing@pastdue.example",
        "STAFF_EMAIL": "staff@pastdue.example",
        "PAY_URL": "https://billing.example.com/pay/{account}",
        "CARD_URL": "https://billing.example.com/card/{account}",
        "SES_CONFIGURATION_SET": "pastdue-coldstart",
        "PORTAL_URL": "https://portal.example.lambda-url.us-east-1.on.aws/",
        "PORTAL_SECRET": "coldstart-portal-secret-of-32-characters",
    },
    "portal": {
        **COMMON,
        "PORTAL_SECRET": "coldstart-portal-secret-of-32-characters",
        "SENDER_EMAIL": "billing@pastdue.example",
        "PAY_URL": "https://billing.example.com/pay/{account}",
        "CARD_URL": "https://billing.example.com/card/{account}",
    },
}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Records the first poll's arrival; answers every request with 503."""

    protocol_version = "HTTP/1.1"
    server_version = "coldstart"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        now = time.monotonic_ns()
        if self.path == POLL and self.server.first_poll is None:
            self.server.first_poll = now
            self.server.polled.set()
        self._answer()

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.server.posts.append((self.path, self.rfile.read(length)[:2000]))
        self._answer()

    def _answer(self):
        body = b'{"errorMessage":"coldstart: measurement only"}'
        try:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *_args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a killed binary's reset connection is expected

    def reset(self):
        self.first_poll = None
        self.polled = threading.Event()
        self.posts = []


def run_once(server, name, path, timeout, extra_env=()):
    """One cold start: returns init milliseconds, or raises with stderr."""
    server.reset()
    # The function is the binary's file name; NAME is only its label.
    function = os.path.basename(path)
    env = dict(BASE_ENV)
    env.update(ENV.get(function, COMMON))
    env.update(extra_env)
    env["AWS_LAMBDA_FUNCTION_NAME"] = function
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryFile() as err:
        fds = [(os.POSIX_SPAWN_DUP2, os.open(os.devnull, os.O_RDWR), 0),
               (os.POSIX_SPAWN_DUP2, os.open(os.devnull, os.O_RDWR), 1),
               (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        start = time.monotonic_ns()
        pid = os.posix_spawn(path, [path], env, file_actions=fds)
        for _, fd, target in fds:
            if target != 2:
                os.close(fd)
        polled = server.polled.wait(timeout)
        exited = os.waitpid(pid, os.WNOHANG)[0] == pid
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if not polled:
            err.seek(0)
            raise RuntimeError(f"{name}: no poll within {timeout}s; stderr:\n"
                               + err.read().decode(errors="replace")[-3000:]
                               + "".join(f"\nPOST {p}: {b!r}" for p, b in server.posts))
    return (server.first_poll - start) / 1e6


def p90(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for every binary (experiments, e.g. "
                        "SSL_CERT_FILE=...); repeatable")
    parser.add_argument("binaries", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1 to 1000")

    server = Server(("127.0.0.1", 0), RuntimeApi)
    server.reset()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    extra_env = dict(e.split("=", 1) for e in args.env)
    results = {}
    try:
        # Interleaved rounds, so a burst of load from elsewhere on the machine
        # hits every binary alike rather than one of them.
        targets = [b.split("=", 1) for b in args.binaries]
        for name, path in targets:
            run_once(server, name, path, args.timeout, extra_env)  # warm-up, not counted
            results[name] = []
        for _ in range(args.runs):
            for name, path in targets:
                results[name].append(run_once(server, name, path, args.timeout, extra_env))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        server.shutdown()

    base = statistics.median(results[targets[0][0]])
    print(f"{'binary':<20} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'x ' + targets[0][0]:>12}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:<20} {med:>10.2f} {p90(values):>8.2f} {min(values):>8.2f} {med / base:>12.2f}")
    print(f"({args.runs} cold starts each, interleaved, after one warm-up; "
          f"spawn to first {POLL})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: {"median_ms": statistics.median(v), "p90_ms": p90(v), "runs_ms": v}
                       for n, v in results.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
