# shellcheck shell=bash
# Sourced by bench/api/gateway.sh and bench/api/fanout_gateway.sh: the real `sharpeyes gateway` as
# both benchmark it, on a data directory the caller seeded with api_seed_events (64 cameras).

gw_pid=0
# Set by bench_gateway_start, read by the sourcing script.
# shellcheck disable=SC2034
gw_port="" gw_token=""

# bench_gateway_start BIN WORK: 64 cameras listed but disabled (the API, storage and the push are
# measured, not ingest), data in WORK/data; sets gw_port and gw_token (the admin's), and gw_pid
# for bench_gateway_stop. Exits 1 when the gateway never listens.
bench_gateway_start() {
  local bin=$1 work=$2
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
  gw_pid=$!
  for _ in $(seq 300); do grep -q "listening on" "$work/gw.log" && break; sleep 0.1; done
  gw_port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$work/gw.log" | head -1)
  [ -n "$gw_port" ] || { echo "gateway did not start:" >&2; tail -20 "$work/gw.log" >&2; exit 1; }
  # shellcheck disable=SC2034
  gw_token=$(curl -s -X POST "http://127.0.0.1:$gw_port/api/login" -H 'Content-Type: application/json' \
               -d '{"user":"admin","password":"bench-admin-1"}' | sed -E 's/.*"token":"([0-9a-f]+)".*/\1/')
}

# For the caller's EXIT trap: stops the gateway if it was started.
bench_gateway_stop() {
  [ "$gw_pid" = 0 ] || { kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null; } || true
}
