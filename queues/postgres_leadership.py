"""The scheduler's lock on PostgreSQL: a lease row that expires on its own, with terms.

An advisory lock held by a session ends only when the server notices the
session is gone: a leader that is frozen (SIGSTOP) or whose host vanished
behind an open socket kept it for minutes, with the server's default TCP
keepalive for two hours, while its fires were lost. A lease does not wait for
anyone to notice:

- the leader renews `leader_leases` every election round (2 s); the row says
  until when it leads, by the database's clock, so nodes' clocks do not matter;
- a follower takes the row over once `expires_at` has passed, and the term
  goes up by one;
- the leader steps down by itself once it has not renewed for `lease - margin`
  seconds (a renewal that hangs on a frozen network counts as not renewed), so
  it stops firing before anyone else can start;
- a fire is recorded only while its leader's term is the row's and unexpired
  (`Fence`, checked in the fire's own transaction): an old leader that wakes up
  records nothing, and the unique (process, scheduled time) still makes any
  time fire at most once.

Fail-over after a leader vanishes therefore takes at most `lease_seconds` plus
one election round: 10 s + 2 s by default, within the 15 s we promise.

The lease lives on a connection of its own (autocommit, short connect timeout,
TCP keepalives), and every call runs under a deadline in a helper thread: a
call that does not return in time is abandoned with its connection.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
import structlog

from queues.leadership import Fence

log = structlog.get_logger("scheduler.leader")
LEASE_NAME = "scheduler"
LEASE_SECONDS = 10.0
CALL_TIMEOUT = 3.0
DB_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
T = TypeVar("T")

ACQUIRE = f"""
INSERT INTO leader_leases (name, term, holder, acquired_at, expires_at)
VALUES (%(name)s, 1, %(holder)s, {DB_NOW}, {DB_NOW} + %(ttl)s)
ON CONFLICT (name) DO UPDATE
   SET term = leader_leases.term + 1, holder = EXCLUDED.holder,
       acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
 WHERE leader_leases.expires_at < {DB_NOW} OR leader_leases.holder = EXCLUDED.holder
RETURNING term
"""
RENEW = f"""
UPDATE leader_leases SET expires_at = {DB_NOW} + %(ttl)s
 WHERE name = %(name)s AND holder = %(holder)s AND term = %(term)s
   AND expires_at >= {DB_NOW}
RETURNING term
"""
GIVE_UP = """
UPDATE leader_leases SET expires_at = 0
 WHERE name = %(name)s AND holder = %(holder)s AND term = %(term)s
RETURNING term
"""


def default_holder() -> str:
    """This process, uniquely: host, pid and a random tag (a pid can be reused)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CallTimedOut(Exception):
    """A lease call did not come back in time (a frozen network, a stopped server)."""


def call_with_deadline(fn: Callable[[], T], timeout: float) -> T:
    """`fn()` in a daemon thread; CallTimedOut if it has not returned within `timeout`.

    psycopg has no client-side timeout for a query whose answer never comes: the
    thread of such a call is left behind (it ends when its socket finally fails).
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, fn()))
        except BaseException as err:  # handed to the caller, who re-raises it
            box.put((False, err))
    threading.Thread(target=run, name="rpa-lease-call", daemon=True).start()
    try:
        ok, value = box.get(timeout=timeout)
    except queue.Empty:
        raise CallTimedOut(f"no answer within {timeout:g} s") from None
    if not ok:
        raise value
    return value


class PostgresLeadership:
    """A lease on `leader_leases`, renewed on a dedicated autocommit connection."""

    def __init__(self, url: sa.URL | str, *, holder: str | None = None,
                 lease_seconds: float = LEASE_SECONDS, name: str = LEASE_NAME,
                 call_timeout: float = CALL_TIMEOUT, connect_timeout: float = 3.0):
        parsed = sa.make_url(url).set(drivername="postgresql")
        self.dsn = parsed.render_as_string(hide_password=False)
        self.holder = holder or default_holder()
        self.name = name
        self.lease_seconds = lease_seconds
        self.call_timeout = min(call_timeout, lease_seconds / 3)
        self.connect_timeout = connect_timeout
        self.term: int | None = None
        self._last_term: int | None = None  # given up on release, if still ours
        self._renewed = float("-inf")  # monotonic start of the last successful renewal
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def margin(self) -> float:
        """Step down this long before the lease runs out: no overlap with a successor."""
        return min(2.0, self.lease_seconds / 4)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
                application_name="rpa-scheduler-lease", keepalives=1, keepalives_idle=5,
                keepalives_interval=2, keepalives_count=2,
                tcp_user_timeout=int(self.lease_seconds * 1000))
        return self._conn

    def _run(self, sql: str, params: dict[str, Any]) -> int | None:
        """One statement under the call deadline; its first column, or None (no row)."""
        def call() -> int | None:
            row = self._connection().execute(sql, params).fetchone()
            return None if row is None else int(row[0])
        try:
            return call_with_deadline(call, self.call_timeout)
        except (psycopg.Error, OSError, CallTimedOut) as err:
            log.warning("leader.lease_call_failed", error=str(err).strip().splitlines()[0]
                        if str(err).strip() else type(err).__name__)
            self._abandon()
            raise

    def try_acquire(self) -> bool:
        if self.term is not None:
            return self.still_held()
        started = time.monotonic()
        try:
            term = self._run(ACQUIRE, {"name": self.name, "holder": self.holder,
                                       "ttl": self.lease_seconds})
        except (psycopg.Error, OSError, CallTimedOut):
            return False
        if term is None:
            return False
        self.term = self._last_term = term
        self._renewed = started
        log.info("leader.lease_acquired", term=term, holder=self.holder,
                 lease_seconds=self.lease_seconds)
        return True

    def still_held(self) -> bool:
        if self.term is None:
            return False
        started = time.monotonic()
        if started - self._renewed > self.lease_seconds - self.margin:
            self._lost("not renewed in time")  # frozen, or the database was away
            return False
        try:
            term = self._run(RENEW, {"name": self.name, "holder": self.holder,
                                     "term": self.term, "ttl": self.lease_seconds})
        except (psycopg.Error, OSError, CallTimedOut):
            # not lost yet: the lease runs until its deadline, checked on the next round
            return time.monotonic() - self._renewed <= self.lease_seconds - self.margin
        if term is None:
            self._lost("taken over, or expired")
            return False
        self._renewed = started
        return True

    def fence(self) -> Fence | None:
        """The token a fire must show: this leader's term (None while not leading)."""
        if self.term is None:
            return None
        return Fence(name=self.name, holder=self.holder, term=self.term)

    def _lost(self, why: str) -> None:
        log.warning("leader.lease_lost", term=self.term, reason=why)
        self.term = None

    def _abandon(self) -> None:
        """Forget the connection; closing one whose call hangs could hang too."""
        conn, self._conn = self._conn, None
        if conn is not None:
            threading.Thread(target=_close_quietly, args=(conn,), daemon=True).start()

    def release(self) -> None:
        """Give the lease up (if it is still ours), so a successor need not wait it out."""
        if self._last_term is not None:
            with contextlib.suppress(psycopg.Error, OSError, CallTimedOut):
                self._run(GIVE_UP, {"name": self.name, "holder": self.holder,
                                    "term": self._last_term})
            self.term = self._last_term = None
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)


def _close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):
        conn.close()
