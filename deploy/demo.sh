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

# The county's comprehensive management centre (综治中心) the township gateway reports to, with
# CURVE keys made for this demo (var/demo/keys, mode 0600; never committed).
KEYS=var/demo/keys
mkdir -p "$KEYS" var/demo/centre
chmod 700 "$KEYS"
for name in centre gateway village; do
  [ -f "$KEYS/$name.key" ] || "$BIN" keys gen --out "$KEYS/$name" >/dev/null
done
{
  echo "gw-demo-township $(cat "$KEYS/gateway.pub")"
  echo "village-510603101201 $(cat "$KEYS/village.pub")"
} >"$KEYS/allow.txt"
rm -f var/demo/centre.ready
echo "demo: starting the county centre (510603, events tcp://127.0.0.1:7701)"
"$BIN" center --level county --division 510603000000 --data var/demo/centre \
  --key "$KEYS/centre.key" --allow "$KEYS/allow.txt" --ready-file var/demo/centre.ready \
  >var/log/centre.out 2>var/log/centre.log &
pids+=($!)
for _ in $(seq 1 60); do [ -f var/demo/centre.ready ] && break; sleep 0.5; done
[ -f var/demo/centre.ready ] || { echo "demo: the centre did not start" >&2; tail -20 var/log/centre.log >&2; exit 1; }

# The demo config plus the bus section that points it at the centre.
RUNCONFIG=var/demo/gateway.yaml
{
  cat "$CONFIG"
  echo
  echo "bus:"
  echo "  upstream: tcp://127.0.0.1:7701"
  echo "  upstream_clips: tcp://127.0.0.1:7702"
  echo "  upstream_key: $KEYS/centre.pub"
  echo "  key: $KEYS/gateway.key"
} >"$RUNCONFIG"

echo "demo: starting the gateway with $CONFIG"
"$BIN" gateway --config "$RUNCONFIG" >var/log/gateway.out 2>var/log/gateway.log &
pids+=($!)
wait_for_line var/log/gateway.log "listening" 60

echo
echo "demo: the operators' page:  http://127.0.0.1:8080/"
if [ -f var/demo/initial-admin-password ]; then
  echo "demo:   user admin, password $(cat var/demo/initial-admin-password)  (from var/demo/initial-admin-password)"
fi
echo "demo: metrics: http://127.0.0.1:8080/metrics   API: http://127.0.0.1:8080/openapi.yaml"
echo "demo: a village platform's view of its alerts, in another terminal:"
echo "      $BIN subscribe --center tcp://127.0.0.1:7701 --division 510603101201 \\"
echo "        --key $KEYS/village.key --center-key $KEYS/centre.pub --text"
echo "demo: to see a camera stall and recover, in another terminal:"
echo "      exec 3<>/dev/tcp/127.0.0.1/8555; echo 'fault cam03 stop-sending 8' >&3; head -1 <&3"
echo
"$BIN" status --url http://127.0.0.1:8080 --watch
