"""What the queues and the workers are doing now, as the console's overview shows it.

Built on `store.monitor.overview`, which reads by index only (counts of open
and dead items, the oldest waiting item, SLA windows, recent throughput), so
it costs the same with a million finished items as with none.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from orchestrator.services.access import Permission, Principal
from queues import Store
from queues.node_store import NodeView


def queue_rows(store: Store, asker: Principal, now: float | None = None
               ) -> list[dict[str, Any]]:
    """One row per queue the asker may see: counts, pace, time to empty, SLA, workers."""
    asker.require(Permission.VIEW_QUEUES)
    return [r for r in _all_rows(store, now) if asker.sees(r["owner"])]


class OverviewCache:
    """The queue rows, read at most once per `ttl` seconds however many ask.

    Fifty people (or a wall screen per team) polling the overview every few
    seconds would each cost the same index reads for the same figures; one read
    a second serves them all, and a page that polls every 5 s never sees a figure
    older than that. One caller reads while the others wait for its result.
    """

    def __init__(self, store: Store, ttl: float = 1.0):
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._at = float("-inf")

    def rows(self, asker: Principal) -> list[dict[str, Any]]:
        asker.require(Permission.VIEW_QUEUES)
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                self._rows = _all_rows(self.store, None)
                self._at = time.monotonic()
            rows = self._rows
        return [r for r in rows if asker.sees(r["owner"])]


def _all_rows(store: Store, now: float | None) -> list[dict[str, Any]]:
    now = time.time() if now is None else now
    busy = Counter(slot.get("process") for node in store.nodes.nodes()
                   if node.state(now) == "running" for slot in node.slots
                   if slot.get("item_id") is not None)
    rows = []
    for q in store.monitor.overview(now=now):
        owner = str(q.definition.get("owner", ""))
        rows.append({
            "queue": q.queue, "process": q.process, "owner": owner, "paused": q.paused,
            "new": q.counts.get("new", 0), "retry_scheduled": q.counts.get("retry_scheduled", 0),
            "in_progress": q.counts.get("in_progress", 0), "dead": q.counts.get("dead", 0),
            "waiting": q.waiting, "per_minute": round(q.per_minute, 2),
            "seconds_to_empty": q.seconds_to_empty,
            "oldest_waiting_at": q.oldest_waiting_at,
            "oldest_waiting_seconds": None if q.oldest_waiting_at is None
            else max(0.0, now - q.oldest_waiting_at),
            "sla_at_risk": q.at_risk, "sla_broken": q.breached,
            "active_workers": busy.get(q.process, 0),
        })
    return rows


def worker_rows(store: Store, asker: Principal, now: float | None = None
                ) -> list[dict[str, Any]]:
    """Every node with its state and slots; an owner's view hides other owners' items."""
    asker.require(Permission.VIEW_WORKERS)
    now = time.time() if now is None else now
    return [_node(n, now) for n in store.nodes.nodes()]


def _node(node: NodeView, now: float) -> dict[str, Any]:
    return asdict(node) | {"state": node.state(now), "busy": node.busy,
                           "up_seconds": max(0.0, now - node.started_at),
                           "beat_age_seconds": max(0.0, now - node.heartbeat_at)}
