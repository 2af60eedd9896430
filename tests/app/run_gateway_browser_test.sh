#!/usr/bin/env bash
# Runs web/tests/gateway.test.mjs: the operators' page in Debian's chromium (playwright-core)
# against the real `sharpeyes gateway` on `sharpeyes sim` cameras. Installs playwright-core from
# the committed lock file when web/node_modules is missing (npm registry only).
# With "live" as 4th argument, runs the live-view check instead: web/bench/glass_to_glass.mjs on a
# camera stamped with its render time, a grid tile and the enlarged view each showing frames
# less than 5 s old (the page keeps up with live; bench/live/browser.sh measures the latency).
#   run_gateway_browser_test.sh <sharpeyes binary> <output dir> <sim cache dir> [live]
set -euo pipefail
bin="$1"; out="$2"; cache="$3"; what="${4:-}"
web="$(cd "$(dirname "$0")/../../web" && pwd)"
if [ ! -d "$web/node_modules/playwright-core" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts)
fi
if [ "$what" = live ]; then
  exec node "$web/bench/glass_to_glass.mjs" --bin "$bin" --out "$out" --cache "$cache" \
    --seconds 8 --warmup 4 --check-ms 5000
fi
exec node "$web/tests/gateway.test.mjs" --bin "$bin" --out "$out" --cache "$cache"
