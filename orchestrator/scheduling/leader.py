"""Who runs the scheduler: one leader per database, and a new one when it dies.

On PostgreSQL the leader holds a session advisory lock (`pg_try_advisory_lock`)
on a connection of its own, kept open while it leads. The server releases the
lock the moment that session ends, so a leader that crashes, is killed or
loses its network hands over without anyone having to notice a timeout; the
followers simply try again every few seconds. A leader checks its connection
on the same beat and steps down when it broke (it may no longer hold the lock).

On SQLite one machine holds the file, so there is no cluster to elect from; an
exclusive `flock` on a file beside the database still keeps two `rpa serve`
on the same file from both scheduling. Fires stay exactly-once regardless: the
fires table refuses a second row for the same process and time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol

import psycopg
import sqlalchemy as sa
import structlog

log = structlog.get_logger("scheduler.leader")
LOCK_NAME = "rpa-orchestrator:scheduler-leader"
# pg advisory locks take a signed 64-bit key: derive a stable one from a name
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


class Leadership(Protocol):
    """A lock that at most one node holds at a time."""

    def try_acquire(self) -> bool:
        """Take the lock if free; True if this node holds it now."""

    def still_held(self) -> bool:
        """Whether this node (still) holds the lock; False after a lost connection."""

    def release(self) -> None:
        """Give the lock up (and close what held it)."""


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


class FileLeadership:
    """An exclusive, non-blocking `flock` on a file (SQLite: one file, one scheduler)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        try:
            import fcntl
        except ImportError:  # no flock on this platform: a single node is the leader
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None


def leadership_for(engine: sa.Engine) -> Leadership:
    """The right lock for the store's database."""
    if engine.dialect.name == "postgresql":
        return PostgresLeadership(engine.url)
    database = engine.url.database
    if not database or database == ":memory:":  # a private database: always the leader
        return FileLeadership(Path(tempfile.gettempdir()) / f"rpa-scheduler-{os.getpid()}.lock")
    return FileLeadership(Path(f"{database}.scheduler.lock"))
