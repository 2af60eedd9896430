#!/usr/bin/env bash
# bench/ingest end to end: `sharpeyes sim` with N cameras and `sharpeyes gateway` recording all of
# them (main streams, 10 s segments, no analytics) on the same machine, then what the index says:
# segments, joins, gaps and overlaps over 40 ms (one frame interval), and the gateway's CPU per
# stream-second, RSS per camera and stop time.
#
# The simulator stands in for N cameras that in the field are N other machines: it runs at
# normal priority and the gateway at `nice 10`, so when the two share too few cores it is the
# gateway (the thing measured) that waits, not the "cameras". A starved simulator skips ahead
# and makes real gaps in what it sends, which would be charged to the gateway.
#   bash bench/ingest/end_to_end.sh [CAMERAS] [SECONDS] [READER] [BUILD_DIR]
#   READER: native (default) or rtspsrc
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cameras="${1:-200}"
seconds="${2:-240}"
reader="${3:-native}"
build="${4:-$root/build}"
bin="$build/app/sharpeyes"
[ -x "$bin" ] || { echo "build sharpeyes first ($bin)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing (apt-get install sqlite3)" >&2; exit 2; }

work=$(mktemp -d)
sim_pid=""
gw_pid=""
cleanup() {
  if [ -n "$gw_pid" ]; then kill "$gw_pid" 2>/dev/null || true; fi
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rtsp_port=$(free_port)
http_port=$(free_port)
name() { if [ "$cameras" -lt 100 ]; then printf 'cam%02d' "$1"; else printf 'cam%03d' "$1"; fi; }

{
  echo "gateway:"
  echo "  id: gw-bench"
  echo "  division: \"510603101000\""
  echo "  data_dir: $work/data"
  echo "  http: {address: 127.0.0.1, port: $http_port}"
  echo "defaults:"
  echo "  transport: tcp"
  echo "  reader: $reader"
  echo "  recording: {enabled: true, segment_length: 10s}"
  echo "  feed: {enabled: false}"
  echo "cameras:"
  for i in $(seq 1 "$cameras"); do
    c=$(name "$i")
    echo "  - {id: $c, division: \"510603101201\", main: \"rtsp://127.0.0.1:$rtsp_port/$c/main\"}"
  done
} > "$work/gateway.yaml"

"$bin" sim --cameras "$cameras" --scenes 4 --port "$rtsp_port" --control-port 0 \
  --cache-dir "$root/var/sim-cache" > "$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 600); do grep -q '^ready' "$work/sim.log" && break; sleep 0.5; done
grep -q '^ready' "$work/sim.log" || { echo "the simulator did not start" >&2; tail "$work/sim.log" >&2; exit 1; }

echo "machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$cameras cameras, reader $reader, ${seconds} s measured after a 30 s start"
nice -n 10 "$bin" gateway --config "$work/gateway.yaml" > "$work/gateway.log" 2>&1 &
gw_pid=$!
sleep 30  # every camera connects (16 at a time) and records its first segments
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
sim0=$(ticks "$sim_pid")
gw0=$(ticks "$gw_pid")
sleep "$seconds"
sim1=$(ticks "$sim_pid")
gw1=$(ticks "$gw_pid")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status")
streaming=$(curl -s "http://127.0.0.1:$http_port/metrics" | grep -c 'state="streaming"} 1' || true)
stalls=$(grep -c 'stalled (' "$work/gateway.log" || true)
reconnects=$(grep -c -- '-> reconnecting' "$work/gateway.log" || true)
t0=$(date +%s.%N)
kill -TERM "$gw_pid"
wait "$gw_pid" || true
gw_pid=""
stop_s=$(echo "$(date +%s.%N) - $t0" | bc)

db="$work/data/index.db"
read -r segs cams < <(sqlite3 -separator ' ' "$db" "select count(*), count(distinct camera) from segments")
read -r joins gaps overlaps maxgap < <(sqlite3 -separator ' ' "$db" "
  with s as (select start_us, lag(end_us) over (partition by camera order by start_us) as pend
             from segments)
  select count(*), sum(start_us - pend > 40000), sum(pend - start_us > 40000),
         coalesce(max(abs(start_us - pend)), 0) from s where pend is not null")
files=$(find "$work/data/recordings" -name '*.mp4' | wc -l)
awk -v g=$((gw1 - gw0)) -v s=$((sim1 - sim0)) -v hz="$hz" -v t="$seconds" -v n="$cameras" \
  -v rss="$rss_kb" 'BEGIN {
  printf "gateway:   %.2f cores, %.5f CPU-s per stream-second, RSS %.2f MiB per camera\n",
         g / hz / t, g / hz / t / n, rss / 1024 / n
  printf "simulator: %.2f cores\n", s / hz / t }'
echo "streaming at the end: $streaming/$cameras; stalls $stalls, reconnects $reconnects"
echo "segments: $segs rows for $cams cameras, $files files; joins $joins, gaps > 40 ms: ${gaps:-0}, overlaps > 40 ms: ${overlaps:-0}, largest |join| ${maxgap} us"
echo "gateway stop (SIGTERM to exit): ${stop_s} s"
