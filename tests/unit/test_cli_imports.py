"""`rpa --help` must not load the database, queue or bot code: it would cost a second.

The CLI imports those inside the commands that use them; an import at the top of a
`*_cmd.py` module would undo that silently, so this test names what stays unloaded.
"""

from __future__ import annotations

import subprocess
import sys

# Packages `rpa --help` has no use for, and that cost the most to import.
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "psycopg", "httpx", "tenacity", "jsonschema",
         "openpyxl", "playwright", "queues", "bots", "orchestrator.db",
         "orchestrator.settings", "orchestrator.process_config")

PROBE = """\
import contextlib, io, sys
from orchestrator.cli import run
with contextlib.redirect_stdout(io.StringIO()):
    code = run(["--help"])
print(code, *sorted(sys.modules))
"""


def test_help_loads_no_database_queue_or_bot_code() -> None:
    # A fresh interpreter: this one has imported everything already.
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True, timeout=60)
    code, *modules = done.stdout.split()
    assert code == "0"
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == []
