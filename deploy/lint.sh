#!/usr/bin/env bash
# clang-format check over the project's C++ sources (--fix rewrites them).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cpp' '*.h' | grep -vE '^(build|onvif/gsoap/|web/)')
[ ${#files[@]} -gt 0 ] || exit 0
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/sharpeyes-format.log; then
  echo "lint: clang-format differences (run 'make format'):" >&2
  grep -E '^[^ ].*: (error|warning)' /tmp/sharpeyes-format.log | cut -d: -f1 | sort -u >&2
  exit 1
fi
echo "lint: clang-format clean (${#files[@]} files)"
