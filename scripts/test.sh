#!/usr/bin/env bash
# The README's second command: lint, type-check and run every test against a
# real SQLite file, the PostgreSQL at RPA_TEST_POSTGRES_URL (default the local
# server) and a real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
echo "==> ruff";  .venv/bin/ruff check .
echo "==> mypy";  .venv/bin/mypy
echo "==> pytest"
.venv/bin/pytest "$@"
