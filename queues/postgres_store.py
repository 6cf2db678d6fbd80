"""The store on PostgreSQL.

A claim selects its candidates `FOR UPDATE SKIP LOCKED` inside the same
statement that leases them, so concurrent claimers pass each other by instead
of queueing on the same rows. Enqueues, retries and releases `NOTIFY` the
channel `rpa_work`; idle workers `LISTEN` on a connection of their own and
wake within milliseconds instead of polling.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import sqlalchemy as sa

from queues.engine import wrapped_errors
from queues.leadership import Leadership
from queues.postgres_leadership import PostgresLeadership
from queues.sql_store import SqlStore

CHANNEL = "rpa_work"


class PostgresStore(SqlStore):
    """PostgreSQL implementation: SKIP LOCKED claims, LISTEN/NOTIFY wake-ups."""

    _listener: psycopg.Connection[Any] | None = None

    def _expired_candidates(self, now: float) -> sa.Select[Any]:
        return super()._expired_candidates(now).with_for_update(skip_locked=True)

    def leadership(self) -> Leadership:
        return PostgresLeadership(self.engine.url)

    notify_channel = CHANNEL

    def _notify(self, conn: sa.Connection, queue_id: int) -> None:
        # on the DBAPI cursor, so that the hot path (a bare connection) can notify too
        cur = conn.connection.cursor()
        try:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(queue_id)))
        finally:
            cur.close()

    def _listen(self) -> psycopg.Connection[Any]:
        if self._listener is None or self._listener.closed:
            url = self.engine.url.set(drivername="postgresql")
            dsn = url.render_as_string(hide_password=False)
            self._listener = psycopg.connect(dsn, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def wait_for_work(self, timeout: float) -> bool:
        """Wait for a NOTIFY; a broken listener (a restarted server) is dropped and the
        error given as StoreError, which the worker rides out with backoff."""
        with wrapped_errors("wait for work"):
            try:
                listener = self._listen()
                for _ in listener.notifies(timeout=timeout, stop_after=1):
                    return True
            except psycopg.Error:
                self._drop_listener()
                raise
        return False

    def _drop_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        super().close()
