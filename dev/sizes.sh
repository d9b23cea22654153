#!/usr/bin/env bash
# Zipped size of every function's bootstrap, as deployed (arm64, `cargo lambda
# build --release --arm64 --output-format zip`), beside a hello-world
# lambda_runtime binary built the same way (dev/hello-lambda: the root
# Cargo.lock versions and [profile.release], same toolchain and target).
#
#   dev/sizes.sh                     # build everything, print the table
#   BUILD=0 dev/sizes.sh             # print the table of the zips in OUT
#   FUNCTIONS="ingest" dev/sizes.sh
#
# cargo-lambda (dev/requirements.txt, `make tools`) cross-compiles with zig
# (PyPI's ziglang, a dependency of cargo-lambda). It needs the Rust standard
# library for aarch64-unknown-linux-gnu:
#   - with rustup and a network that reaches it:
#       rustup target add aarch64-unknown-linux-gnu
#   - without (this workplace): Debian's Rust, which has a multiarch arm64 std:
#       dpkg --add-architecture arm64 && apt-get update
#       apt-get install rustc-web cargo-web libstd-rust-web-dev:arm64
#     The script then builds with /usr/bin/cargo and /usr/bin/rustc (Debian's
#     rustc-web, 1.96 as of writing) for the functions and hello-world alike.
# Zips go to OUT (default /tmp/pastdue-coldstart/zip/<name>/bootstrap.zip).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD="${BUILD:-1}"
FUNCTIONS="${FUNCTIONS:-$(ls functions)}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-/tmp/pastdue-coldstart/zip}"
TRIPLE=aarch64-unknown-linux-gnu
# .tools/ of this checkout, else of the main worktree (`make tools` makes it).
# The venv's python3 first: cargo-lambda finds zig as `python3 -m ziglang`.
TOOLS="$ROOT/.tools"
[[ -x "$TOOLS/bin/cargo-lambda" ]] || TOOLS="$(git -C "$ROOT" worktree list | awk 'NR==1{print $1}')/.tools"
export PATH="$TOOLS/venv/bin:$TOOLS/bin:$PATH"

if [[ "$BUILD" == 1 ]]; then
  command -v cargo-lambda >/dev/null || { echo "cargo-lambda missing: make tools" >&2; exit 1; }
  CARGO=(cargo)
  if ! [[ -d "$(rustc --print target-libdir --target "$TRIPLE" 2>/dev/null)" ]] \
     || ! ls "$(rustc --print target-libdir --target "$TRIPLE")"/libstd-* >/dev/null 2>&1; then
    if [[ -d /usr/lib/rustlib/$TRIPLE/lib && -x /usr/bin/rustc && -x /usr/bin/cargo ]]; then
      echo "==> no $TRIPLE std for $(rustc --version); using Debian's $(/usr/bin/rustc --version)" >&2
      CARGO=(/usr/bin/cargo)
      export RUSTC=/usr/bin/rustc
    else
      echo "no Rust std for $TRIPLE: see the header of $0" >&2
      exit 1
    fi
  fi
  pkgs=()
  for f in $FUNCTIONS; do pkgs+=(-p "$f"); done
  if ((${#pkgs[@]})); then  # (no -p at all would build every workspace binary)
    echo "==> cargo lambda build --release --arm64 ${pkgs[*]}" >&2
    CARGO_TARGET_DIR="$TARGET_DIR" nice -n 19 "${CARGO[@]}" lambda build --release --arm64 \
      --output-format zip --lambda-dir "$OUT" "${pkgs[@]}"
  fi
  echo "==> hello-lambda with the root Cargo.lock and [profile.release]" >&2
  mapfile -t profile < <(python3 dev/profile_flags.py --lock)
  CARGO_TARGET_DIR="$TARGET_DIR" nice -n 19 "${CARGO[@]}" lambda build --release --arm64 \
    --output-format zip --lambda-dir "$OUT" \
    --manifest-path dev/hello-lambda/Cargo.toml "${profile[@]}"
fi

size() { stat -c %s "$1"; }
unzipped() { unzip -l "$1" | awk 'END {print $1}'; }
base_zip="$OUT/hello-lambda/bootstrap.zip"
[[ -f "$base_zip" ]] || { echo "missing $base_zip: run without BUILD=0" >&2; exit 1; }
base=$(size "$base_zip")
printf '%-20s %10s %12s %12s\n' binary "zip MB" "bootstrap MB" "x hello zip"
for b in hello-lambda $FUNCTIONS; do
  z="$OUT/$b/bootstrap.zip"
  [[ -f "$z" ]] || { echo "missing $z" >&2; exit 1; }
  s=$(size "$z")
  printf '%-20s %10.2f %12.2f %12.2f\n' "$b" "$(bc -l <<<"$s/1000000")" \
    "$(bc -l <<<"$(unzipped "$z")/1000000")" "$(bc -l <<<"$s/$base")"
done
echo "(MB = 10^6 bytes; zips as cargo lambda builds them for Lambda, $TRIPLE)"
