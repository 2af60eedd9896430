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

. "$root/bench/api/gateway_lib.sh"
work=$(mktemp -d)
trap 'bench_gateway_stop; rm -rf "$work"' EXIT
# Enough new alerts for both runs (the listing returns at most 1000).
"$seed" "$work/data" $((messages * 2 * 20 + 20)) 64 >/dev/null
bench_gateway_start "$bin" "$work"
port=$gw_port
token=$gw_token
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
SHARPEYES_TOKEN=$token "$fanout" --gateway "$port" "$clients" "$messages"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
