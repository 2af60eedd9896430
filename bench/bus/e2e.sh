#!/usr/bin/env bash
# End to end, from the frame in which an object crosses a tripwire to the alert stored at the
# county centre, with the real pieces as processes on loopback:
#   sharpeyes sim (3 cameras) -> sharpeyes gateway (tripwire on every camera, bus) -> village
#   centre -> township centre -> county centre (CURVE on every link).
# For every tripwire event stored at the county: received_us (the county's storing transaction)
# minus the wall time at which the simulator was due to send the crossing frame. The crossing
# frames come from the scenes' ground truth (e2e_truth), their wall times from the simulator's
# "feed /camNN/sub frame 0 due at unix_us T" log line (frame n is due at T + n / 25 s; the feeder
# pushes it within its 10 ms tick of that). Each event (its "start" phase; the "end" phase that
# follows with the clip is not counted) is matched to the latest crossing of the same camera and
# object class at or before its own frame time (+150 ms).
#
#   bench/bus/e2e.sh BUILD_DIR [SECONDS=200]
# Needs BUILD_DIR/app/sharpeyes and BUILD_DIR/bench/bus/e2e_truth; python3. Prints p50/p99/max.
set -euo pipefail
build="$(cd "${1:?usage: e2e.sh BUILD_DIR [SECONDS]}" && pwd)"
secs="${2:-200}"
bin="$build/app/sharpeyes"
truth="$build/bench/bus/e2e_truth"
cams=3
cache="$build/e2e-sim-cache"
work="$(mktemp -d /tmp/sharpeyes-e2e.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
mkdir -p "$cache"

for n in gw village township county; do "$bin" keys gen --out "$work/$n" >/dev/null; done
echo "gw-e2e $(cat "$work/gw.pub")" >"$work/village.allow"
echo "village $(cat "$work/village.pub")" >"$work/township.allow"
echo "township $(cat "$work/township.pub")" >"$work/county.allow"

wait_for() {  # wait_for FILE-or-pattern-command SECONDS
  local i=0
  until eval "$1"; do
    i=$((i + 1))
    if [ "$i" -gt $(($2 * 10)) ]; then echo "e2e: timed out waiting for: $1" >&2; exit 1; fi
    sleep 0.1
  done
}
ep() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

