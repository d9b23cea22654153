#!/usr/bin/env bash
# Cold-start init time of every function, beside a hello-world lambda_runtime
# binary built the same way (dev/hello-lambda: same Cargo.lock versions, same
# [profile.release], same toolchain and target).
#
#   dev/coldstart.sh                  # build (release, native), then 20 runs each
#   RUNS=50 dev/coldstart.sh          # more runs
#   BUILD=0 dev/coldstart.sh          # measure the binaries already in OUT
#   FUNCTIONS="ingest notifier" dev/coldstart.sh
#
# Init = from posix_spawn to the first GET /2018-06-01/runtime/invocation/next
# on a loopback stand-in for the Runtime API (dev/coldstart.py); no network,
# no AWS. Prints median, p90 and min per binary and the ratio of each median
# to hello-world's. The binaries are copied to OUT (default
# /tmp/pastdue-coldstart/bin) first, as the shared target dir may be rebuilt
# under us. Builds run under `nice -n 19`; CARGO_TARGET_DIR is honoured.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-20}"
BUILD="${BUILD:-1}"
FUNCTIONS="${FUNCTIONS:-$(ls functions)}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-/tmp/pastdue-coldstart/bin}"

if [[ "$BUILD" == 1 ]]; then
  pkgs=()
  for f in $FUNCTIONS; do pkgs+=(-p "$f"); done
  echo "==> cargo build --release ${pkgs[*]}" >&2
  CARGO_TARGET_DIR="$TARGET_DIR" nice -n 19 cargo build --release --quiet "${pkgs[@]}"
  echo "==> hello-lambda with the root Cargo.lock and [profile.release]" >&2
  mapfile -t profile < <(python3 dev/profile_flags.py --lock)
  CARGO_TARGET_DIR="$TARGET_DIR" nice -n 19 cargo build --release --quiet \
    --manifest-path dev/hello-lambda/Cargo.toml "${profile[@]}"
  mkdir -p "$OUT"
  for b in hello-lambda $FUNCTIONS; do cp "$TARGET_DIR/release/$b" "$OUT/$b"; done
fi

args=("hello-lambda=$OUT/hello-lambda")
for f in $FUNCTIONS; do args+=("$f=$OUT/$f"); done
for b in "${args[@]}"; do
  [[ -x "${b#*=}" ]] || { echo "missing ${b#*=}: run without BUILD=0" >&2; exit 1; }
done
ls -l "$OUT" | awk 'NR>1 {printf "  %-20s %6.2f MB unzipped\n", $9, $5/1e6}' >&2
exec python3 dev/coldstart.py --runs "$RUNS" ${JSON:+--json "$JSON"} "${args[@]}"
