#!/usr/bin/env bash
# The README's first command: set up, then run the main job on the embedded
# default (a SQLite file, local Chromium, the bundled demo targets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export RPA_DATA_DIR=${RPA_DATA_DIR:-$PWD/rpa-data}
if .venv/bin/rpa demo --help >/dev/null 2>&1; then
  exec .venv/bin/rpa demo --fresh "$@"
fi
# Until the bots land: initialise, register the example processes, queue the
# sample invoices and show the queues.
.venv/bin/rpa init
.venv/bin/rpa process register config/processes
.venv/bin/rpa enqueue invoice-approval --file config/samples/invoices-small.csv
.venv/bin/rpa status
