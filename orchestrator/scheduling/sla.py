"""SLA events: one log line when an open item is at risk of missing its due time,
and one when it has missed it.

An item's due time is the earlier of its deadline and enqueue time plus the
process SLA (the store computes `due_at` at enqueue). The check reads open
items due within the risk window through the partial index on (queue, due_at),
so its cost follows the number of items in trouble, not the size of the queue.
The query is the store's (`QueueMonitor.sla_items`). It runs every `every`
seconds and remembers what it already reported, so each item raises
`sla.at_risk` once and `sla.broken` once per watcher; in a cluster `rpa serve`
lets only the scheduler leader watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from queues import StoreError
from queues.monitor import QueueMonitor

log = structlog.get_logger("sla")
RISK_WINDOW = 3600.0
CHECK_EVERY = 15.0
BATCH = 1000


class SlaWatch:
    """Remembers which items it flagged; `check` logs the new ones."""

    def __init__(self, monitor: QueueMonitor | None, *, risk_window: float = RISK_WINDOW,
                 every: float = CHECK_EVERY, clock: Callable[[], float] = time.time,
                 on_event: Callable[[str, str], None] | None = None):
        self.monitor = monitor
        self.risk_window = risk_window
        self.every = every
        self.clock = clock
        self.on_event = on_event  # (kind, process), e.g. a metrics counter
        self.flagged: dict[int, str] = {}  # item id -> "at_risk" | "broken"
        self._last = float("-inf")

    def due(self) -> bool:
        return self.monitor is not None and time.monotonic() - self._last >= self.every

    def check(self, queue_ids: Iterable[int]) -> list[tuple[str, dict[str, Any]]]:
        """Log (and return) the events not raised before, for items of these queues."""
        self._last = time.monotonic()
        ids = list(queue_ids)
        if self.monitor is None or not ids:
            return []
        now = self.clock()
        try:
            # two ranges, so that a backlog of late items cannot hide the ones at risk
            found = self.monitor.sla_items(ids, now=now, risk_window=self.risk_window,
                                           limit=BATCH)
        except StoreError as err:
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
