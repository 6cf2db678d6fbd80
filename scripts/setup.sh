#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtualenv with the project and its
# tools, and a Chromium for the bots (Debian's package where none is found).
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> installing the locked dependencies (requirements/dev.lock), then the project"
.venv/bin/python -m pip install --quiet --upgrade pip
# Every runtime and dev dependency at the exact version and hash of the lock, so two
# installs lint, type-check and test alike; scripts/lock.sh re-pins after pyproject edits.
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/dev.lock
.venv/bin/python -m pip install --quiet --no-deps -e .

have_browser() {
  [ -n "${RPA_BROWSER_PATH:-}" ] && [ -x "${RPA_BROWSER_PATH}" ] && return 0
  for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! have_browser; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "==> installing Debian's chromium for the bots"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! no Chromium found: install one (apt-get install chromium) or set RPA_BROWSER_PATH" >&2
  fi
fi
# A virtual screen, for `rpa bot run --headed` on a machine without one (and its test).
if ! command -v xvfb-run >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  echo "==> installing Debian's xvfb (a virtual screen for headed runs)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null; }
fi
echo "==> ready: .venv/bin/rpa"