centre() {  # centre NAME LEVEL DIVISION [UPSTREAM]
  local args=(center --level "$2" --division "$3" --name "$1" --data "$work/$1"
    --key "$work/$1.key" --allow "$work/$1.allow" --bind-events tcp://127.0.0.1:0
    --bind-clips tcp://127.0.0.1:0 --bind-pub tcp://127.0.0.1:0 --ready-file "$work/$1.ready")
  if [ -n "${4:-}" ]; then
    args+=(--upstream "$(ep "$work/$4.ready" events)" --upstream-clips "$(ep "$work/$4.ready" clips)"
      --upstream-key "$work/$4.pub")
  fi
  "$bin" "${args[@]}" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
  wait_for "[ -s '$work/$1.ready' ]" 30
}
centre county county 510603000000
centre township township 510603101000 county
centre village village 510603101201 township

# The simulator: 3 cameras showing one 10 s scene (the same as the gateway tests, so a cache of
# theirs can be copied into $cache).
"$bin" sim --cameras "$cams" --scenes 1 --loop-seconds 10 --seed 1 --port 0 --control-port 0 \
  --cache-dir "$cache" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
wait_for "grep -q 'serving .* on rtsp://' '$work/sim.err'" 600
rtsp="$(grep -o 'rtsp://[0-9.]*:[0-9]*/' "$work/sim.err" | head -1)"

{
  echo "gateway:"
  echo "  id: gw-e2e"
  echo "  division: \"510603101000\""
  echo "  data_dir: $work/gw"
  echo "  http: {address: 127.0.0.1, port: 0}"
  echo "defaults:"
  echo "  recording: {segment_length: 2s}"
  echo "  feed: {enabled: false, width: 640, height: 360, fps: 5}"
  echo "  analytics:"
  echo "    rules:"
  echo "      - {name: line, type: tripwire, line: [[0.5, 0.0], [0.5, 1.0]], direction: both, severity: 3}"
  echo "cameras:"
  for i in $(seq 1 "$cams"); do
    c="$(printf 'cam%02d' "$i")"
    echo "  - {id: $c, division: \"510603101201\", main: ${rtsp}$c/main, sub: ${rtsp}$c/sub}"
  done
  echo "bus:"
  echo "  upstream: $(ep "$work/village.ready" events)"
  echo "  upstream_key: $work/village.pub"
  echo "  key: $work/gw.key"
} >"$work/gateway.yaml"
SHARPEYES_ADMIN_PASSWORD="e2e-$RANDOM$RANDOM" "$bin" gateway --config "$work/gateway.yaml" \
  >"$work/gw.out" 2>"$work/gw.err" &
gw=$!
pids+=("$gw")
echo "e2e: running ${secs} s (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
sleep "$secs"  # the measurement window: events accumulate at the county meanwhile
kill "$gw"
wait "$gw" 2>/dev/null || true
sleep 3  # what the gateway published before it stopped reaches the county (milliseconds)

"$truth" --cameras "$cams" --scenes 1 --loop-seconds 10 --seed 1 >"$work/truth.txt"
python3 - "$work" <<'EOF'
import json, re, sqlite3, sys
work = sys.argv[1]
fps, loop_frames = 25, 250
t0 = {}  # camera -> unix us at which frame 0 of its sub stream was due
for line in open(f"{work}/sim.err"):
    m = re.search(r"feed /(cam\d+)/sub frame 0 due at unix_us (\d+)", line)
    if m:
        t0[m.group(1)] = int(m.group(2))  # the last one: a reconnect restarts from frame 0
truth = {}
for line in open(f"{work}/truth.txt"):
    cam, frame, _obj, kind, _dir = line.split()
    truth.setdefault(cam, []).append((int(frame), kind))
def stored(centre):  # event id -> received_us of its "start" phase at that centre
    db = sqlite3.connect(f"{work}/{centre}/center.db")
    out = {}
    for payload, us in db.execute("SELECT payload, received_us FROM received"):
        e = json.loads(payload)
        if e.get("type") == "tripwire" and e.get("phase", "start") == "start":
            out[e["id"]] = (e, us)
    return out
village = stored("village")
lat, offsets, at_village, unmatched = [], [], [], 0
for e, stored_us in stored("county").values():
    if e["camera"] not in t0:
        continue
    cam, start = e["camera"], e["start_us"]
    kind = e.get("object", "")
    # Latest crossing of this camera (and class, when the detector named one the sim knows) due
    # at or before the event's frame time + 150 ms.
    n_now = (start + 150_000 - t0[cam]) * fps // 1_000_000
    best = None
    for loop in (n_now // loop_frames, n_now // loop_frames - 1):
        for frame, k in truth.get(cam, []):
            n = loop * loop_frames + frame
            if n > n_now or n < 0 or (kind in ("person", "vehicle") and k != kind):
                continue
            if best is None or n > best:
                best = n
    if best is None:
        unmatched += 1
        continue
    crossing_us = t0[cam] + best * 1_000_000 // fps
    if start - crossing_us > 2_000_000:  # nothing within 2 s before it: not a scripted crossing
        unmatched += 1
        continue
    lat.append((stored_us - crossing_us) / 1000)
    offsets.append((start - crossing_us) / 1000)
    at_village.append((village[e["id"]][1] - crossing_us) / 1000 if e["id"] in village else None)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1)))] if v else float("nan")
print(f"tripwire events stored at the county and matched to a crossing frame: {len(lat)} "
      f"(unmatched {unmatched})")
print(f"crossing frame due at the sim -> stored at the county (ms): p50 {pct(lat, .5):.0f} "
      f"p99 {pct(lat, .99):.0f} max {max(lat, default=float('nan')):.0f}")
print(f"  of which crossing frame -> the event's own frame time at the gateway (ms): "
      f"p50 {pct(offsets, .5):.0f} p99 {pct(offsets, .99):.0f} max {max(offsets, default=float('nan')):.0f}")
def show(what, v):
    print(f"  {what} (ms): p50 {pct(v, .5):.0f} p99 {pct(v, .99):.0f} "
          f"max {max(v, default=float('nan')):.0f}")
show("event frame time -> stored at the village (analytics' confirmation, gateway, 1 hop)",
     [v - o for v, o in zip(at_village, offsets) if v is not None])
show("stored at the village -> stored at the county (2 hops)",
     [l - v for l, v in zip(lat, at_village) if v is not None])
EOF
echo "e2e: load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
