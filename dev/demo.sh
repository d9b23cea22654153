#!/usr/bin/env bash
# make demo: the whole system on the real function binaries, locally.
#   1. the local stack (DynamoDB Local, moto), unless it already runs
#   2. the function binaries, the CLI and the demo driver (cargo build)
#   3. a fresh table for this run, a Stripe endpoint secret, a Stripe API
#      key on the loopback Stripe API, a GoCardless endpoint secret and the
#      loopback GoCardless API's access token
#   4. `cargo lambda watch` serving every function on 127.0.0.1:9000
#   5. pastdue-demo: plays events/demo/ over HTTP, prints the timeline,
#      writes demo-out/
# Everything it started is stopped on exit, whatever happens. Run it through
# `make demo`, which exports the local environment (`make env`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${DEMO_OUT:-demo-out}
lambda_url=${AWS_ENDPOINT_URL_LAMBDA:?run through make demo}
lambda_port=${lambda_url##*:}

say() { printf '==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

answers() { # url: any HTTP answer at all
  python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

started_stack=false
watch_pid=""
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [ -n "$watch_pid" ]; then
    # cargo lambda watch and the function processes it started share the
    # session setsid gave it.
    pkill -TERM -s "$watch_pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      pgrep -s "$watch_pid" >/dev/null 2>&1 || break
      sleep 0.25
    done
    pkill -KILL -s "$watch_pid" 2>/dev/null || true
    echo "==> stopped cargo lambda watch"
  fi
  if $started_stack; then
    dev/stack.sh down
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if answers "$lambda_url/"; then
  die "something already answers on port $lambda_port (another cargo lambda watch?); stop it and run make demo again"
fi

if dev/stack.sh status >/dev/null 2>&1; then
  say "the local stack is already running: using it, and leaving it running"
else
  started_stack=true
  say "starting the local stack"
  dev/stack.sh up
fi

functions=()
for dir in functions/*/; do functions+=(--bin "$(basename "$dir")"); done
say "building the functions, the pastdue CLI and the demo driver (the first build compiles the AWS SDK: many minutes on 2 cores)"
# The same package selection as the `cargo run --bin <function>` that
# cargo lambda watch runs, so it finds the binaries built and starts them.
cargo build "${functions[@]}" --bin pastdue --bin pastdue-demo
bin=$root/target/debug

export TABLE_NAME="pastdue-demo-$(date +%s)"
export STRIPE_WEBHOOK_SECRET="whsec_demo_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# A restricted key on the loopback Stripe API (STRIPE_API_BASE): the
# dunning function checks each cut-off with it; the demo driver fills that
# Stripe with everything the story's Stripe sends, lost webhooks included.
export STRIPE_API_KEY="rk_test_demo_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# GoCardless: ingest reads each payment an event names from the loopback
# GoCardless API (GOCARDLESS_API_BASE, from `make env`) with the token
# dev/gocardless_api.py accepts; the driver signs with the secret and seeds
# that API. cargo lambda watch hands the functions its own environment.
export GOCARDLESS_WEBHOOK_SECRET="gc_demo_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export GOCARDLESS_ACCESS_TOKEN=${GOCARDLESS_TEST_TOKEN:-sandbox_test_token}
export GOCARDLESS_API_BASE=${GOCARDLESS_API_BASE:?run through make demo}
say "table $TABLE_NAME; SES sender $SENDER_EMAIL"
"$bin/pastdue" setup table --template infra/template.yaml >/dev/null
"$bin/pastdue" setup sender >/dev/null

rm -rf "$out"
mkdir -p "$out"
say "starting cargo lambda watch on port $lambda_port (function logs: $out/lambda.log)"
setsid cargo lambda watch --quiet --ignore-changes --invoke-port "$lambda_port" >"$out/lambda.log" 2>&1 </dev/null &
watch_pid=$!
for i in $(seq 1 120); do
  answers "$lambda_url/" && break
  kill -0 "$watch_pid" 2>/dev/null || { tail -n 20 "$out/lambda.log" >&2; die "cargo lambda watch stopped"; }
  [ $((i % 10)) -eq 0 ] && say "still waiting for cargo lambda watch ($((i / 2)) s)"
  sleep 0.5
done
answers "$lambda_url/" || die "cargo lambda watch did not answer within 60 s (see $out/lambda.log)"

say "playing events/demo/ (webhooks to $lambda_url/lambda-url/ingest/stripe and /gocardless, the schedule once a simulated day)"
echo
"$bin/pastdue-demo" --story events/demo --out "$out"
echo
if ! $started_stack; then
  say "the stack keeps the accounts: TABLE_NAME=$TABLE_NAME target/debug/pastdue account timeline cus_DemoCopperline"
fi
