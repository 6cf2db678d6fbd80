"""The store on a SQLite file.

A claim is one short `BEGIN IMMEDIATE` transaction: it holds SQLite's single
write lock while it picks and updates rows, so no two claimers can take the
same item and no row-level locking is needed.

Idle workers poll `PRAGMA data_version`, which changes when another connection
commits: a cheap read of shared memory in WAL mode, not a query of the queue.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from queues.leadership import FileLeadership, Leadership
from queues.sql_store import SqlStore

WAKE_POLL_SECONDS = 0.005


class SqliteStore(SqlStore):
    """SQLite implementation: single-writer claims, data_version wake-ups."""

    _watch: Any = None  # a raw DBAPI connection in autocommit: polling must hold no lock

    def leadership(self) -> Leadership:
        """A `flock` on a file beside the database: two `rpa serve` on one file must not
        both schedule. A private database (`:memory:`) gets a lock file of its own."""
        database = self.engine.url.database
        if not database or database == ":memory:":
            return FileLeadership(Path(tempfile.gettempdir()) / f"rpa-scheduler-{os.getpid()}.lock")
        return FileLeadership(Path(f"{database}.scheduler.lock"))

    def _data_version(self) -> int:
        if self._watch is None:
            self._watch = self.engine.raw_connection()
        cursor = self._watch.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def wait_for_work(self, timeout: float) -> bool:
        start = self._data_version()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(WAKE_POLL_SECONDS)
            if self._data_version() != start:
                return True
        return False

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        super().close()
