#!/usr/bin/env bash
# bench/api on the real gateway: `sharpeyes gateway` with its SQLite index seeded with EVENTS events
# (and one alert per 20), 64 cameras listed (disabled: the API and storage are measured, not
# ingest), under wrk at ~500 req/s per endpoint; baseline in the same run: /healthz on the same
# server.
#   bash bench/api/gateway.sh [BUILD_DIR] [BENCH_BUILD_DIR] [EVENTS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
bench="${2:-$root/build-bench}"
events="${3:-1000000}"
bin="$build/app/sharpeyes"
seed="$bench/bench/api/api_seed_events"
[ -x "$bin" ] && [ -x "$seed" ] || { echo "build sharpeyes and api_seed_events first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$root/bench/api/gateway_lib.sh"
work=$(mktemp -d)
trap 'bench_gateway_stop; rm -rf "$work"' EXIT
start=$SECONDS
"$seed" "$work/data" "$events" 64
echo "seeded in $((SECONDS - start)) s"
bench_gateway_start "$bin" "$work"
port=$gw_port
token=$gw_token
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), $events events"
for p in "/healthz" "/api/events?limit=50" "/api/events?camera=cam007&limit=50" \
         "/api/events?type=tripwire&min_severity=3&limit=50" "/api/alerts?open=true&limit=50" "/api/cameras"; do
  # 10 connections x 1 request per 20 ms = 500 req/s target.
  SHARPEYES_TOKEN=$token SHARPEYES_PATH=$p SHARPEYES_DELAY_MS=20 \
    wrk -t2 -c10 -d20s -s "$root/bench/api/events.lua" "http://127.0.0.1:$port" | grep RESULT
done
