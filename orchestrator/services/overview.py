"""What the queues and the workers are doing now, as the console's overview shows it.

Built on `store.monitor.overview`, which reads by index only (counts of open
and dead items, the oldest waiting item, SLA windows, recent throughput), so
it costs the same with a million finished items as with none.
"""

from __future__ import annotations

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
    now = time.time() if now is None else now
    busy = Counter(slot.get("process") for node in store.nodes.nodes()
                   if node.state(now) == "running" for slot in node.slots
                   if slot.get("item_id") is not None)
    rows = []
    for q in store.monitor.overview(now=now):
        owner = str(q.definition.get("owner", ""))
        if not asker.sees(owner):
            continue
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
