#!/usr/bin/env bash
# The README's second command: lint, type-check and run every test against a
# real SQLite file, the PostgreSQL at RPA_TEST_POSTGRES_URL (default the local
# server) and a real headless Chromium.
#
# Each test file runs in a pytest process of its own: the end-to-end files
# start and SIGKILL workers, browsers and servers, and one file's leftovers
# must not decide another's result. Extra arguments go to every pytest run;
# with arguments that name tests, a single run is made instead.
#
# Two phases, for time: first the unit, contract, integration, web and CLI files,
# two at a time (RPA_TEST_LANES, default 2: one per core here); then the
# end-to-end files at the top of tests/e2e one by one with the machine to
# themselves, because they measure fail-over bounds, leases and latencies in
# wall-clock seconds that a neighbour's load would stretch.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
echo "==> ruff";  .venv/bin/ruff check . || exit 1
echo "==> mypy";  .venv/bin/mypy || exit 1
echo "==> pytest"
for arg in "$@"; do
  case "$arg" in tests*|*::*) exec .venv/bin/pytest "$@";; esac
done

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# Where a file's output and exit code are kept: $results/<path with / as _>.
result_of() { printf '%s/%s' "$results" "$(printf '%s' "$1" | tr '/' '_')"; }

# One file: its summary line on stdout, its exit code and full output kept for the tally.
run_file() {
  local file=$1; shift
  local kept out code
  kept=$(result_of "$file")
  out=$(.venv/bin/pytest "$file" -p no:randomly "$@" 2>&1); code=$?
  printf '%s\n' "$out" > "$kept.out"
  echo "$code" > "$kept.code"
  echo "$file: $(printf '%s\n' "$out" | tail -n 1)"
}
export -f result_of run_file
export results

shared=$(find tests -name 'test_*.py' ! -path 'tests/e2e/test_*' | sort)
alone=$(find tests/e2e -maxdepth 1 -name 'test_*.py' | sort)
printf '%s\n' $shared | xargs -P "${RPA_TEST_LANES:-2}" -I{} bash -c 'run_file "$@"' _ {} "$@"
for file in $alone; do run_file "$file" "$@"; done

passed=0; failed=0; bad=()
for file in $shared $alone; do
  kept=$(result_of "$file")
  code=$(cat "$kept.code" 2>/dev/null || echo 1)
  summary=$(tail -n 1 "$kept.out" 2>/dev/null)
  p=$(printf '%s' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(printf '%s' "$summary" | grep -oE '[0-9]+ (failed|error)' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$code" != 0 ]; then
    bad+=("$file"); echo "==> $file"; tail -n 60 "$kept.out"
    [ "${f:-0}" = 0 ] && failed=$((failed + 1))
  fi
done
[ ${#bad[@]} = 0 ] || echo "failing files: ${bad[*]}"
echo "${passed} passed, ${failed} failed"
[ ${#bad[@]} = 0 ]
