"""The node registry on the SQL database (table `workers`)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
import structlog

from queues.engine import wrapped_errors
from queues.node_store import BEAT_SECONDS, FORGET_AFTER, NodeStore, NodeView
from queues.schema import workers_t

log = structlog.get_logger("nodes")


class SqlNodeStore(NodeStore):
    """Node rows through the store's engine; a failed write logs and returns False."""

    def __init__(self, engine: sa.Engine, *, beat_seconds: float = BEAT_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.beat_seconds = beat_seconds
        self.clock = clock

    def _safely(self, what: str, write: Callable[[sa.Connection], object]) -> bool:
        try:
            with self.engine.begin() as conn:
                write(conn)
            return True
        except sa.exc.SQLAlchemyError as err:
            log.warning("nodes.write_failed", action=what, error=str(err).splitlines()[0])
            return False

    def register(self, node_id: str, *, node: str, role: str = "worker",
                 slots: Sequence[dict[str, Any]] = (), processes: Sequence[str] = ()) -> bool:
        now = self.clock()
        row = {"node": node, "role": role, "host": socket.gethostname(), "pid": os.getpid(),
               "started_at": now, "heartbeat_at": now, "beat_seconds": self.beat_seconds,
               "stopped_at": None, "leader": False, "slots": list(slots),
               "processes": list(processes)}

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
        with wrapped_errors("read the node registry"), self.engine.connect() as raw:
            conn = raw.execution_options(rpa_readonly=True)  # SQLite: no write lock to read
            rows = conn.execute(sa.select(workers_t).order_by(workers_t.c.node,
                                                              workers_t.c.started_at))
            views = [NodeView(**dict(r._mapping)) for r in rows]
        now = self.clock()
        return [v for v in views if include_gone or v.state(now) == "running"]
