#!/usr/bin/env bash
# CTest fixture: starts a private PostgreSQL server for the storage tests and stops it.
#   pg_fixture.sh start STATE_DIR   -> STATE_DIR/conninfo holds a libpq conninfo
#   pg_fixture.sh stop STATE_DIR
# PG_FIXTURE_DATA=DIR keeps the cluster in DIR instead of a throw-away /tmp tree: start reuses
# DIR/data if it exists (initdb otherwise) and stop leaves it in place. The storage benchmark
# uses it so a loaded index can be measured again without loading it again.
# PG_FIXTURE_OPTS adds server options (e.g. "-c shared_buffers=6GB -c
# shared_preload_libraries=pg_prewarm" for the benchmark's restart runs); with pg_prewarm loaded and
# a block list saved by the previous stop, start waits until autoprewarm has read it back.
# The server listens on 127.0.0.1 on a free port, keeps its socket in its own data tree and
# trusts local connections (a throw-away test server). As root (CI), initdb and pg_ctl run as
# the `postgres` user, as PostgreSQL refuses to run as root.
set -euo pipefail
cmd=${1:?start|stop}
state=${2:?state dir}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/pg_ctl" ] || { echo "pg_fixture: PostgreSQL server binaries not found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_server() {
  if [ -f "$state/datadir" ]; then
    local d; d=$(cat "$state/datadir")
    if [ -d "$d/data" ]; then as_pg "$bindir/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    if [ ! -f "$state/keep" ]; then rm -rf "$d"; fi
    rm -f "$state/datadir" "$state/conninfo" "$state/keep"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$state"
    stop_server  # a server left over from an interrupted run
    if [ -n "${PG_FIXTURE_DATA:-}" ]; then
      mkdir -p "$PG_FIXTURE_DATA"
      tmp=$(cd "$PG_FIXTURE_DATA" && pwd)
      touch "$state/keep"
    else
      tmp=$(mktemp -d /tmp/sharpeyes-pg-XXXXXX)
    fi
    echo "$tmp" > "$state/datadir"
    user=$(id -un)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$tmp"; user=postgres; fi
    if [ ! -d "$tmp/data" ]; then
      as_pg "$bindir/initdb" -D "$tmp/data" -U "$user" --auth=trust -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 \
        || { cat "$tmp/initdb.log" >&2; exit 1; }
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # fsync=off by default: a test server's durability is irrelevant and fsync is slow on CI
    # disks; the benchmark sets PG_FIXTURE_FSYNC=on to compare like with like.
    logged=0  # pg_ctl -l appends: only lines after these count
    if [ -f "$tmp/server.log" ]; then logged=$(wc -l <"$tmp/server.log"); fi
    as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=${PG_FIXTURE_FSYNC:-off} -c max_connections=200 ${PG_FIXTURE_OPTS:-}" start >/dev/null \
      || { cat "$tmp/server.log" >&2; exit 1; }
    if [ -f "$tmp/data/autoprewarm.blocks" ] && [[ "${PG_FIXTURE_OPTS:-}" == *pg_prewarm* ]]; then
      # autoprewarm reads the saved blocks in background workers and logs one line when done; wait
      # for it (bounded) so that a measurement starts with the cache it restored.
      prewarmed() { tail -n +"$((logged + 1))" "$tmp/server.log" | grep "autoprewarm successfully prewarmed"; }
      for _ in $(seq 1 600); do
        prewarmed >/dev/null && break
        sleep 1
      done
      prewarmed || echo "pg_fixture: autoprewarm did not finish in 600 s" >&2
    fi
    echo "host=127.0.0.1 port=$port user=$user" > "$state/conninfo"
    echo "pg_fixture: PostgreSQL on 127.0.0.1:$port ($tmp)"
    ;;
  stop)
    stop_server
    ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
