"""The circuit breaker's transitions on SQL (see `queues.breaker` for the states).

Each runs inside a transaction of the store: a failure's, a probe claim's, or
its own when a probe went well. The process row is locked (`FOR UPDATE`) for
the read-modify-write, so two workers failing at once count two failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from queues.breaker import CLOSED, HALF_OPEN, OPEN, BreakerSettings, may_probe, tripped_alert
from queues.schema import processes, work_items
from queues.snapshots import ProcessSnapshot
from queues.sql_alert_store import raise_in
from queues.states import Status

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

p, wi = processes, work_items
WENT_WELL = (Status.DONE.value, Status.BUSINESS_FAILED.value)
RESET = {"breaker_state": CLOSED, "breaker_failures": 0, "breaker_since": None,
         "breaker_opened_at": None, "breaker_probe_at": None}


def _locked(conn: sa.Connection, process_id: int) -> sa.RowMapping:
    return conn.execute(sa.select(p.c.paused, p.c.definition, p.c.breaker_state,
                                  p.c.breaker_failures, p.c.breaker_since,
                                  p.c.breaker_opened_at, p.c.breaker_probe_at)
                        .where(p.c.id == process_id).with_for_update()).mappings().one()


def after_failure(store: SqlStoreCore, conn: sa.Connection, snap: ProcessSnapshot,
                  now: float) -> bool:
    """Count an application error; True when the breaker changed state (trip, re-open)."""
    row = _locked(conn, snap.process_id)
    settings = BreakerSettings.of(row["definition"])
    if not settings.enabled or row["breaker_state"] == OPEN:
        return False  # in-flight items failing after the trip count for nothing
    if row["breaker_state"] == HALF_OPEN:  # the probe failed: another cool-down
        conn.execute(sa.update(p).where(p.c.id == snap.process_id).values(
            breaker_state=OPEN, breaker_opened_at=now, breaker_probe_at=None))
        store._audit(conn, [store._event(snap, "system", "process.breaker_probe_failed", now,
                                         details={"cool_down_seconds": settings.cool_down})])
        return True
    since = row["breaker_since"]
    fresh = since is None or conn.execute(
        sa.select(wi.c.id).where(wi.c.updated_at >= since, wi.c.queue_id == snap.queue_id,
                                 wi.c.status.in_(WENT_WELL)).limit(1)).first() is not None
    failures = 1 if fresh else int(row["breaker_failures"]) + 1
    values: dict[str, Any] = {"breaker_failures": failures,
                              "breaker_since": now if fresh else since}
    tripped = failures >= settings.after
    if tripped:
        values.update(paused=True, breaker_state=OPEN, breaker_opened_at=now,
                      breaker_probe_at=None, updated_at=now)
    conn.execute(sa.update(p).where(p.c.id == snap.process_id).values(**values))
    if tripped:
        store._audit(conn, [store._event(snap, "system", "process.breaker_opened", now, details={
            "failures": failures, "cool_down_seconds": settings.cool_down})])
        raise_in(conn, tripped_alert(snap.name, failures, settings.cool_down, now),
                 actor="system", now=now)
    return tripped


def take_probe(store: SqlStoreCore, conn: sa.Connection, snap: ProcessSnapshot, now: float
               ) -> bool:
    """Turn a cooled-down open breaker half-open; False if another node got there first."""
    row = _locked(conn, snap.process_id)
    settings = BreakerSettings.of(row["definition"])
    if not row["paused"] or not may_probe(row["breaker_state"], row["breaker_opened_at"],
                                          row["breaker_probe_at"], settings.cool_down, now):
        return False
    conn.execute(sa.update(p).where(p.c.id == snap.process_id).values(
        breaker_state=HALF_OPEN, breaker_probe_at=now))
    return True


def probe_claimed(store: SqlStoreCore, conn: sa.Connection, snap: ProcessSnapshot,
                  item_id: int, now: float) -> None:
    store._audit(conn, [store._event(snap, "system", "process.breaker_probe", now,
                                     details={"item": item_id})])


def close(store: SqlStoreCore, conn: sa.Connection, snap: ProcessSnapshot, now: float) -> bool:
    """A probe went well: resume the process (only if its breaker is still half-open)."""
    done = conn.execute(sa.update(p).where(p.c.id == snap.process_id,
                                           p.c.breaker_state == HALF_OPEN)
                        .values(paused=False, updated_at=now, **RESET)).rowcount
    if done:
        store._audit(conn, [store._event(snap, "system", "process.breaker_closed", now,
                                         details={})])
    return bool(done)
