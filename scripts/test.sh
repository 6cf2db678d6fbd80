#!/usr/bin/env bash
# The README's second command: lint, type-check and run every test against a
# real SQLite file, the PostgreSQL at RPA_TEST_POSTGRES_URL (default the local
# server) and a real headless Chromium.
#
# Each test file runs in a pytest process of its own: the end-to-end files
# start and SIGKILL workers, browsers and servers, and one file's leftovers
# must not decide another's result. Extra arguments go to every pytest run;
# with arguments that name tests, a single run is made instead.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
echo "==> ruff";  .venv/bin/ruff check . || exit 1
echo "==> mypy";  .venv/bin/mypy || exit 1
echo "==> pytest"
for arg in "$@"; do
  case "$arg" in tests*|*::*) exec .venv/bin/pytest "$@";; esac
done
passed=0; failed=0; bad=()
for file in $(find tests -name 'test_*.py' | sort); do
  out=$(.venv/bin/pytest "$file" -p no:randomly "$@" 2>&1); code=$?
  summary=$(printf '%s\n' "$out" | tail -n 1)
  echo "$file: $summary"
  p=$(printf '%s' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(printf '%s' "$summary" | grep -oE '[0-9]+ (failed|error)' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$code" != 0 ]; then
    bad+=("$file"); printf '%s\n' "$out" | tail -n 60
    [ "${f:-0}" = 0 ] && failed=$((failed + 1))
  fi
done
[ ${#bad[@]} = 0 ] || echo "failing files: ${bad[*]}"
echo "${passed} passed, ${failed} failed"
[ ${#bad[@]} = 0 ]
