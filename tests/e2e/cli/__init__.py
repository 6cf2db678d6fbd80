"""The `rpa` command end to end, one file per command group: exit codes 0/1/2, JSON output,
whole-or-nothing imports, item transitions and a tamper-evident audit log, on SQLite and
PostgreSQL.

Most cases call `orchestrator.cli.run` in-process for speed; a handful start the real
console script / `python -m orchestrator.cli` to prove the exit codes reach the shell.
The fixtures (`cli`, `db`, `lite`, `ready`, `sh`, ...) come from tests/e2e/conftest.py.
"""
