#!/usr/bin/env bash
# Side-by-side: pastdue's verify + map (Rust, release) against stripe-node's
# webhooks.constructEvent and stripe-python's Webhook.construct_event, over
# the same signed payloads, plus the floor (HMAC-SHA256 + a parse that only
# visits the bytes). Prints one table; see docs/performance.md.
#
# Environment (all three benches): BENCH_BATCHES (100), BENCH_BATCH_MS (10),
# BENCH_WARMUP_MS (500). Extra cargo flags: CARGO_FLAGS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

export BENCH_BATCHES="${BENCH_BATCHES:-100}"
export BENCH_BATCH_MS="${BENCH_BATCH_MS:-10}"
export BENCH_WARMUP_MS="${BENCH_WARMUP_MS:-500}"

# The pinned contenders (package-lock.json, requirements.txt).
if [ ! -f node_modules/stripe/package.json ] ||
   [ "$(node -p 'require("./node_modules/stripe/package.json").version')" != \
     "$(node -p 'require("./package-lock.json").packages["node_modules/stripe"].version')" ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/pip freeze 2>/dev/null | grep -qxF "$(grep -E '^stripe==' requirements.txt)"; then
  .venv/bin/pip install --quiet -r requirements.txt
fi

mkdir -p results
rm -f payloads.json results/*.json

echo "== pastdue (cargo bench, release profile): builds, signs the payloads, times" >&2
(cd "$root" && PASTDUE_BENCH_PAYLOADS="$here/payloads.json" \
  PASTDUE_BENCH_RESULTS="$here/results/rust.json" \
  cargo bench ${CARGO_FLAGS:-} -p pastdue-shared --bench webhooks)

echo "== stripe-node" >&2
node bench.js payloads.json results/node.json

echo "== stripe-python" >&2
.venv/bin/python bench.py payloads.json results/python.json

echo
python3 report.py results/rust.json results/node.json results/python.json | tee results/table.txt
python3 report.py --markdown results/rust.json results/node.json results/python.json > results/table.md
