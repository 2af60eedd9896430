#!/usr/bin/env bash
# Runs web/tests/gateway.test.mjs: the operators' page in Debian's chromium (playwright-core)
# against the real `sharpeyes gateway` on `sharpeyes sim` cameras. Installs playwright-core from
# the committed lock file when web/node_modules is missing (npm registry only).
#   run_gateway_browser_test.sh <sharpeyes binary> <output dir> <sim cache dir>
set -euo pipefail
bin="$1"; out="$2"; cache="$3"
web="$(cd "$(dirname "$0")/../../web" && pwd)"
if [ ! -d "$web/node_modules/playwright-core" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts)
fi
exec node "$web/tests/gateway.test.mjs" --bin "$bin" --out "$out" --cache "$cache"
