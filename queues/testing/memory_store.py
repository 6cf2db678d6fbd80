"""`InMemoryStore`: the store's contract on Python dicts (see `queues.testing`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from queues.alert_store import dead_alert
from queues.chain import AuditEvent, ChainKey, VerifyResult
from queues.checkpoints import Checkpoint
from queues.enqueue_events import ENQUEUE_CHUNK, default_writer, enqueued_event
from queues.errors import (
    AuditKeyMissing,
    IllegalTransition,
    ItemNotFound,
    LeaseLost,
    QueueNotFound,
    RepeatedReference,
)
from queues.leadership import Leadership, SoleLeadership
from queues.models import (
    Attempt,
    ClaimedItem,
    EnqueueCount,
    EnqueueResult,
    ItemFilter,
    ItemView,
    NewItem,
    ProcessInfo,
    ProcessSpec,
    QueueStatus,
)
from queues.schema import NO_DEADLINE
from queues.states import ABANDONABLE, RETRYABLE_BY_OPERATOR, Outcome, Status
from queues.store import Store
from queues.testing.accounts import MemoryAccountStore
from queues.testing.alerts import MemoryAlertStore
from queues.testing.retention import MemoryKeyStore, MemoryRetentionStore
from queues.testing.review import MemoryOrganisationStore, MemoryReviewStore
from queues.testing.siblings import (
    MemoryCredentialStore,
    MemoryFireStore,
    MemoryNodeStore,
    MemoryQueueMonitor,
)
from queues.testing.state import AttemptRow, ItemRow, ProcessRow, Tables
from queues.validation import validate_items

OPEN = frozenset({Status.NEW.value, Status.RETRY_SCHEDULED.value, Status.IN_PROGRESS.value})
WAITING = (Status.NEW.value, Status.RETRY_SCHEDULED.value)


class InMemoryStore(Store):
    """Every operation of `Store` under one lock, each a whole transaction or nothing."""

    def __init__(self, *, writer: str | None = None, clock: Callable[[], float] = time.time,
                 audit_key: ChainKey | None = None):
        self.writer = writer or default_writer("memory")
        self.clock = clock
        self.audit_key = audit_key
        self.db = Tables()
        self.nodes = MemoryNodeStore(self)
        self.fires = MemoryFireStore(self)
        self.credentials = MemoryCredentialStore(self)
        self.retention = MemoryRetentionStore(self)
        self.keys = MemoryKeyStore(self)
        self.accounts = MemoryAccountStore(self)
        self.review: MemoryReviewStore = MemoryReviewStore(self)
        self.organisation = MemoryOrganisationStore(self)
        self.alerts: MemoryAlertStore = MemoryAlertStore(self)
        self.monitor = MemoryQueueMonitor(self)

    def ping(self) -> None:
        """Always reachable."""

    def reconnect(self) -> None:
        """No connections to renew."""

    def leadership(self) -> Leadership:
        return SoleLeadership()

    def close(self) -> None:
        """Nothing to release."""

    # -- helpers (the lock is held) -----------------------------------------------------
    def _process(self, name: str) -> ProcessRow:
        found = self.db.processes.get(name)
        if found is None:
            raise QueueNotFound(f"no process named {name!r}: see `rpa process list`")
        return found

    def _by_queue(self, queue_id: int) -> ProcessRow:
        return next(p for p in self.db.processes.values() if p.queue_id == queue_id)

    def _event(self, proc: ProcessRow, actor: str, action: str, now: float,
               item_id: int | None = None, **kw: Any) -> AuditEvent:
        spec = proc.spec
        return AuditEvent(actor=actor, action=action, ts=now, process=spec.name,
                          owner=spec.owner, cost_centre=spec.cost_centre, item_id=item_id,
                          **kw)

    def _event_of(self, proc: ProcessRow, actor: str, action: str, now: float,
                  item_id: int | None = None, **kw: Any) -> AuditEvent:
        """`_event` with `enqueued_event`'s calling convention (a snapshot-like first arg)."""
        return self._event(proc, actor, action, now, item_id, **kw)

    def _open_review(self, proc: ProcessRow, item_id: int, kind: str, code: str | None,
                     estimate: float, now: float) -> None:
        spec = proc.spec
        self.review.open(item_id=item_id, process=spec.name, owner=spec.owner,
                         cost_centre=spec.cost_centre, kind=kind, code=code,
                         estimate_minutes=estimate, now=now)

    def _audit(self, events: Sequence[AuditEvent]) -> None:
        self.db.append(self.writer, events, self.audit_key)

    def _held(self, item_id: int, worker_id: str, operation: str) -> ItemRow:
        row = self.db.items.get(item_id)
        if row is None:
            raise ItemNotFound(f"no work item {item_id}")
        if row.status == Status.IN_PROGRESS.value and row.lease_owner == worker_id:
            return row
        if row.status in OPEN:
            raise LeaseLost(f"item {item_id}: worker {worker_id} no longer holds its lease "
                            f"(status {row.status}, held by {row.lease_owner or 'nobody'})")
        raise IllegalTransition(f"item {item_id} is {row.status}: cannot {operation} it")

    def _end_attempt(self, row: ItemRow, worker_id: str, now: float, outcome: Outcome, *,
                     error_type: str | None = None, code: str | None = None,
                     message: str | None = None,
                     evidence: dict[str, Any] | None = None) -> float:
        started = row.attempt_started_at or now
        self.db.attempts.append(AttemptRow(row.id, row.attempts, worker_id, started, now,
                                           outcome.value, error_type, code, message,
                                           evidence))
        row.lease_owner = row.lease_expires_at = None
        row.updated_at = now
        return max(0.0, now - started)

    # -- processes --------------------------------------------------------------------
    def upsert_process(self, spec: ProcessSpec, *, actor: str) -> bool:
        now = self.clock()
        with self.db.lock:
            found = self.db.processes.get(spec.name)
            if found is None:
                proc = ProcessRow(self.db.new_id("processes"), spec, self.db.new_id("queues"),
                                  False, now, now)
                self.db.processes[spec.name] = proc
            else:
                proc = found
                old = found.spec.definition
                proc.spec, proc.updated_at = spec, now
            changed = sorted(k for k, v in spec.definition.items()
                             if found is None or old.get(k) != v)
            action = "process.registered" if found is None else "process.updated"
            self._audit([self._event(proc, actor, action, now,
                                     details={"changed": changed, "bot": spec.bot})])
        return found is None

    def _info(self, proc: ProcessRow) -> ProcessInfo:
        spec = proc.spec if proc.spec.queue else replace(proc.spec, queue=proc.spec.name)
        return ProcessInfo(id=proc.id, spec=spec, queue_id=proc.queue_id, paused=proc.paused,
                           created_at=proc.created_at, updated_at=proc.updated_at)

    def get_process(self, name: str) -> ProcessInfo:
        with self.db.lock:
            return self._info(self._process(name))

    def list_processes(self) -> list[ProcessInfo]:
        with self.db.lock:
            return [self._info(p) for _, p in sorted(self.db.processes.items())]

    def set_paused(self, name: str, paused: bool, *, actor: str) -> None:
        now = self.clock()
        with self.db.lock:
            proc = self._process(name)
            proc.paused, proc.updated_at = paused, now
            action = "process.paused" if paused else "process.resumed"
            self._audit([self._event(proc, actor, action, now)])
            if not paused:
                self.db.notify()

    # -- producing --------------------------------------------------------------------
    def enqueue_stream(self, process: str, chunks: Iterable[Sequence[NewItem]], *,
                       actor: str, progress: Callable[[int], None] | None = None,
                       keep_ids: bool = False) -> EnqueueCount:
        """All chunks read first (the memory store has no transaction to roll back)."""
        items = [item for chunk in chunks for item in chunk]
        seen: set[str] = set()
        for item in items:
            if item.reference in seen:
                raise RepeatedReference(item.reference)
            seen.add(item.reference)
        result = self.enqueue(process, items, actor=actor, progress=progress)
        return EnqueueCount(added=len(result.added), existing=len(result.existing),
                            ids=dict(result.added) if keep_ids else None,
                            existing_ids=dict(result.existing) if keep_ids else None)

    def enqueue(self, process: str, items: Sequence[NewItem], *, actor: str,
                progress: Callable[[int], None] | None = None) -> EnqueueResult:
        with self.db.lock:
            validate_items(self._process(process).spec.input_schema, items)
            return self.enqueue_locked(process, items, actor=actor, progress=progress)

    def enqueue_locked(self, process: str, items: Sequence[NewItem], *, actor: str,
                       details: dict[str, Any] | None = None,
                       progress: Callable[[int], None] | None = None) -> EnqueueResult:
        """`enqueue` inside a caller's critical section (a fire records its items so)."""
        proc = self._process(process)
        now = self.clock()
        unique: dict[str, NewItem] = {}
        for item in items:
            unique.setdefault(item.reference, item)
        batch = list(unique.values())
        added: dict[str, int] = {}
        existing: dict[str, int] = {}
        for start in range(0, len(batch), ENQUEUE_CHUNK):
            chunk = batch[start:start + ENQUEUE_CHUNK]
            fresh = []
            for item in chunk:
                key = (proc.queue_id, item.reference)
                if key in self.db.by_reference:
                    existing[item.reference] = self.db.by_reference[key]
                    continue
                row = self._new_row(proc, item, now)
                self.db.items[row.id] = row
                self.db.by_reference[key] = row.id
                added[item.reference] = row.id
                fresh.append((item.reference, row.id))
            if fresh:
                self._audit([enqueued_event(self._event_of, proc, actor,
                                            now, fresh, details)])
            if progress:
                progress(len(chunk))
        if added:
            self.db.notify()
        return EnqueueResult(added=added, existing=existing)

    def _new_row(self, proc: ProcessRow, item: NewItem, now: float) -> ItemRow:
        spec = proc.spec
        due = [d for d in (item.deadline, now + spec.sla_minutes * 60
                           if spec.sla_minutes else None) if d is not None]
        return ItemRow(
            id=self.db.new_id("items"), queue_id=proc.queue_id, reference=item.reference,
            payload=item.payload,
            priority=spec.default_priority if item.priority is None else item.priority,
            deadline=item.deadline,
            deadline_order=NO_DEADLINE if item.deadline is None else item.deadline,
            due_at=min(due) if due else None,
            available_at=max(now, item.defer_until or now), status=Status.NEW.value,
            attempts=0, attempt_limit=spec.retry.max_attempts, created_at=now, updated_at=now)

    # -- consuming --------------------------------------------------------------------
    def claim(self, process: str, worker_id: str, *, limit: int = 1,
              lease_seconds: float | None = None) -> list[ClaimedItem]:
        now = self.clock()
        with self.db.lock:
            proc = self._process(process)
            if proc.paused:
                return []
            ready = sorted((r for r in self.db.items.values()
                            if r.queue_id == proc.queue_id and r.status in WAITING
                            and r.available_at <= now),
                           key=lambda r: (-r.priority, r.deadline_order, r.id))[:limit]
            expires = now + (lease_seconds or proc.spec.lease_seconds)
            out = []
            for r in ready:
                r.status, r.lease_owner, r.lease_expires_at = (
                    Status.IN_PROGRESS.value, worker_id, expires)
                r.attempts += 1
                r.attempt_started_at = r.updated_at = now
                out.append(ClaimedItem(
                    id=r.id, queue=proc.spec.queue_name, process=proc.spec.name,
                    reference=r.reference, payload=r.payload, priority=r.priority,
                    attempt=r.attempts, attempt_limit=r.attempt_limit, deadline=r.deadline,
                    lease_expires_at=expires, enqueued_at=r.created_at))
            return out

    def heartbeat(self, item_ids: Sequence[int], worker_id: str,
                  lease_seconds: float) -> set[int]:
        expires = self.clock() + lease_seconds
        held = set()
        with self.db.lock:
            for item_id in item_ids:
                r = self.db.items.get(item_id)
                if r and r.status == Status.IN_PROGRESS.value and r.lease_owner == worker_id:
                    r.lease_expires_at = expires
                    held.add(item_id)
        return held

    def complete(self, item_id: int, worker_id: str, output: dict[str, Any] | None = None,
                 *, evidence: dict[str, Any] | None = None) -> None:
        self.complete_many([(item_id, output)], worker_id, evidence=evidence)

    def complete_many(self, results: Sequence[tuple[int, dict[str, Any] | None]],
                      worker_id: str, *, evidence: dict[str, Any] | None = None) -> None:
        if not results:
            return
        now = self.clock()
        with self.db.lock:
            rows = [self._held(item_id, worker_id, "complete") for item_id, _ in results]
            events = []
            for row, (_, output) in zip(rows, results, strict=True):
                started = row.attempt_started_at or now
                self._end_attempt(row, worker_id, now, Outcome.DONE, evidence=evidence)
                row.status, row.output, row.finished_at = Status.DONE.value, output, now
                row.error_type = row.error_code = row.error_message = None
                proc = self._by_queue(row.queue_id)
                events.append(self._event(
                    proc, f"worker:{worker_id}", "item.completed", now, item_id=row.id,
                    freed_minutes=proc.spec.manual_minutes_per_item,
                    robot_seconds=max(0.0, now - started), details={"attempt": row.attempts}))
            self._audit(events)

    def fail_business(self, item_id: int, worker_id: str, *, code: str, message: str,
                      evidence: dict[str, Any] | None = None) -> None:
        now = self.clock()
        with self.db.lock:
            row = self._held(item_id, worker_id, "fail business")
            took = self._end_attempt(row, worker_id, now, Outcome.BUSINESS_ERROR,
                                     error_type="BusinessRuleError", code=code,
                                     message=message, evidence=evidence)
            row.status, row.finished_at = Status.BUSINESS_FAILED.value, now
            row.error_type, row.error_code, row.error_message = (
                "BusinessRuleError", code, message)
            proc = self._by_queue(row.queue_id)
            minutes = proc.spec.exception_minutes_per_item
            self._open_review(proc, item_id, "business_exception", code, minutes, now)
            self._audit([self._event(
                proc, f"worker:{worker_id}", "item.business_failed", now, item_id=item_id,
                freed_minutes=-minutes if minutes else None, robot_seconds=took,
                details={"attempt": row.attempts, "code": code})])

    def fail_application(self, item_id: int, worker_id: str, *, error_type: str,
                         message: str, code: str | None = None,
                         evidence: dict[str, Any] | None = None) -> str:
        now = self.clock()
        with self.db.lock:
            if item_id not in self.db.items:
                raise ItemNotFound(f"no work item {item_id}")
            row = self._held(item_id, worker_id, "fail application")
            proc = self._by_queue(row.queue_id)
            decision = proc.spec.retry.decide(row.attempts, row.attempt_limit)
            status = Status.RETRY_SCHEDULED if decision.retry else Status.DEAD
            took = self._end_attempt(row, worker_id, now, Outcome.APPLICATION_ERROR,
                                     error_type=error_type, code=code, message=message,
                                     evidence=evidence)
            row.status, row.available_at = status.value, now + decision.delay_seconds
            row.finished_at = None if decision.retry else now
            row.error_type, row.error_code, row.error_message = error_type, code, message
            if not decision.retry:
                self._open_review(proc, item_id, "dead", code or error_type, 0.0, now)
                self.alerts.raise_locked(dead_alert(proc.spec.name, item_id, row.attempts,
                                                    code or error_type), actor="system")
            self._audit([self._event(
                proc, f"worker:{worker_id}",
                "item.retry_scheduled" if decision.retry else "item.dead", now,
                item_id=item_id, robot_seconds=took,
                details={"attempt": row.attempts, "error_type": error_type, "code": code,
                         "retry_in_seconds": round(decision.delay_seconds, 3)})])
            if decision.retry:
                self.db.notify()
        return status.value

    def release(self, item_id: int, worker_id: str, *, reason: str) -> None:
        now = self.clock()
        with self.db.lock:
            row = self._held(item_id, worker_id, "release")
            took = self._end_attempt(row, worker_id, now, Outcome.RELEASED, message=reason)
            row.status = (Status.RETRY_SCHEDULED if row.attempts > 1 else Status.NEW).value
            row.available_at = now
            row.attempt_limit += 1  # the unfinished attempt must not count
            proc = self._by_queue(row.queue_id)
            self._audit([self._event(proc, f"worker:{worker_id}", "item.released", now,
                                     item_id=item_id, robot_seconds=took,
                                     details={"reason": reason})])
            self.db.notify()

    def recover_expired(self, *, now: float | None = None) -> list[int]:
        now = self.clock() if now is None else now
        recovered = []
        with self.db.lock:
            expired = sorted((r for r in self.db.items.values()
                              if r.status == Status.IN_PROGRESS.value
                              and r.lease_expires_at is not None and r.lease_expires_at < now),
                             key=lambda r: r.lease_expires_at or 0.0)[:500]
            for row in expired:
                owner = row.lease_owner or "?"
                proc = self._by_queue(row.queue_id)
                decision = proc.spec.retry.decide(row.attempts, row.attempt_limit)
                status = Status.RETRY_SCHEDULED if decision.retry else Status.DEAD
                took = self._end_attempt(row, owner, now, Outcome.LOST,
                                         error_type="LeaseExpired",
                                         message=f"lease of {owner} expired")
                row.status, row.available_at = status.value, now + decision.delay_seconds
                row.finished_at = None if decision.retry else now
                row.error_type, row.error_code = "LeaseExpired", None
                row.error_message = f"worker {owner} stopped renewing its lease"
                if not decision.retry:
                    self._open_review(proc, row.id, "dead", "LeaseExpired", 0.0, now)
                    self.alerts.raise_locked(dead_alert(proc.spec.name, row.id, row.attempts,
                                                        "LeaseExpired"), actor="system")
                self._audit([self._event(
                    proc, "system", "item.lease_expired", now, item_id=row.id,
                    robot_seconds=took, details={"worker": owner, "attempt": row.attempts,
                                                 "next": status.value})])
                recovered.append(row.id)
                if decision.retry:
                    self.db.notify()
        return recovered

    def wait_for_work(self, timeout: float) -> bool:
        with self.db.wake:
            start = self.db.version
            return self.db.wake.wait_for(lambda: self.db.version != start, timeout)

    # -- operating --------------------------------------------------------------------
    def _operate(self, item_ids: Sequence[int], allowed: frozenset[Status], action: str,
                 actor: str, reason: str, change: Callable[[ItemRow, float], None]
                 ) -> list[int]:
        now = self.clock()
        done = []
        with self.db.lock:
            for item_id in sorted(set(item_ids)):
                row = self.db.items.get(item_id)
                if row is None or row.status not in {s.value for s in allowed}:
                    continue
                change(row, now)
                row.updated_at = now
                self._audit([self._event(self._by_queue(row.queue_id), actor, action, now,
                                         item_id=item_id,
                                         details={"reason": reason} if reason else {})])
                done.append(item_id)
            if done and action == "item.retried":
                self.db.notify()
        return done

    def retry(self, item_ids: Sequence[int], *, actor: str, reason: str = "") -> list[int]:
        def again(row: ItemRow, now: float) -> None:
            budget = self._by_queue(row.queue_id).spec.retry.max_attempts
            row.status, row.available_at, row.finished_at = Status.NEW.value, now, None
            row.attempt_limit = row.attempts + budget
        return self._operate(item_ids, RETRYABLE_BY_OPERATOR, "item.retried", actor, reason,
                             again)

    def abandon(self, item_ids: Sequence[int], *, actor: str, reason: str) -> list[int]:
        def give_up(row: ItemRow, now: float) -> None:
            row.status, row.finished_at = Status.ABANDONED.value, now
            row.error_message = reason or None
        return self._operate(item_ids, ABANDONABLE, "item.abandoned", actor, reason, give_up)

    def _view(self, row: ItemRow, history: tuple[Attempt, ...] = ()) -> ItemView:
        proc = self._by_queue(row.queue_id)
        return ItemView(
            id=row.id, queue=proc.spec.queue_name, process=proc.spec.name,
            reference=row.reference, status=row.status, priority=row.priority,
            attempts=row.attempts, attempt_limit=row.attempt_limit, payload=row.payload,
            output=row.output, error_type=row.error_type, error_code=row.error_code,
            error_message=row.error_message, deadline=row.deadline,
            available_at=row.available_at, lease_owner=row.lease_owner,
            lease_expires_at=row.lease_expires_at, created_at=row.created_at,
            updated_at=row.updated_at, finished_at=row.finished_at, history=history,
            purged=tuple(p for p in (row.purged or "").split(",") if p))

    def get_item(self, item_id: int) -> ItemView:
        with self.db.lock:
            row = self.db.items.get(item_id)
            if row is None:
                raise ItemNotFound(f"no work item {item_id}: see `rpa items list`")
            history = tuple(Attempt(number=a.number, worker_id=a.worker_id,
                                    started_at=a.started_at, ended_at=a.ended_at,
                                    outcome=a.outcome, error_type=a.error_type,
                                    error_code=a.error_code, error_message=a.error_message,
                                    evidence=a.evidence)
                            for a in self.db.attempts if a.item_id == item_id)
            return self._view(row, history)

    def list_items(self, flt: ItemFilter) -> list[ItemView]:
        with self.db.lock:
            rows = list(self.db.items.values())
            if flt.process:
                queue_id = self._process(flt.process).queue_id
                rows = [r for r in rows if r.queue_id == queue_id]
            if flt.processes is not None:
                ids = {self._process(p).queue_id for p in flt.processes
                       if p in self.db.processes}
                rows = [r for r in rows if r.queue_id in ids]
            if flt.before is not None:
                rows = [r for r in rows if (r.updated_at, r.id) < flt.before]
            if flt.statuses:
                rows = [r for r in rows if r.status in flt.statuses]
            if flt.since is not None:
                rows = [r for r in rows if r.updated_at >= flt.since]
            if flt.until is not None:
                rows = [r for r in rows if r.updated_at < flt.until]
            if flt.reference is not None:
                rows = [r for r in rows if r.reference == flt.reference]
            if flt.error_code:
                rows = [r for r in rows if r.error_code == flt.error_code]
            rows.sort(key=lambda r: (r.updated_at, r.id), reverse=True)
            if flt.limit:
                rows = rows[:flt.limit]
            return [self._view(r) for r in rows]

    def queue_status(self, *, now: float | None = None,
                     risk_window_seconds: float = 3600.0) -> list[QueueStatus]:
        now = self.clock() if now is None else now
        with self.db.lock:
            out = []
            for proc in sorted(self.db.processes.values(), key=lambda p: p.spec.queue_name):
                mine = [r for r in self.db.items.values() if r.queue_id == proc.queue_id]
                counts: dict[str, int] = {}
                for r in mine:
                    counts[r.status] = counts.get(r.status, 0) + 1
                waiting = [r.created_at for r in mine if r.status in WAITING]
                due = [r.due_at for r in mine if r.status in OPEN and r.due_at is not None
                       and r.due_at < now + risk_window_seconds]
                out.append(QueueStatus(
                    queue=proc.spec.queue_name, process=proc.spec.name, paused=proc.paused,
                    counts=counts, oldest_waiting_at=min(waiting) if waiting else None,
                    breached=sum(1 for d in due if d < now),
                    at_risk=sum(1 for d in due if d >= now)))
            return out

    # -- audit -----------------------------------------------------------------------
    def record_event(self, *, actor: str, action: str, details: dict[str, Any],
                     process: str | None = None) -> None:
        with self.db.lock:
            self._audit([AuditEvent(actor=actor, action=action, ts=self.clock(),
                                    process=process, details=details)])

    def _batch_event_of(self, item_id: int) -> int | None:
        row = self.db.items.get(item_id)
        if row is None:
            return None
        name = self._by_queue(row.queue_id).spec.name
        for e in self.db.events:
            if (e["action"] == "items.enqueued" and e["ts"] == row.created_at
                    and e["process"] == name):
                span = json.loads(e["details"])
                if span.get("first_id", 0) <= item_id <= span.get("last_id", -1):
                    return int(e["id"])
        return None

    def audit_events(self, *, limit: int = 50, item_id: int | None = None,
                     process: str | None = None, action: str | None = None,
                     since: float | None = None,
                     until: float | None = None) -> list[dict[str, Any]]:
        pattern = re.compile(re.escape(action).replace(r"\*", ".*")) if action else None
        with self.db.lock:
            rows = list(self.db.events)
            if item_id is not None:
                batch = self._batch_event_of(item_id)
                rows = [e for e in rows if e["item_id"] == item_id or e["id"] == batch]
            if process:
                rows = [e for e in rows if e["process"] == process]
            if pattern is not None:
                rows = [e for e in rows if pattern.fullmatch(e["action"])]
            if since is not None:
                rows = [e for e in rows if e["ts"] >= since]
            if until is not None:
                rows = [e for e in rows if e["ts"] < until]
            rows.sort(key=lambda e: (e["ts"], e["id"]), reverse=True)
            return [dict(e) for e in rows[:limit]]

    def verify_audit(self, against: Checkpoint | None = None) -> VerifyResult:
        with self.db.lock:
            return self.db.verify(self.audit_key, against)

    def audit_key_status(self) -> str:
        if self.audit_key is None:
            return "missing"
        with self.db.lock:
            last = self.db.checkpoints[-1] if self.db.checkpoints else None
        if last is None:
            return "unproven"
        return "ok" if last.sealed_by(self.audit_key) else "wrong"

    def checkpoint_audit(self, *, actor: str) -> Checkpoint:
        if self.audit_key is None:
            raise AuditKeyMissing("a checkpoint is sealed with the audit key, and this store "
                                  "was given none")
        with self.db.lock:
            checkpoint = self.db.checkpoint(self.audit_key, actor, self.clock())
            self._audit([AuditEvent(actor=actor, action="audit.checkpoint", ts=self.clock(),
                                    details={"checkpoint": checkpoint.id,
                                             "chains": len(checkpoint.chains)})])
        return checkpoint
