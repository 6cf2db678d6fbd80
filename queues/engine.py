"""Engines for the two databases, tuned for a work queue, and error wrapping.

SQLite runs in WAL mode with `synchronous=NORMAL`: a commit reaches the WAL
file (in the OS's buffers) before it returns, so it survives the crash or kill
of any process; the WAL is flushed to disk at checkpoints, so only a power loss
or an OS crash can drop the last few commits (never corrupt the file). It is
several times faster than FULL here. `RPA_SQLITE_SYNCHRONOUS=FULL` makes every
commit power-loss proof for those who need it.

The WAL is checkpointed every 10,000 pages (about 40 MB) instead of SQLite's
1,000: a hot index page written by a hundred commits is copied back once, not
ten times (the claim+complete loop gains ~10 %). The price under NORMAL: a
power loss may drop up to that much of the newest work, which then runs again
(the bots are idempotent); a process crash drops nothing.

Every SQLite write transaction starts with `BEGIN IMMEDIATE`, so a claim takes
the single write lock before it reads: two claimers can never pick the same
row, and the loser waits (busy timeout) instead of failing at commit.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event, exc

from queues.errors import StoreError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CHECKPOINT_PAGES = 10_000


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
    dbapi_conn.isolation_level = None
    sync = os.environ.get("RPA_SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if sync not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        sync = "NORMAL"
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={sync}")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cur.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # On the DBAPI connection directly: through `exec_driver_sql` this cost ~70 µs of
    # SQLAlchemy execution context per transaction; its errors are wrapped below.
    mode = "DEFERRED" if conn.get_execution_options().get("rpa_readonly") else "IMMEDIATE"
    conn.connection.dbapi_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine for `url` with the settings a queue needs on that database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).resolve().parent.mkdir(mode=0o700, parents=True,
                                                         exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                  **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = str(parsed.set(drivername="postgresql+psycopg"))
        kwargs.setdefault("pool_size", 10)
        # No pool_pre_ping: it cost a `SELECT 1` round trip per checkout. A dropped
        # connection surfaces as a StoreError on first use (and the pool discards
        # it); the worker retries on its next round.
        return sa.create_engine(url, **kwargs)
    raise StoreError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB"
    )


def _unreachable(text: str) -> bool:
    return "could not connect" in text or "Connection refused" in text or (
        "unable to open database" in text)


# The hot path runs on the DBAPI cursor (see `statements`), so driver errors arrive
# unwrapped too: they are told apart the same way.
_RAW_OPERATIONAL: tuple[type[Exception], ...] = (sqlite3.OperationalError,
                                                 psycopg.OperationalError)
_RAW_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)


@contextmanager
def wrapped_errors(action: str) -> Iterator[None]:
    """Turn driver errors into store errors that say what we were doing."""
    try:
        yield
    except exc.OperationalError as err:
        text = str(err.orig) if err.orig is not None else str(err)
        if _unreachable(text):
            raise StoreUnavailable(f"{action}: cannot reach the database: {text.strip()}") from err
        raise StoreError(f"{action}: {text.strip()}") from err
    except exc.DBAPIError as err:
        text = str(err.orig) if err.orig is not None else str(err)
        raise StoreError(f"{action}: {text.strip()}") from err
    except _RAW_OPERATIONAL as err:
        text = str(err)
        if _unreachable(text):
            raise StoreUnavailable(f"{action}: cannot reach the database: {text.strip()}") from err
        raise StoreError(f"{action}: {text.strip()}") from err
    except _RAW_ERRORS as err:
        raise StoreError(f"{action}: {str(err).strip()}") from err
