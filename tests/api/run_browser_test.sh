#!/usr/bin/env bash
# Runs web/tests/browser.test.mjs against api_test_server. Installs playwright-core from the
# committed lock file when web/node_modules is missing (npm registry only; the browser is
# Debian's /usr/bin/chromium, installed by deploy/install-deps.sh).
set -euo pipefail
server="$1"; out="$2"
web="$(cd "$(dirname "$0")/../../web" && pwd)"
if [ ! -d "$web/node_modules/playwright-core" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts)
fi
mkdir -p "$out"
exec node "$web/tests/browser.test.mjs" --server "$server" --out "$out"
