"""The fires table: one row per (process, scheduled time), and the fire's items with it.

`record_fire` is the single place a fire becomes real. In one transaction it
inserts the fire row (ON CONFLICT DO NOTHING on the unique (process,
scheduled_at)), then the items the feeder produced, their `item.enqueued`
events and one `schedule.fired` (or `schedule.failed`) event. If the row was
there already, another node (or an earlier attempt of this one) fired that
time and nothing else is written; if the node dies before commit, nothing was
written and the next leader fires the time again. Either way a scheduled time
fires once.

It reuses the store's own transaction pieces (`_write`, `_item_row`,
`_insert_new`, `_audit`), so items enter exactly as `store.enqueue` would put
them, idempotent by reference, with the same audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues import NewItem
from queues.schema import schedule_fires as sf
from queues.sql_operator import SqlStore

CHUNK = 1000


@dataclass(frozen=True)
class FireResult:
    """What one fire did: `recorded` False means that time had fired already."""

    recorded: bool
    status: str
    added: int = 0
    existing: int = 0
    fire_id: int | None = None


def _read(engine: sa.Engine) -> Any:
    return engine.connect().execution_options(rpa_readonly=True)


def already_fired(engine: sa.Engine, process: str, scheduled_at: float) -> bool:
    with _read(engine) as conn:
        return conn.execute(sa.select(sf.c.id).where(
            sf.c.process == process, sf.c.scheduled_at == scheduled_at)).first() is not None


def last_fire(engine: sa.Engine, trigger_key: str) -> float | None:
    """The latest scheduled time this trigger fired (or failed) for."""
    with _read(engine) as conn:
        value = conn.execute(sa.select(sa.func.max(sf.c.scheduled_at))
                             .where(sf.c.trigger_key == trigger_key)).scalar()
    return None if value is None else float(value)


def recent_fires(engine: sa.Engine, processes: Sequence[str] | None = None,
                 limit: int = 1) -> dict[str, list[dict[str, Any]]]:
    """The latest `limit` fires of each process (one indexed query per process)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with _read(engine) as conn:
        names = list(processes) if processes is not None else list(
            conn.execute(sa.select(sf.c.process).distinct()).scalars())
        for name in names:
            rows = conn.execute(sa.select(sf).where(sf.c.process == name)
                                .order_by(sf.c.scheduled_at.desc()).limit(limit))
            out[name] = [dict(r._mapping) for r in rows]
    return out


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def record_fire(store: SqlStore, *, process: str, trigger_key: str, scheduled_at: float,
                node: str, items: Sequence[NewItem] = (), status: str = "fired",
                error: str | None = None, trigger: str = "") -> FireResult:
    """Insert the fire row and its items in one transaction (see the module docstring)."""
    now = store.clock()
    actor = f"scheduler:{node}"
    unique: dict[str, NewItem] = {}
    for item in items:
        unique.setdefault(item.reference, item)
    batch = list(unique.values())
    with store._write(f"record a fire of {process}") as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        fire_id = conn.execute(
            insert(sf).values(process=process, trigger_key=trigger_key,
                              scheduled_at=scheduled_at, fired_at=now, node=node,
                              status=status, items_added=0, items_existing=0, error=error)
            .on_conflict_do_nothing(index_elements=["process", "scheduled_at"])
            .returning(sf.c.id)).scalar()
        if fire_id is None:
            return FireResult(recorded=False, status="duplicate")
        snap = store.snapshots.by_name(conn, process)
        added: dict[str, int] = {}
        for start in range(0, len(batch), CHUNK):
            chunk = batch[start:start + CHUNK]
            added.update(store._insert_new(conn, [store._item_row(snap, i, now) for i in chunk]))
        events = [store._event(snap, actor, "item.enqueued", now, item_id=added[i.reference],
                               details={"reference": i.reference, "fire": fire_id})
                  for i in batch if i.reference in added]
        details: dict[str, Any] = {"trigger": trigger or trigger_key,
                                   "scheduled_at": _iso(scheduled_at), "added": len(added),
                                   "existing": len(batch) - len(added)}
        if error:
            details["error"] = error
        events.append(store._event(snap, actor, f"schedule.{status}", now, details=details))
        store._audit(conn, events)
        conn.execute(sa.update(sf).where(sf.c.id == fire_id).values(
            items_added=len(added), items_existing=len(batch) - len(added)))
        if status == "fired":
            store._notify(conn, snap.queue_id)  # wake idle workers (PostgreSQL NOTIFY)
    return FireResult(recorded=True, status=status, added=len(added),
                      existing=len(batch) - len(added), fire_id=int(fire_id))
