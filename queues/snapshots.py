"""A short-lived cache of what the hot path needs to know about a process.

Claim and complete need the process's queue id, lease, retry policy and the
minutes it credits; reading them in every transaction would add a round trip
per item. Entries live `ttl` seconds, so a changed setting (a pause, new
manual minutes) reaches every worker within that time; registration through
the same store clears the cache at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from queues.breaker import CLOSED, BreakerSettings, may_probe
from queues.errors import QueueNotFound
from queues.retry import RetryPolicy
from queues.schema import processes, queues_t


@dataclass(frozen=True)
class ProcessSnapshot:
    """A process as the hot path sees it."""

    process_id: int
    name: str
    owner: str
    cost_centre: str
    queue_id: int
    queue: str
    manual_minutes: float
    exception_minutes: float
    policy: RetryPolicy
    lease_seconds: float
    sla_minutes: float | None
    default_priority: int
    paused: bool
    input_schema: dict[str, Any] | None = None  # enqueue validates against it
    hash_reference: bool = False  # references stored as keyed digests (see Sealer.digest)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    breaker_state: str = CLOSED
    breaker_opened_at: float | None = None
    breaker_probe_at: float | None = None

    def may_probe(self, now: float) -> bool:
        """Paused by its breaker, and cooled down: one item may be tried."""
        return self.paused and may_probe(self.breaker_state, self.breaker_opened_at,
                                         self.breaker_probe_at, self.breaker.cool_down, now)


def _load(conn: sa.Connection, where: sa.ColumnElement[bool]) -> ProcessSnapshot | None:
    p, q = processes, queues_t
    row = conn.execute(
        sa.select(p, q.c.id.label("queue_id"), q.c.name.label("queue_name"))
        .join(q, q.c.process_id == p.c.id).where(where)
    ).mappings().first()
    if row is None:
        return None
    return ProcessSnapshot(
        process_id=row["id"], name=row["name"], owner=row["owner"],
        cost_centre=row["cost_centre"], queue_id=row["queue_id"], queue=row["queue_name"],
        manual_minutes=row["manual_minutes_per_item"],
        exception_minutes=row["exception_minutes_per_item"],
        policy=RetryPolicy(row["max_attempts"], row["backoff_seconds"],
                           row["backoff_max_seconds"]),
        lease_seconds=row["lease_seconds"], sla_minutes=row["sla_minutes"],
        default_priority=row["default_priority"], paused=row["paused"],
        input_schema=row["input_schema"],
        hash_reference=bool((row["definition"] or {}).get("hash_reference")),
        breaker=BreakerSettings.of(row["definition"]), breaker_state=row["breaker_state"],
        breaker_opened_at=row["breaker_opened_at"], breaker_probe_at=row["breaker_probe_at"],
    )


class SnapshotCache:
    """Process snapshots by name and by queue id, each kept `ttl` seconds."""

    def __init__(self, ttl: float = 2.0):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._by_name: dict[str, tuple[float, ProcessSnapshot]] = {}
        self._by_queue: dict[int, tuple[float, ProcessSnapshot]] = {}

    def clear(self) -> None:
        with self._lock:
            self._by_name.clear()
            self._by_queue.clear()

    def _remember(self, snap: ProcessSnapshot) -> ProcessSnapshot:
        stamp = time.monotonic()
        with self._lock:
            self._by_name[snap.name] = (stamp, snap)
            self._by_queue[snap.queue_id] = (stamp, snap)
        return snap

    def _fresh(self, entry: tuple[float, ProcessSnapshot] | None) -> ProcessSnapshot | None:
        if entry and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        return None

    def cached(self, name: str) -> ProcessSnapshot | None:
        """A fresh snapshot without touching the database: the hot path asks this first."""
        return self._fresh(self._by_name.get(name))

    def cached_queue(self, queue_id: int) -> ProcessSnapshot | None:
        return self._fresh(self._by_queue.get(queue_id))

    def by_name(self, conn: sa.Connection, name: str) -> ProcessSnapshot:
        snap = self._fresh(self._by_name.get(name))
        if snap is None:
            snap = _load(conn, processes.c.name == name)
            if snap is None:
                raise QueueNotFound(f"no process named {name!r}: see `rpa process list`")
            self._remember(snap)
        return snap

    def by_queue(self, conn: sa.Connection, queue_id: int) -> ProcessSnapshot:
        snap = self._fresh(self._by_queue.get(queue_id))
        if snap is None:
            snap = _load(conn, queues_t.c.id == queue_id)
            if snap is None:
                raise QueueNotFound(f"no queue with id {queue_id}")
            self._remember(snap)
        return snap
