"""`ReviewStore` and `OrganisationStore` in memory, for unit tests of the review rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from queues.chain import AuditEvent
from queues.errors import IllegalTransition
from queues.models import NewItem
from queues.organisation_store import (
    OrganisationStore,
    OrganisationVersion,
    OrganisationVersionError,
    loaded_details,
)
from queues.review_store import (
    OPEN,
    RESOLVED,
    Placement,
    Resolution,
    ReviewError,
    ReviewStore,
    ReviewTask,
    TaskFilter,
    TaskNotFound,
    conflict,
    resolution_problem,
)
from queues.states import RETRYABLE_BY_OPERATOR, Status
from queues.validation import validate_items

if TYPE_CHECKING:
    from queues.testing.memory_store import InMemoryStore


class MemoryReviewStore(ReviewStore):
    def __init__(self, store: InMemoryStore):
        self.store = store
        self.tasks: dict[int, ReviewTask] = {}

    def open(self, *, item_id: int, process: str, owner: str, cost_centre: str, kind: str,
             code: str | None, estimate_minutes: float, now: float) -> None:
        """Called by the memory store's exception paths, under its lock."""
        task_id = self.store.db.new_id("review_tasks")
        self.tasks[task_id] = ReviewTask(task_id, item_id, process, owner, cost_centre, kind,
                                         code, float(estimate_minutes or 0.0), now)

    def _event(self, task: ReviewTask, actor: str, action: str, **details: Any) -> None:
        self.store._audit([AuditEvent(
            actor=actor, action=action, ts=self.store.clock(), process=task.process,
            owner=task.owner, cost_centre=task.cost_centre, item_id=task.item_id,
            details={"task": task.id, **details})])

    def _get(self, task_id: int) -> ReviewTask:
        found = self.tasks.get(task_id)
        if found is None:
            raise TaskNotFound(f"no review task {task_id}: see `rpa review list`")
        return found

    def _set(self, task: ReviewTask, **values: Any) -> ReviewTask:
        self.tasks[task.id] = dataclasses.replace(task, **values)
        return self.tasks[task.id]

    def find(self, flt: TaskFilter) -> list[ReviewTask]:
        with self.store.db.lock:
            found = [t for t in self.tasks.values()
                     if (flt.status is None or t.status == flt.status)
                     and (flt.groups is None or t.review_group in flt.groups)
                     and (flt.processes is None or t.process in flt.processes)
                     and (flt.claimed_by is None or t.claimed_by == flt.claimed_by)
                     and (flt.overdue_at is None
                          or (t.due_at is not None and t.due_at <= flt.overdue_at))
                     and (flt.item_id is None or t.item_id == flt.item_id)
                     and (flt.before_id is None or t.id < flt.before_id)]
        return sorted(found, key=lambda t: -t.id)[:max(1, flt.limit)]

    def get(self, task_id: int) -> ReviewTask:
        with self.store.db.lock:
            return self._get(task_id)

    def unplaced(self, limit: int = 500) -> list[ReviewTask]:
        with self.store.db.lock:
            return sorted((t for t in self.tasks.values() if not t.placed),
                          key=lambda t: t.id)[:limit]

    def place(self, placements: Sequence[Placement]) -> int:
        placed = 0
        with self.store.db.lock:
            for p in placements:
                task = self.tasks.get(p.task_id)
                if task is None or task.placed:
                    continue
                task = self._set(task, placed=True, review_group=p.review_group,
                                 due_at=p.due_at)
                self._event(task, "system", "review.opened", group=p.review_group,
                            due_at=p.due_at, kind=task.kind)
                placed += 1
        return placed

    def claim(self, task_id: int, who: str, *, actor: str) -> ReviewTask:
        with self.store.db.lock:
            task = self._get(task_id)
            problem = conflict(task, who, "claim")
            if problem is not None:
                raise problem
            if task.claimed_by == who:
                return task
            task = self._set(task, claimed_by=who, claimed_at=self.store.clock())
            self._event(task, actor, "review.claimed", by=who)
            return task

    def unclaim(self, task_id: int, who: str, *, actor: str, force: bool = False
                ) -> ReviewTask:
        with self.store.db.lock:
            task = self._get(task_id)
            if not task.is_open or (task.claimed_by not in (None, who) and not force):
                raise conflict(task, who, "unclaim") or ReviewError("conflict")
            if task.claimed_by is None:
                return task
            holder = task.claimed_by
            task = self._set(task, claimed_by=None, claimed_at=None)
            self._event(task, actor, "review.unclaimed", was=holder)
            return task

    def resolve(self, task_id: int, who: str, resolution: Resolution, *, actor: str
                ) -> ReviewTask:
        problem = resolution_problem(resolution)
        if problem is not None:
            raise ReviewError(problem)
        now = self.store.clock()
        with self.store.db.lock:
            task = self._get(task_id)
            blocked = conflict(task, who, "resolve")
            if blocked is not None:
                raise blocked
            if resolution.outcome == "fixed_and_retried":
                row = self.store.db.items.get(task.item_id)
                if row is None:
                    raise ReviewError(f"work item {task.item_id} is gone")
                if row.status not in {s.value for s in RETRYABLE_BY_OPERATOR}:
                    raise IllegalTransition(f"item {task.item_id} is {row.status}: it cannot "
                                            "be queued again; resolve the task another way")
                proc = self.store._by_queue(row.queue_id)
                payload = resolution.payload or {}
                validate_items(proc.spec.input_schema, [NewItem(row.reference, payload)])
                row.payload, row.status, row.available_at = payload, Status.NEW.value, now
                row.finished_at, row.updated_at = None, now
                row.attempt_limit = row.attempts + proc.spec.retry.max_attempts
                self.store._audit([self.store._event(
                    proc, actor, "item.retried", now, item_id=row.id,
                    details={"reason": f"review task {task.id}: payload corrected"})])
                self.store.db.notify()
            task = self._set(task, status=RESOLVED, outcome=resolution.outcome,
                             minutes=float(resolution.minutes), resolved_by=who,
                             resolved_at=now, reason=resolution.reason or None,
                             claimed_by=task.claimed_by or who,
                             claimed_at=task.claimed_at or now)
            self._event(task, actor, "review.resolved", outcome=resolution.outcome,
                        minutes=float(resolution.minutes),
                        reason_given=bool(resolution.reason), group=task.review_group)
            return task

    def escalate_overdue(self, now: float, *, actor: str) -> list[ReviewTask]:
        escalated = []
        with self.store.db.lock:
            for task in sorted(self.tasks.values(), key=lambda t: t.id):
                if task.status == OPEN and task.escalated_at is None \
                        and task.due_at is not None and task.due_at <= now:
                    task = self._set(task, escalated_at=now)
                    escalated.append(task)
                    self._event(task, actor, "review.escalated", group=task.review_group,
                                due_at=task.due_at, to=task.owner)
        return escalated


class MemoryOrganisationStore(OrganisationStore):
    def __init__(self, store: InMemoryStore):
        self.store = store
        self.rows: list[OrganisationVersion] = []

    def versions(self) -> list[OrganisationVersion]:
        with self.store.db.lock:
            return sorted(self.rows, key=lambda v: (v.valid_from, v.id))

    def add(self, document: dict[str, Any], digest: str, valid_from: float, *, actor: str
            ) -> OrganisationVersion | None:
        now = self.store.clock()
        with self.store.db.lock:
            latest = self.current()
            if latest is not None and latest.digest == digest:
                return None
            if latest is not None and valid_from < latest.valid_from:
                raise OrganisationVersionError(
                    "a new organisation cannot take effect before the one in force does "
                    "(that would rewrite earlier periods); give a later --from date")
            version = OrganisationVersion(len(self.rows) + 1, valid_from, digest, document, now,
                                          actor)
            self.rows.append(version)
            self.store._audit([AuditEvent(
                actor=actor, action="organisation.loaded", ts=now,
                details=loaded_details(version.id, digest, valid_from, document))])
            return version
