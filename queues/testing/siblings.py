"""The in-memory store's siblings: nodes, fires, credentials and queue figures.

Each shares its store's tables and lock, so a fire's items and events, or a
credential change and its event, are one critical section: as all-or-nothing
as the SQL store's transactions.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from queues.chain import AuditEvent
from queues.credential_store import CredentialStore
from queues.fire_store import FireResult, FireStore
from queues.leadership import Fence
from queues.models import NewItem
from queues.monitor import (
    COUNTED,
    FINISHED_STATES,
    RATE_WINDOW,
    QueueMonitor,
    QueueOverview,
    SlaItem,
)
from queues.node_store import FORGET_AFTER, NodeStore, NodeView
from queues.schema import ATTEMPT_END_ACTIONS

if TYPE_CHECKING:
    from queues.testing.memory_store import InMemoryStore

OPEN = ("new", "retry_scheduled", "in_progress")


class MemoryNodeStore(NodeStore):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def register(self, node_id: str, *, node: str, role: str = "worker",
                 slots: Sequence[dict[str, Any]] = (), processes: Sequence[str] = ()) -> bool:
        now = self.store.clock()
        with self.store.db.lock:
            nodes = self.store.db.nodes
            for gone in [k for k, v in nodes.items() if v["heartbeat_at"] < now - FORGET_AFTER]:
                del nodes[gone]
            nodes[node_id] = {
                "id": node_id, "node": node, "role": role, "host": socket.gethostname(),
                "pid": os.getpid(), "started_at": now, "heartbeat_at": now,
                "beat_seconds": self.beat_seconds, "stopped_at": None, "leader": False,
                "slots": list(slots), "processes": list(processes)}
        return True

    def beat(self, node_id: str, *, slots: Sequence[dict[str, Any]] | None = None,
             processes: Sequence[str] | None = None) -> bool:
        with self.store.db.lock:
            row = self.store.db.nodes.get(node_id)
            if row is not None:
                row.update(heartbeat_at=self.store.clock(), stopped_at=None)
                if slots is not None:
                    row["slots"] = list(slots)
                if processes is not None:
                    row["processes"] = list(processes)
        return True

    def set_leader(self, node_id: str, leader: bool) -> bool:
        with self.store.db.lock:
            nodes = self.store.db.nodes
            if leader:
                for other in nodes.values():
                    if other["id"] != node_id:
                        other["leader"] = False
            if node_id not in nodes:
                return False
            nodes[node_id]["leader"] = leader
            return True

    def stop(self, node_id: str) -> bool:
        now = self.store.clock()
        with self.store.db.lock:
            row = self.store.db.nodes.get(node_id)
            if row is not None:
                row.update(stopped_at=now, heartbeat_at=now, leader=False, slots=[])
        return True

    def nodes(self, *, include_gone: bool = False) -> list[NodeView]:
        with self.store.db.lock:
            views = [NodeView(**dict(r)) for r in self.store.db.nodes.values()]
        now = self.store.clock()
        views.sort(key=lambda v: (v.node, v.started_at))
        return [v for v in views if include_gone or v.state(now) == "running"]


class MemoryFireStore(FireStore):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def already_fired(self, process: str, scheduled_at: float) -> bool:
        with self.store.db.lock:
            return any(f["process"] == process and f["scheduled_at"] == scheduled_at
                       for f in self.store.db.fires)

    def last_fire(self, trigger_key: str) -> float | None:
        with self.store.db.lock:
            times = [f["scheduled_at"] for f in self.store.db.fires
                     if f["trigger_key"] == trigger_key]
        return float(max(times)) if times else None

    def recent_fires(self, processes: Sequence[str] | None = None,
                     limit: int = 1) -> dict[str, list[dict[str, Any]]]:
        with self.store.db.lock:
            fires = [dict(f) for f in self.store.db.fires]
        names = list(processes) if processes is not None else sorted(
            {f["process"] for f in fires})
        return {name: sorted((f for f in fires if f["process"] == name),
                             key=lambda f: -f["scheduled_at"])[:limit] for name in names}

    def record_fire(self, *, process: str, trigger_key: str, scheduled_at: float, node: str,
                    items: Sequence[NewItem] = (), status: str = "fired",
                    error: str | None = None, trigger: str = "",
                    fence: Fence | None = None) -> FireResult:
        store, db = self.store, self.store.db  # no lease here: a fence always holds
        actor = f"scheduler:{node}"
        with db.lock:
            if self.already_fired(process, scheduled_at):
                return FireResult(recorded=False, status="duplicate")
            proc = store._process(process)
            fire_id = db.new_id("fires")
            result = store.enqueue_locked(process, items, actor=actor,
                                          details={"fire": fire_id})
            added, existing = len(result.added), len(result.existing)
            details: dict[str, Any] = {
                "trigger": trigger or trigger_key, "added": added, "existing": existing,
                "scheduled_at": datetime.fromtimestamp(scheduled_at, UTC).isoformat()}
            if error:  # its type only, as in the SQL store
                details["error_type"] = error.split(":", 1)[0][:80]
            store._audit([store._event(proc, actor, f"schedule.{status}", store.clock(),
                                       details=details)])
            db.fires.append({"id": fire_id, "process": process, "trigger_key": trigger_key,
                             "scheduled_at": scheduled_at, "fired_at": store.clock(),
                             "node": node, "status": status, "items_added": added,
                             "items_existing": existing, "error": error})
        return FireResult(recorded=True, status=status, added=added, existing=existing,
                          fire_id=fire_id)


class MemoryCredentialStore(CredentialStore):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _audit(self, actor: str, action: str, name: str, now: float) -> None:
        self.store._audit([AuditEvent(actor=actor, action=action, ts=now,
                                      details={"name": name})])

    def put(self, name: str, ciphertext: str, *, actor: str) -> bool:
        now = self.store.clock()
        with self.store.db.lock:
            found = self.store.db.credentials.get(name)
            created = found[1] if found else now
            self.store.db.credentials[name] = (ciphertext, created, now)
            self._audit(actor, "credential.set", name, now)
        return found is None

    def ciphertext(self, name: str) -> str | None:
        with self.store.db.lock:
            found = self.store.db.credentials.get(name)
        return found[0] if found else None

    def names(self) -> list[tuple[str, float]]:
        with self.store.db.lock:
            return [(n, v[2]) for n, v in sorted(self.store.db.credentials.items())]

    def delete(self, name: str, *, actor: str) -> bool:
        now = self.store.clock()
        with self.store.db.lock:
            gone = self.store.db.credentials.pop(name, None)
            if gone is not None:
                self._audit(actor, "credential.deleted", name, now)
        return gone is not None


class MemoryQueueMonitor(QueueMonitor):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def overview(self, *, now: float | None = None, risk_window: float = 3600.0,
                 rate_window: float = RATE_WINDOW) -> list[QueueOverview]:
        now = self.store.clock() if now is None else now
        db = self.store.db
        with db.lock:
            finished: dict[str, dict[str, int]] = {}
            for e in db.events:
                if e["action"] in ATTEMPT_END_ACTIONS and e["ts"] >= now - rate_window:
                    bucket = finished.setdefault(e["process"], {})
                    bucket[e["action"]] = bucket.get(e["action"], 0) + 1
            out = []
            for proc in sorted(db.processes.values(), key=lambda p: p.spec.queue_name):
                mine = [r for r in db.items.values() if r.queue_id == proc.queue_id]
                waiting = [r.created_at for r in mine if r.status in ("new", "retry_scheduled")]
                due = [r.due_at for r in mine if r.status in OPEN and r.due_at is not None]
                out.append(QueueOverview(
                    queue=proc.spec.queue_name, process=proc.spec.name,
                    queue_id=proc.queue_id, paused=proc.paused,
                    definition=dict(proc.spec.definition),
                    counts={s: sum(1 for r in mine if r.status == s) for s in COUNTED},
                    oldest_waiting_at=min(waiting) if waiting else None,
                    at_risk=sum(1 for d in due if now <= d < now + risk_window),
                    breached=sum(1 for d in due if d < now),
                    finished=finished.get(proc.spec.name, {}), rate_window=rate_window))
            return out

    def finished_counts(self) -> dict[tuple[int, str], int]:
        counts: dict[tuple[int, str], int] = {}
        with self.store.db.lock:
            for r in self.store.db.items.values():
                if r.status in FINISHED_STATES:
                    counts[(r.queue_id, r.status)] = counts.get((r.queue_id, r.status), 0) + 1
        return counts

    def sla_items(self, queue_ids: Iterable[int], *, now: float, risk_window: float,
                  limit: int) -> tuple[list[SlaItem], list[SlaItem]]:
        ids = set(queue_ids)
        db = self.store.db
        with db.lock:
            open_ = sorted((r for r in db.items.values() if r.queue_id in ids
                            and r.status in OPEN and r.due_at is not None),
                           key=lambda r: (r.due_at or 0.0, r.id))

            due = [(float(r.due_at or 0.0), SlaItem(
                id=r.id, reference=r.reference,
                process=self.store._by_queue(r.queue_id).spec.name,
                due_at=float(r.due_at or 0.0), deadline=r.deadline)) for r in open_]
        late = [item for at, item in due if at < now][:limit]
        risk = [item for at, item in due if now <= at < now + risk_window][:limit]
        return late, risk

    def waiting_at_least(self, queue_id: int, k: int, now: float) -> bool:
        with self.store.db.lock:
            found = sum(1 for r in self.store.db.items.values()
                        if r.queue_id == queue_id and r.status in ("new", "retry_scheduled")
                        and r.available_at <= now)
        return found >= k
