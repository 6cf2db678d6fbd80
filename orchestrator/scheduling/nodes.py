"""The node registry: which workers run, where, and what each slot is doing.

A node writes its own row (table `workers`): registered when it starts, its
heartbeat and slot descriptions rewritten every `beat_seconds`, `stopped_at`
set when it exits cleanly. Nobody else writes a node's row, so there is no
coordination to get wrong; a node that died is recognised by its silence: three
missed beats and `rpa workers` calls it stale. The registry is for people and
dashboards only; correctness (leases, fires) never depends on it, which is why
its writes log and carry on instead of failing the worker.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog

from queues.schema import workers_t

log = structlog.get_logger("nodes")
BEAT_SECONDS = 5.0
STALE_BEATS = 3
FORGET_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class NodeView:
    """One node as `rpa workers` shows it."""

    id: str
    node: str
    role: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    beat_seconds: float
    stopped_at: float | None
    leader: bool
    slots: list[dict[str, Any]]
    processes: list[str]

    def state(self, now: float) -> str:
        """running, stale (silent for three beats) or stopped."""
        if self.stopped_at is not None:
            return "stopped"
        if now - self.heartbeat_at > STALE_BEATS * self.beat_seconds:
            return "stale"
        return "running"

    @property
    def busy(self) -> int:
        return sum(1 for s in self.slots if s.get("item_id") is not None)


def default_node_name() -> str:
    """`RPA_NODE_NAME` (settings `node_name`), else the host name."""
    try:
        from orchestrator.settings import load_settings
        return load_settings().node_name or socket.gethostname()
    except Exception:  # unreadable settings must not stop a worker from registering
        return socket.gethostname()


class NodeRegistry:
    """Reads and writes the `workers` table through the store's engine."""

    def __init__(self, engine: sa.Engine, *, beat_seconds: float = BEAT_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.beat_seconds = beat_seconds
        self.clock = clock

    @classmethod
    def for_store(cls, store: Any, **kw: Any) -> NodeRegistry | None:
        """A registry on the store's database; None for a store without one (a fake)."""
        engine = getattr(store, "engine", None)
        return cls(engine, **kw) if isinstance(engine, sa.Engine) else None

    def _safely(self, what: str, write: Callable[[sa.Connection], object]) -> bool:
        try:
            with self.engine.begin() as conn:
                write(conn)
            return True
        except sa.exc.SQLAlchemyError as err:
            log.warning("nodes.write_failed", action=what, error=str(err).splitlines()[0])
            return False

    def register(self, node_id: str, *, node: str | None = None, role: str = "worker",
                 slots: Sequence[dict[str, Any]] = (), processes: Sequence[str] = ()) -> bool:
        now = self.clock()
        row = {"node": node or default_node_name(), "role": role,
               "host": socket.gethostname(), "pid": os.getpid(), "started_at": now,
               "heartbeat_at": now, "beat_seconds": self.beat_seconds, "stopped_at": None,
               "leader": False, "slots": list(slots), "processes": list(processes)}

        def write(conn: sa.Connection) -> None:
            conn.execute(sa.delete(workers_t).where(sa.or_(
                workers_t.c.id == node_id, workers_t.c.heartbeat_at < now - FORGET_AFTER)))
            conn.execute(sa.insert(workers_t).values(id=node_id, **row))
        return self._safely("register", write)

    def beat(self, node_id: str, *, slots: Sequence[dict[str, Any]] | None = None,
             processes: Sequence[str] | None = None) -> bool:
        values: dict[str, Any] = {"heartbeat_at": self.clock(), "stopped_at": None}
        if slots is not None:
            values["slots"] = list(slots)
        if processes is not None:
            values["processes"] = list(processes)
        return self._safely("beat", lambda conn: conn.execute(
            sa.update(workers_t).where(workers_t.c.id == node_id).values(**values)))

    def set_leader(self, node_id: str, leader: bool) -> bool:
        """Mark the node that runs the scheduler (unmarking any other); False if the node
        has no row yet (a worker registers once its browser is up): mark it again later."""
        found: list[int] = []

        def write(conn: sa.Connection) -> None:
            if leader:
                conn.execute(sa.update(workers_t).where(workers_t.c.id != node_id,
                                                        workers_t.c.leader)
                             .values(leader=False))
            found.append(conn.execute(sa.update(workers_t).where(workers_t.c.id == node_id)
                                      .values(leader=leader)).rowcount)
        return self._safely("set_leader", write) and bool(found and found[0])

    def stop(self, node_id: str) -> bool:
        now = self.clock()
        return self._safely("stop", lambda conn: conn.execute(
            sa.update(workers_t).where(workers_t.c.id == node_id)
            .values(stopped_at=now, heartbeat_at=now, leader=False, slots=[])))

    def nodes(self, *, include_gone: bool = False) -> list[NodeView]:
        """Nodes by name; without `include_gone`, only the running ones."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(rpa_readonly=True)  # SQLite: no write lock to read
            rows = conn.execute(sa.select(workers_t).order_by(workers_t.c.node,
                                                              workers_t.c.started_at))
            views = [NodeView(**dict(r._mapping)) for r in rows]
        now = self.clock()
        return [v for v in views if include_gone or v.state(now) == "running"]


def describe_slot(index: int, item: Any | None, started_at: float | None) -> dict[str, Any]:
    """What a slot is doing, as stored: idle, or the item it works on since when."""
    if item is None:
        return {"slot": index, "item_id": None}
    return {"slot": index, "item_id": item.id, "process": item.process,
            "reference": item.reference, "attempt": item.attempt, "since": started_at}
