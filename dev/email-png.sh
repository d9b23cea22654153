#!/usr/bin/env bash
# Renders an email's HTML to PNG with headless Chromium (Debian's `chromium`
# package: apt-get install chromium), as the README's picture was made:
#   make demo && dev/email-png.sh demo-out/emails/<file>.html docs/<name>.png
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: dev/email-png.sh EMAIL.html OUT.png" >&2; exit 2; }
command -v chromium >/dev/null || { echo "needs Chromium: apt-get install chromium" >&2; exit 1; }
html=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network: the flags keep Chromium from calling home on this closed network.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=760,520 \
  --screenshot="$out" "file://$html" 2>/dev/null
echo "wrote $out"
