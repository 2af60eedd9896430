#!/usr/bin/env bash
# bench/live in the browser: glass-to-glass latency of the operators' page's live view (grid tile
# on the sub stream, enlarged tile on the main stream) in Debian's headless chromium, on the real
# gateway and `sharpeyes sim --ptz 1 --stamp-clock` (web/bench/glass_to_glass.mjs says how).
# Baseline in the same run: the page of git revision BASELINE_REV (default: none), served from a
# directory through the gateway's api.web_root, e.g. the player before a change.
#   bash bench/live/browser.sh [BUILD_DIR] [SECONDS] [BASELINE_REV]
# OUT=DIR keeps the logs, screenshots and results.json there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-30}"
rev="${3:-}"
bin="$build/app/sharpeyes"
[ -x "$bin" ] || { echo "build sharpeyes first ($bin)" >&2; exit 2; }
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || { echo "chromium is missing (apt-get install chromium)" >&2; exit 2; }
if [ ! -d "$root/web/node_modules/playwright-core" ]; then
  (cd "$root/web" && npm ci --no-audit --no-fund --ignore-scripts)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
extra=()
if [ -n "$rev" ]; then
  mkdir -p "$work/baseline"
  git -C "$root" archive "$rev" web/dist | tar -x -C "$work/baseline"
  extra=(--baseline "$work/baseline/web/dist")
fi
node "$root/web/bench/glass_to_glass.mjs" --bin "$bin" --seconds "$seconds" --out "${OUT:-$work/out}" \
  --cache "${SHARPEYES_SIM_CACHE:-$root/var/sim-cache}" "${extra[@]}"
