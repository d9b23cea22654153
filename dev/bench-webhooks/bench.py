"""stripe-python's Webhook.construct_event over the payloads the Rust bench
signed (payloads.json), timed like the Rust bench: a warm-up, a batch
calibrated to BENCH_BATCH_MS, then BENCH_BATCHES batches; each batch's time
per call is one sample; median and p90 in µs per delivery.

Usage: .venv/bin/python bench.py payloads.json [results.json]
"""

import hashlib
import hmac
import json
import os
import platform
import sys
import time

import stripe

WARMUP_MS = float(os.environ.get("BENCH_WARMUP_MS", 500))
BATCH_MS = float(os.environ.get("BENCH_BATCH_MS", 10))
BATCHES = int(os.environ.get("BENCH_BATCHES", 100))


def timed(f):
    start = time.perf_counter_ns()
    calls = 0
    while (time.perf_counter_ns() - start) / 1e6 < WARMUP_MS or calls < 10:
        f()
        calls += 1
    per_call = (time.perf_counter_ns() - start) / 1e9 / calls
    iters = max(1, int(BATCH_MS / 1e3 / per_call))
    samples = []
    for _ in range(BATCHES):
        t = time.perf_counter_ns()
        for _ in range(iters):
            f()
        samples.append((time.perf_counter_ns() - t) / 1e3 / iters)
    samples.sort()
    pick = lambda q: samples[round((len(samples) - 1) * q)]
    return {
        "median_us": pick(0.5),
        "p90_us": pick(0.9),
        "min_us": samples[0],
        "iters_per_batch": iters,
        "batches": BATCHES,
    }


def main():
    payloads_file = sys.argv[1]
    results_file = sys.argv[2] if len(sys.argv) > 2 else None
    with open(payloads_file) as fh:
        doc = json.load(fh)
    secret, tolerance = doc["secret"], doc["tolerance"]
    runtime = f"python {platform.python_version()}, stripe {stripe.VERSION}"
    print(runtime)
    rows = []
    for p in doc["payloads"]:
        body = p["body"].encode("utf-8")
        header = p["header"]
        # Check what is timed: it verifies and reads the event.
        event = stripe.Webhook.construct_event(body, header, secret, tolerance)
        assert event.type == p["name"] and event.data.object.id, p["name"]
        t = header.split(",")[0][2:]
        key = secret.encode("utf-8")

        def construct():
            stripe.Webhook.construct_event(body, header, secret, tolerance)

        def floor():
            hmac.new(key, t.encode() + b"." + body, hashlib.sha256).hexdigest()
            json.loads(body)

        for name, f in [
            ("stripe-python construct_event", construct),
            ("python floor hmac+json.loads", floor),
        ]:
            s = timed(f)
            print(
                f"{name:<30} {p['name']:<24} {p['bytes']:>6} "
                f"{s['median_us']:>10.3f} {s['p90_us']:>10.3f} {s['iters_per_batch']:>8}"
            )
            rows.append({"contender": name, "payload": p["name"], "bytes": p["bytes"], **s})
    if results_file:
        with open(results_file, "w") as fh:
            json.dump({"runtime": runtime, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
