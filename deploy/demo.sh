#!/usr/bin/env bash
# `make demo`: simulated cameras + gateway (+ the status table) on this machine, embedded defaults.
# Ctrl-C stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SHARPEYES_BIN:-build/app/sharpeyes}
CONFIG=${SHARPEYES_DEMO_CONFIG:-examples/demo.yaml}
mkdir -p var/demo var/log

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: stopped. Logs in var/log/, recordings and index in var/demo/."
}
trap cleanup INT TERM EXIT

wait_for_line() {  # file pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then echo "demo: timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; exit 1; fi
    sleep 0.5
  done
}

echo "demo: starting the simulator (8 cameras; the first run encodes the scenes once, ~1-2 min)"
"$BIN" sim --cameras 8 --scenes 2 --port 8554 --control-port 8555 --cache-dir var/sim-cache \
  >var/log/sim.out 2>var/log/sim.log &
pids+=($!)
wait_for_line var/log/sim.out "ready" 600

echo "demo: starting the gateway with $CONFIG"
"$BIN" gateway --config "$CONFIG" >var/log/gateway.out 2>var/log/gateway.log &
pids+=($!)
wait_for_line var/log/gateway.log "listening" 60

echo "demo: gateway on http://127.0.0.1:8080  (metrics: /metrics, cameras: /api/cameras)"
echo "demo: to see a camera stall and recover, in another terminal:"
echo "      exec 3<>/dev/tcp/127.0.0.1/8555; echo 'fault cam03 stop-sending 8' >&3; head -1 <&3"
"$BIN" status --url http://127.0.0.1:8080 --watch
