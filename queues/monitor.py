"""Queue figures that stay cheap on a database with millions of items: the interface.

`rpa status` counts every item by state; the live view, the metrics, the SLA
watch and the queue-trigger gate ask only what an index answers by the size of
interest, never by the table's: open and dead items per queue, the oldest
waiting item, SLA at risk and broken, recent throughput, "at least K waiting".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

COUNTED = ("new", "retry_scheduled", "in_progress", "dead")
FINISHED_ACTIONS = ("item.completed", "item.business_failed", "item.dead")
FINISHED_STATES = ("done", "business_failed", "abandoned")
RATE_WINDOW = 300.0


@dataclass(frozen=True)
class QueueOverview:
    """One queue: what waits, what runs, how fast it goes and what is late."""

    queue: str
    process: str
    queue_id: int
    paused: bool
    definition: dict[str, Any]
    counts: dict[str, int]
    oldest_waiting_at: float | None
    at_risk: int
    breached: int
    finished: dict[str, int] = field(default_factory=dict)  # audit action -> count in window
    rate_window: float = RATE_WINDOW

    @property
    def waiting(self) -> int:
        return self.counts.get("new", 0) + self.counts.get("retry_scheduled", 0)

    @property
    def open(self) -> int:
        return self.waiting + self.counts.get("in_progress", 0)

    @property
    def per_minute(self) -> float:
        """Items finished (done, business exception or dead) per minute, recently."""
        done = sum(self.finished.get(a, 0) for a in FINISHED_ACTIONS)
        return done / (self.rate_window / 60)

    @property
    def seconds_to_empty(self) -> float | None:
        """At the recent pace, when the open items are done; None when nothing moves."""
        if not self.open:
            return 0.0
        rate = self.per_minute
        return None if rate <= 0 else self.open / rate * 60


@dataclass(frozen=True)
class SlaItem:
    """An open item due soon or already late."""

    id: int
    reference: str
    process: str
    due_at: float
    deadline: float | None


class QueueMonitor:
    """Cheap, read-only figures about the queues."""

    def overview(self, *, now: float | None = None, risk_window: float = 3600.0,
                 rate_window: float = RATE_WINDOW) -> list[QueueOverview]:
        """Every queue's figures, by queue name."""
        raise NotImplementedError

    def finished_counts(self) -> dict[tuple[int, str], int]:
        """(queue id, state) -> items, for the finished states (a whole-table count:
        call it rarely)."""
        raise NotImplementedError

    def sla_items(self, queue_ids: Iterable[int], *, now: float, risk_window: float,
                  limit: int) -> tuple[list[SlaItem], list[SlaItem]]:
        """(late, at risk): open items of these queues due before `now`, and due within
        `risk_window` after it; each list by due time, at most `limit` long, so that a
        backlog of late items cannot hide the ones at risk."""
        raise NotImplementedError

    def waiting_at_least(self, queue_id: int, k: int, now: float) -> bool:
        """Do at least `k` claimable items wait in the queue? Reads at most k entries."""
        raise NotImplementedError
