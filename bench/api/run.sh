#!/usr/bin/env bash
# bench/api: API p99 under wrk at ~500 req/s (event search vs. the /healthz baseline on the same
# server, in the same run) and WebSocket fan-out to 100 clients.
#   bash bench/api/run.sh [build-dir]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
server="$build/tests/api/api_test_server"
fanout="$build/bench/api/api_fanout_bench"
[ -x "$server" ] && [ -x "$fanout" ] || { echo "build api_test_server and api_fanout_bench first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }

log=$(mktemp)
"$server" --no-live --threads 2 >"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 600); do grep -q LISTENING "$log" && break; sleep 0.1; done
port=$(awk '/LISTENING/{print $2}' "$log")
token=$(curl -s -X POST "http://127.0.0.1:$port/api/login" -d '{"user":"op","password":"operator-pass"}' |
        sed -E 's/.*"token":"([0-9a-f]+)".*/\1/')
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for p in "/healthz" "/api/events?limit=50" "/api/alerts?open=true" "/api/cameras"; do
  # 10 connections x 1 request per 20 ms = 500 req/s target.
  SHARPEYES_TOKEN=$token SHARPEYES_PATH=$p SHARPEYES_DELAY_MS=20 \
    wrk -t2 -c10 -d20s -s "$root/bench/api/events.lua" "http://127.0.0.1:$port" | grep RESULT
done
"$fanout" 100 300
