"""Transactions for the hot path on a bare DBAPI connection, without SQLAlchemy.

A claim or a complete is a few precompiled statements (`statements`); around them,
SQLAlchemy's connection checkout, `begin` and `commit` cost ~150 µs per
transaction, as much as SQLite spends on the statements. So each thread that
runs the hot path keeps one pooled DBAPI connection checked out and drives the
transaction itself: `BEGIN IMMEDIATE` on SQLite (the single-writer claim),
`BEGIN` on PostgreSQL, whose connection stays in autocommit so that a
single-statement transition (a claim) is one round trip and one commit.

The hot path never needs more than `connection.cursor()`. When it does (a
snapshot not cached yet, an error whose reason must be looked up), the
`HotConnection` raises `NeedsFullPath`, the transaction rolls back, and the
caller runs the same operation again on the SQLAlchemy path.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa


class NeedsFullPath(Exception):
    """The hot path met something only the SQLAlchemy path does; nothing was written."""


class _KeptPgCursor(psycopg.Cursor[Any]):
    """A cursor that outlives `close()`: the hot path's statements share it."""

    def close(self) -> None:
        """Kept open for the next statement; it goes with its connection."""


class _KeptSqliteCursor(sqlite3.Cursor):
    """A cursor that outlives `close()`: the hot path's statements share it."""

    def close(self) -> None:
        """Kept open for the next statement; it goes with its connection."""


class _OneCursor:
    """What `HotConnection.connection` is: `.cursor()` hands out the thread's one cursor.

    Why: each new cursor went through SQLAlchemy's pool wrapper and psycopg's
    adapter set-up, ~15 µs a statement, a tenth of the Python in a claim and a
    complete. Statements run one after the other on it, never interleaved.
    """

    __slots__ = ("_cursor",)

    def __init__(self, cursor: Any):
        self._cursor = cursor

    def cursor(self) -> Any:
        return self._cursor


class HotConnection:
    """Stands in for `sa.Connection` on the hot path: only `.connection` is there."""

    __slots__ = ("connection",)

    def __init__(self, dbapi: Any):
        self.connection = dbapi

    def __getattr__(self, name: str) -> Any:
        raise NeedsFullPath(name)


class HotConnections:
    """One checked-out DBAPI connection per thread, for the hot path only."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped by `reset`: every thread reconnects on its next use

    def reset(self) -> None:
        """Forget every thread's connection: after the server restarted or cut them all,
        each would otherwise fail once, one claim round at a time."""
        with self._lock:
            self._generation += 1

    def _get(self) -> tuple[Any, _OneCursor]:
        found: tuple[Any, _OneCursor] | None = getattr(self._local, "conn", None)
        if found is not None and getattr(self._local, "generation", 0) != self._generation:
            self._drop(found[0])
            found = None
        if found is None:
            self._local.generation = self._generation
            conn = self.engine.raw_connection()
            driver: Any = conn.driver_connection
            if self.pg:
                driver.autocommit = True
                # Every hot statement is shaped for an index lookup (see `statements`),
                # so its generic plan is the right one; left to choose, the server
                # re-planned the claim on every call (a custom plan each time,
                # because a generic `LIMIT $n` looks costlier than `LIMIT 1`):
                # about a tenth of a claim's server time, for nothing.
                driver.execute("SET plan_cache_mode = force_generic_plan")
                cursor: Any = _KeptPgCursor(driver)
            else:
                cursor = driver.cursor(_KeptSqliteCursor)
            found = self._local.conn = (conn, _OneCursor(cursor))
            with self._lock:
                self._all.append(conn)
        return found

    def _drop(self, conn: Any) -> None:
        """Throw away a connection a driver error may have broken."""
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        with contextlib.suppress(Exception):  # already unusable: nothing more to release
            conn.invalidate()

    @contextmanager
    def transaction(self, *, single_statement: bool = False) -> Iterator[HotConnection]:
        """Commit what the block wrote, or roll it all back.

        `single_statement` (PostgreSQL): the block runs one statement, which
        autocommit makes its own transaction: no BEGIN and COMMIT round trips.
        """
        conn, shared = self._get()
        cur = shared.cursor()
        explicit = not (self.pg and single_statement)
        try:
            if explicit:
                cur.execute("BEGIN" if self.pg else "BEGIN IMMEDIATE")
            try:
                yield HotConnection(shared)
            except BaseException:
                if explicit:
                    cur.execute("ROLLBACK")
                raise
            if explicit:
                cur.execute("COMMIT")
        except (psycopg.Error, sqlite3.Error):
            if self.pg:
                self._drop(conn)
            else:  # (SQLAlchemy's `driver_connection` costs microseconds: only here)
                db: Any = conn.driver_connection
                if db.in_transaction:
                    db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            if self.pg:  # as it was lent: SQLAlchemy's own transactions expect it
                driver: Any = conn.driver_connection
                with contextlib.suppress(psycopg.Error):  # a broken one: the pool drops it
                    driver.execute("RESET plan_cache_mode")
                driver.autocommit = False
            conn.close()
        self._local = threading.local()
