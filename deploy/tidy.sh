#!/usr/bin/env bash
# clang-tidy (.clang-tidy: bugprone, concurrency, performance) over the modules' sources, using the
# build's compile_commands.json. A file's clean result is cached under its content, every project
# header's content, the check list and its compile command, so an unchanged tree checks in seconds.
# Usage: deploy/tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DB="$BUILD/compile_commands.json"
[ -f "$DB" ] || { echo "tidy: $DB missing (configure first)" >&2; exit 1; }
CACHE=${SHARPEYES_TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sharpeyes-tidy}
mkdir -p "$CACHE"

mapfile -t files < <(git ls-files -- '*/src/*.cpp' | grep -E '^(core|ingest|analytics|onvif|storage|bus|api|sim|app)/')
headers_key=$( (cat .clang-tidy; git ls-files -co --exclude-standard -- '*.h' | sort | xargs cat) | sha256sum | cut -c1-64)

export BUILD CACHE headers_key DB
check_one() {
  local f=$1
  local cmd key
  cmd=$(python3 -c 'import json,sys,os
db=json.load(open(os.environ["DB"]))
p=os.path.abspath(sys.argv[1])
print(next((e.get("command") or " ".join(e["arguments"]) for e in db if os.path.abspath(os.path.join(e["directory"],e["file"]))==p), ""))' "$f")
  if [ -z "$cmd" ]; then return 0; fi  # not compiled in this configuration
  cmd=${cmd//$PWD/@ROOT@}  # the same tree in another checkout hits the same cache entries
  key=$( (echo "$headers_key"; echo "$cmd"; cat "$f") | sha256sum | cut -c1-64)
  [ -f "$CACHE/$key" ] && return 0
  if clang-tidy -p "$BUILD" --quiet "$f" >"$CACHE/$key.log" 2>&1; then
    mv "$CACHE/$key.log" "$CACHE/$key"
  else
    echo "tidy: $f" >&2
    grep -E 'warning:|error:' "$CACHE/$key.log" | head -20 >&2
    rm -f "$CACHE/$key.log"
    return 1
  fi
}
export -f check_one
start=$SECONDS
if printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -I{} bash -c 'check_one "$@"' _ {}; then
  echo "tidy: clean (${#files[@]} files, $((SECONDS - start)) s)"
else
  echo "tidy: problems found (see above)" >&2
  exit 1
fi
