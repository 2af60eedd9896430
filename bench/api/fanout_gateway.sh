#!/usr/bin/env bash
# bench/api: WebSocket fan-out of live alerts on the real gateway. `sharpeyes gateway` with its
# SQLite index seeded (EVENTS events, one alert per 20; cameras listed but disabled: the API,
# storage and the push are measured, not ingest); api_fanout_bench accepts alerts over REST, the
# gateway stores each step and pushes it on /ws/events; 1 client (baseline) then CLIENTS clients,
# in the same run on the same server.
#   bash bench/api/fanout_gateway.sh [BUILD_DIR] [BENCH_BUILD_DIR] [CLIENTS] [MESSAGES]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
bench="${2:-$root/build-bench}"
clients="${3:-100}"
messages="${4:-300}"
bin="$build/app/sharpeyes"
seed="$bench/bench/api/api_seed_events"
fanout="$bench/bench/api/api_fanout_bench"
[ -x "$bin" ] && [ -x "$seed" ] && [ -x "$fanout" ] ||
  { echo "build sharpeyes, api_seed_events and api_fanout_bench first" >&2; exit 2; }

work=$(mktemp -d)
pid=0
trap '[ $pid = 0 ] || { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }; rm -rf "$work"' EXIT
# Enough new alerts for both runs (the listing returns at most 1000).
"$seed" "$work/data" $((messages * 2 * 20 + 20)) 64 >/dev/null
{
  echo "gateway: {id: gw-bench, division: \"510603101000\", data_dir: $work/data, http: {address: 127.0.0.1, port: 0}}"
  echo "storage: {event_clips: false}"
  echo "api: {threads: 4}"
  echo "cameras:"
  for i in $(seq 0 63); do
    printf '  - {id: cam%03d, division: "5106031012%02d", main: "rtsp://127.0.0.1:9/x", enabled: false}\n' "$i" $((1 + i % 4))
  done
} >"$work/gw.yaml"
SHARPEYES_ADMIN_PASSWORD=bench-admin-1 "$bin" gateway --config "$work/gw.yaml" 2>"$work/gw.log" &
pid=$!
for _ in $(seq 300); do grep -q "listening on" "$work/gw.log" && break; sleep 0.1; done
port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$work/gw.log" | head -1)
[ -n "$port" ] || { echo "gateway did not start:" >&2; tail -20 "$work/gw.log" >&2; exit 1; }
token=$(curl -s -X POST "http://127.0.0.1:$port/api/login" -H 'Content-Type: application/json' \
          -d '{"user":"admin","password":"bench-admin-1"}' | sed -E 's/.*"token":"([0-9a-f]+)".*/\1/')
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
SHARPEYES_TOKEN=$token "$fanout" --gateway "$port" "$clients" "$messages"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
