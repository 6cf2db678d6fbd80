"""The scheduler's lock on PostgreSQL: a session advisory lock.

The leader holds `pg_try_advisory_lock` on a connection of its own, kept open
while it leads. The server releases the lock the moment that session ends, so
a leader that crashes, is killed or loses its network hands over without
anyone having to notice a timeout; the followers simply try again every few
seconds. A leader checks its connection on the same beat and steps down when
it broke (it may no longer hold the lock).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import psycopg
import sqlalchemy as sa
import structlog

log = structlog.get_logger("scheduler.leader")
LOCK_NAME = "rpa-orchestrator:scheduler-leader"
# pg advisory locks take a signed 64-bit key: derive a stable one from a name
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


class PostgresLeadership:
    """A session advisory lock on a dedicated autocommit connection."""

    def __init__(self, url: sa.URL | str, key: int = LOCK_KEY, connect_timeout: float = 5.0):
        parsed = sa.make_url(url).set(drivername="postgresql")
        self.dsn = parsed.render_as_string(hide_password=False)
        self.key = key
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self.held = False

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True,
                                         connect_timeout=int(self.connect_timeout),
                                         application_name="rpa-scheduler-election")
        return self._conn

    def try_acquire(self) -> bool:
        if self.held:
            return self.still_held()
        try:
            row = self._connection().execute("SELECT pg_try_advisory_lock(%s)",
                                              (self.key,)).fetchone()
        except psycopg.Error as err:
            log.warning("leader.election_failed", error=str(err).strip())
            self._drop()
            return False
        self.held = bool(row and row[0])
        return self.held

    def still_held(self) -> bool:
        if not self.held:
            return False
        try:
            # this session takes no other advisory lock: any granted one is ours
            row = self._connection().execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid()").fetchone()
        except psycopg.Error as err:
            log.warning("leader.connection_lost", error=str(err).strip())
            self._drop()
            return False
        self.held = bool(row and row[0])
        return self.held

    def _drop(self) -> None:
        self.held = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def release(self) -> None:
        if self.held and self._conn is not None and not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._drop()
