"""The fires on the SQL database: table `schedule_fires`, written with the fire's items.

`record_fire` inserts the fire row (ON CONFLICT DO NOTHING on the unique
(process, scheduled_at)), then the items through the store's own `enqueue_in`
(so they enter exactly as `enqueue` puts them, idempotent by reference, with
the same `items.enqueued` events, each naming the fire) and the fire's event,
all in one transaction of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues.fire_store import FireResult, FireStore
from queues.leadership import Fence
from queues.models import NewItem
from queues.schema import leader_leases
from queues.schema import schedule_fires as sf

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class SqlFireStore(FireStore):
    """Fire rows in the store's database, each recorded in one of the store's transactions."""

    def __init__(self, store: SqlStoreCore):
        self.store = store

    def _read(self, action: str) -> Any:
        return self.store._read(action)

    def already_fired(self, process: str, scheduled_at: float) -> bool:
        with self._read("read the fires") as conn:
            return conn.execute(sa.select(sf.c.id).where(
                sf.c.process == process, sf.c.scheduled_at == scheduled_at)).first() is not None

    def last_fire(self, trigger_key: str) -> float | None:
        with self._read("read the fires") as conn:
            value = conn.execute(sa.select(sa.func.max(sf.c.scheduled_at))
                                 .where(sf.c.trigger_key == trigger_key)).scalar()
        return None if value is None else float(value)

    def recent_fires(self, processes: Sequence[str] | None = None,
                     limit: int = 1) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        with self._read("read the fires") as conn:
            names = list(processes) if processes is not None else list(
                conn.execute(sa.select(sf.c.process).distinct()).scalars())
            for name in names:  # one indexed query per process
                rows = conn.execute(sa.select(sf).where(sf.c.process == name)
                                    .order_by(sf.c.scheduled_at.desc()).limit(limit))
                out[name] = [dict(r._mapping) for r in rows]
        return out

    def record_fire(self, *, process: str, trigger_key: str, scheduled_at: float, node: str,
                    items: Sequence[NewItem] = (), status: str = "fired",
                    error: str | None = None, trigger: str = "",
                    fence: Fence | None = None) -> FireResult:
        store = self.store
        actor = f"scheduler:{node}"
        if store.sealer is not None and items:
            store.sealer.prepare(process)  # before the transaction: see Sealer.prepare
        with store.transaction(f"record a fire of {process}") as conn:
            if fence is not None and not self._term_holds(conn, fence):
                return FireResult(recorded=False, status="fenced")
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            fire_id = conn.execute(
                insert(sf).values(process=process, trigger_key=trigger_key,
                                  scheduled_at=scheduled_at, fired_at=store.clock(), node=node,
                                  status=status, items_added=0, items_existing=0, error=error)
                .on_conflict_do_nothing(index_elements=["process", "scheduled_at"])
                .returning(sf.c.id)).scalar()
            if fire_id is None:
                return FireResult(recorded=False, status="duplicate")
            result = store.enqueue_in(conn, process, items, actor=actor,
                                      details={"fire": int(fire_id)})
            added, existing = len(result.added), len(result.existing)
            details: dict[str, Any] = {"trigger": trigger or trigger_key,
                                       "scheduled_at": _iso(scheduled_at), "added": added,
                                       "existing": existing}
            if error:  # its type only: a feeder's message can quote the data it read
                details["error_type"] = error.split(":", 1)[0][:80]
            store.audit_in(conn, process, actor, f"schedule.{status}", details=details)
            conn.execute(sa.update(sf).where(sf.c.id == fire_id).values(
                items_added=added, items_existing=existing))
        return FireResult(recorded=True, status=status, added=added, existing=existing,
                          fire_id=int(fire_id))

    def _term_holds(self, conn: sa.Connection, fence: Fence) -> bool:
        """Is `fence`'s term still the lease's, unexpired by the database's clock?"""
        now: Any = (sa.func.extract("epoch", sa.func.clock_timestamp())
                    if conn.dialect.name == "postgresql" else self.store.clock())
        found = conn.execute(sa.select(leader_leases.c.term).where(
            leader_leases.c.name == fence.name, leader_leases.c.holder == fence.holder,
            leader_leases.c.term == fence.term, leader_leases.c.expires_at > now)).first()
        return found is not None

