"""The fires table: one row per (process, scheduled time), and the fire's items with it.

`record_fire` is the single place a fire becomes real. In one transaction it
inserts the fire row (ON CONFLICT DO NOTHING on the unique (process,
scheduled_at)), then the items the feeder produced, their `items.enqueued`
events and one `schedule.fired` (or `schedule.failed`) event. If the row was
there already, another node (or an earlier attempt of this one) fired that
time and nothing else is written; if the node dies before commit, nothing was
written and the next leader fires the time again. Either way a scheduled time
fires once.

It runs in the store's `transaction` and adds the items with `enqueue_in`, so
they enter exactly as `store.enqueue` puts them, idempotent by reference, with
the same `items.enqueued` events (each naming the fire).
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
    actor = f"scheduler:{node}"
    with store.transaction(f"record a fire of {process}") as conn:
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
        if error:
            details["error"] = error
        store.audit_in(conn, process, actor, f"schedule.{status}", details=details)
        conn.execute(sa.update(sf).where(sf.c.id == fire_id).values(
            items_added=added, items_existing=existing))
    return FireResult(recorded=True, status=status, added=added, existing=existing,
                      fire_id=int(fire_id))
