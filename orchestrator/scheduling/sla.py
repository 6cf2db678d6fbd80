"""SLA events: one log line when an open item is at risk of missing its due time,
and one when it has missed it.

An item's due time is the earlier of its deadline and enqueue time plus the
process SLA (the store computes `due_at` at enqueue). The check reads open
items due within the risk window through the partial index on (queue, due_at),
so its cost follows the number of items in trouble, not the size of the queue.
It runs every `every` seconds and remembers what it already reported, so each
item raises `sla.at_risk` once and `sla.broken` once per watcher; in a cluster
`rpa serve` lets only the scheduler leader watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
import structlog

from queues.schema import OPEN_SQL, processes, queues_t, work_items

log = structlog.get_logger("sla")
RISK_WINDOW = 3600.0
CHECK_EVERY = 15.0
BATCH = 1000


class SlaWatch:
    """Remembers which items it flagged; `check` logs the new ones."""

    def __init__(self, engine: sa.Engine | None, *, risk_window: float = RISK_WINDOW,
                 every: float = CHECK_EVERY, clock: Callable[[], float] = time.time,
                 on_event: Callable[[str, str], None] | None = None):
        self.engine = engine
        self.risk_window = risk_window
        self.every = every
        self.clock = clock
        self.on_event = on_event  # (kind, process), e.g. a metrics counter
        self.flagged: dict[int, str] = {}  # item id -> "at_risk" | "broken"
        self._last = float("-inf")

    def due(self) -> bool:
        return self.engine is not None and time.monotonic() - self._last >= self.every

    def check(self, queue_ids: Iterable[int]) -> list[tuple[str, dict[str, Any]]]:
        """Log (and return) the events not raised before, for items of these queues."""
        self._last = time.monotonic()
        ids = list(queue_ids)
        if self.engine is None or not ids:
            return []
        now = self.clock()
        wi = work_items
        base = (sa.select(wi.c.id, wi.c.reference, wi.c.due_at, wi.c.deadline,
                          processes.c.name.label("process"))
                .join(queues_t, queues_t.c.id == wi.c.queue_id)
                .join(processes, processes.c.id == queues_t.c.process_id)
                .where(wi.c.queue_id.in_(ids), OPEN_SQL).order_by(wi.c.due_at).limit(BATCH))
        # two ranges, so that a backlog of late items cannot hide the ones at risk
        ranges = (base.where(wi.c.due_at < now),
                  base.where(wi.c.due_at >= now, wi.c.due_at < now + self.risk_window))
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(rpa_readonly=True)
                found = [conn.execute(stmt).all() for stmt in ranges]
        except sa.exc.SQLAlchemyError as err:
            log.warning("sla.check_failed", error=str(err).splitlines()[0])
            return []
        rows = [r for part in found for r in part]
        events = []
        for r in rows:
            kind = "broken" if r.due_at < now else "at_risk"
            if self.flagged.get(r.id) in (kind, "broken"):
                continue
            self.flagged[r.id] = kind
            fields = {"item_id": r.id, "process": r.process, "reference": r.reference,
                      "due_at": r.due_at, "due_in_seconds": round(r.due_at - now, 1),
                      "cause": "deadline" if r.deadline is not None and r.deadline <= r.due_at
                      else "process sla"}
            (log.error if kind == "broken" else log.warning)(f"sla.{kind}", **fields)
            if self.on_event is not None:
                self.on_event(kind, r.process)
            events.append((f"sla.{kind}", fields))
        if all(len(part) < BATCH for part in found):  # complete: forget items gone since
            seen = {r.id for r in rows}
            self.flagged = {i: k for i, k in self.flagged.items() if i in seen}
        return events
