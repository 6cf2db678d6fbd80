#!/usr/bin/env bash
# Re-pin every dependency after editing pyproject.toml's dependencies or its dev extra:
# writes requirements/dev.lock (exact versions with hashes, Python 3.11 on Linux x86_64),
# which scripts/setup.sh and CI install from. Commit the lock with the pyproject change.
#   scripts/lock.sh                 # keep today's pins where they still fit
#   scripts/lock.sh --upgrade       # move everything to the newest versions allowed
#   scripts/lock.sh --check         # exit 1 if the lock no longer matches pyproject.toml
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet uv
compile() {
  .venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header -q "$@"
}
if [ "${1:-}" = "--check" ]; then
  fresh=$(mktemp)
  trap 'rm -f "$fresh"' EXIT
  cp requirements/dev.lock "$fresh"
  compile -o "$fresh"  # keeps the current pins; any change means pyproject moved
  if ! diff -q requirements/dev.lock "$fresh" >/dev/null; then
    echo "requirements/dev.lock is out of date: run scripts/lock.sh and commit it" >&2
    exit 1
  fi
  exit 0
fi
compile -o requirements/dev.lock "$@"
echo "==> requirements/dev.lock: $(grep -c '==' requirements/dev.lock) packages pinned"
