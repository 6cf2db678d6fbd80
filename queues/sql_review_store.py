"""`ReviewStore` and `OrganisationStore` on SQL, beside the work items and the audit chain."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

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
from queues.schema import organisation_versions, processes, queues_t, review_tasks, work_items
from queues.sealing import open_text, seal_json, seal_text
from queues.states import RETRYABLE_BY_OPERATOR, Status
from queues.validation import validate_items

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

rt, wi = review_tasks, work_items
TASK_FIELDS = [f.name for f in dataclasses.fields(ReviewTask)]


def open_task_row(*, item_id: int, process: str, owner: str, cost_centre: str, kind: str,
                  code: str | None, estimate_minutes: float, now: float) -> dict[str, Any]:
    """The values of a new task (shared by every engine's exception paths)."""
    return {"item_id": item_id, "process": process, "owner": owner,
            "cost_centre": cost_centre, "kind": kind, "code": code,
            "estimate_minutes": float(estimate_minutes or 0.0), "opened_at": now,
            "placed": False, "status": OPEN}


class SqlReviewStore(ReviewStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    # -- plumbing ---------------------------------------------------------------------
    def _task(self, row: sa.RowMapping) -> ReviewTask:
        values = {k: row[k] for k in TASK_FIELDS}
        values["reason"] = open_text(self.store.sealer, values["reason"])
        return ReviewTask(**values)

    def _locked(self, conn: sa.Connection, task_id: int) -> ReviewTask:
        row = conn.execute(sa.select(rt).where(rt.c.id == task_id).with_for_update()
                           ).mappings().first()
        if row is None:
            raise TaskNotFound(f"no review task {task_id}: see `rpa review list`")
        return self._task(row)

    def _event(self, conn: sa.Connection, task: ReviewTask, actor: str, action: str,
               **details: Any) -> None:
        self.store._audit(conn, [AuditEvent(
            actor=actor, action=action, ts=self.store.clock(), process=task.process,
            owner=task.owner, cost_centre=task.cost_centre, item_id=task.item_id,
            details={"task": task.id, **details})])

    def _set(self, conn: sa.Connection, task_id: int, **values: Any) -> ReviewTask:
        conn.execute(sa.update(rt).where(rt.c.id == task_id).values(**values))
        return self._task(conn.execute(sa.select(rt).where(rt.c.id == task_id)).mappings().one())

    # -- reading ----------------------------------------------------------------------
    def find(self, flt: TaskFilter) -> list[ReviewTask]:
        stmt = sa.select(rt)
        if flt.status is not None:
            stmt = stmt.where(rt.c.status == flt.status)
        if flt.groups is not None:
            stmt = stmt.where(rt.c.review_group.in_(flt.groups))
        if flt.processes is not None:
            stmt = stmt.where(rt.c.process.in_(flt.processes))
        if flt.claimed_by is not None:
            stmt = stmt.where(rt.c.claimed_by == flt.claimed_by)
        if flt.overdue_at is not None:
            stmt = stmt.where(rt.c.due_at <= flt.overdue_at)
        if flt.item_id is not None:
            stmt = stmt.where(rt.c.item_id == flt.item_id)
        if flt.before_id is not None:
            stmt = stmt.where(rt.c.id < flt.before_id)
        stmt = stmt.order_by(rt.c.id.desc()).limit(max(1, min(flt.limit, 10_000)))
        with self.store._read("list review tasks") as conn:
            return [self._task(r) for r in conn.execute(stmt).mappings()]

    def get(self, task_id: int) -> ReviewTask:
        with self.store._read("read a review task") as conn:
            row = conn.execute(sa.select(rt).where(rt.c.id == task_id)).mappings().first()
        if row is None:
            raise TaskNotFound(f"no review task {task_id}: see `rpa review list`")
        return self._task(row)

    def unplaced(self, limit: int = 500) -> list[ReviewTask]:
        with self.store._read("read new review tasks") as conn:
            rows = conn.execute(sa.select(rt).where(rt.c.placed.is_(False))
                                .order_by(rt.c.id).limit(limit)).mappings()
            return [self._task(r) for r in rows]

    # -- changing ---------------------------------------------------------------------
    def place(self, placements: Sequence[Placement]) -> int:
        placed = 0
        with self.store._write("place review tasks") as conn:
            for p in placements:
                row = conn.execute(
                    sa.update(rt).where(rt.c.id == p.task_id, rt.c.placed.is_(False))
                    .values(placed=True, review_group=p.review_group, due_at=p.due_at)
                    .returning(*rt.c)).mappings().first()
                if row is None:
                    continue  # placed meanwhile by another node
                placed += 1
                self._event(conn, self._task(row), "system", "review.opened",
                            group=p.review_group, due_at=p.due_at, kind=row["kind"])
        return placed

    def claim(self, task_id: int, who: str, *, actor: str) -> ReviewTask:
        with self.store._write(f"claim review task {task_id}") as conn:
            task = self._locked(conn, task_id)
            problem = conflict(task, who, "claim")
            if problem is not None:
                raise problem
            if task.claimed_by == who:
                return task
            task = self._set(conn, task_id, claimed_by=who, claimed_at=self.store.clock())
            self._event(conn, task, actor, "review.claimed", by=who)
        return task

    def unclaim(self, task_id: int, who: str, *, actor: str, force: bool = False
                ) -> ReviewTask:
        with self.store._write(f"unclaim review task {task_id}") as conn:
            task = self._locked(conn, task_id)
            if not task.is_open:
                raise conflict(task, who, "unclaim") or ReviewError("resolved")
            if task.claimed_by is None:
                return task
            if task.claimed_by != who and not force:
                raise conflict(task, who, "unclaim") or ReviewError("claimed")
            holder = task.claimed_by
            task = self._set(conn, task_id, claimed_by=None, claimed_at=None)
            self._event(conn, task, actor, "review.unclaimed", was=holder)
        return task

    def resolve(self, task_id: int, who: str, resolution: Resolution, *, actor: str
                ) -> ReviewTask:
        problem = resolution_problem(resolution)
        if problem is not None:
            raise ReviewError(problem)
        now = self.store.clock()
        with self.store._write(f"resolve review task {task_id}") as conn:
            task = self._locked(conn, task_id)
            blocked = conflict(task, who, "resolve")
            if blocked is not None:
                raise blocked
            if resolution.outcome == "fixed_and_retried":
                self._requeue(conn, task, resolution.payload or {}, actor, now)
            task = self._set(
                conn, task_id, status=RESOLVED, outcome=resolution.outcome,
                minutes=float(resolution.minutes), resolved_by=who, resolved_at=now,
                claimed_by=task.claimed_by or who, claimed_at=task.claimed_at or now,
                reason=seal_text(self.store.sealer, task.process, resolution.reason or None))
            self._event(conn, task, actor, "review.resolved", outcome=resolution.outcome,
                        minutes=float(resolution.minutes), reason_given=bool(resolution.reason),
                        group=task.review_group)
        return task

    def _requeue(self, conn: sa.Connection, task: ReviewTask, payload: dict[str, Any],
                 actor: str, now: float) -> None:
        """Put the corrected payload on the item and queue it again, as a new attempt."""
        item = conn.execute(sa.select(wi.c.id, wi.c.queue_id, wi.c.reference, wi.c.status)
                            .where(wi.c.id == task.item_id).with_for_update()).first()
        if item is None:
            raise ReviewError(f"work item {task.item_id} of review task {task.id} is gone "
                              "(purged?); resolve the task as done_by_hand or no_action")
        if item.status not in {s.value for s in RETRYABLE_BY_OPERATOR}:
            raise IllegalTransition(f"item {task.item_id} is {item.status}: it cannot be "
                                    "queued again; resolve the task another way")
        snap = self.store.snapshots.by_queue(conn, item.queue_id)
        validate_items(snap.input_schema, [NewItem(item.reference, payload)])
        budget = (sa.select(processes.c.max_attempts)
                  .join(queues_t, queues_t.c.process_id == processes.c.id)
                  .where(queues_t.c.id == wi.c.queue_id).scalar_subquery())
        conn.execute(sa.update(wi).where(wi.c.id == item.id).values(
            payload=seal_json(self.store.sealer, snap.name, payload),
            status=Status.NEW.value, available_at=now, finished_at=None, updated_at=now,
            attempt_limit=wi.c.attempts + budget))
        self.store._audit(conn, [self.store._event(
            snap, actor, "item.retried", now, item_id=item.id,
            details={"reason": f"review task {task.id}: payload corrected"})])
        self.store._notify(conn, item.queue_id)

    def escalate_overdue(self, now: float, *, actor: str) -> list[ReviewTask]:
        escalated = []
        with self.store._write("escalate overdue review tasks") as conn:
            rows = conn.execute(
                sa.update(rt).where(rt.c.status == OPEN, rt.c.due_at <= now,
                                    rt.c.escalated_at.is_(None))
                .values(escalated_at=now).returning(*rt.c)).mappings().all()
            for row in sorted(rows, key=lambda r: r["id"]):
                task = self._task(row)
                escalated.append(task)
                self._event(conn, task, actor, "review.escalated", group=task.review_group,
                            due_at=task.due_at, to=task.owner)
        return escalated


class SqlOrganisationStore(OrganisationStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    @staticmethod
    def _version(row: sa.RowMapping) -> OrganisationVersion:
        return OrganisationVersion(id=int(row["id"]), valid_from=float(row["valid_from"]),
                                   digest=row["digest"], document=dict(row["document"]),
                                   loaded_at=float(row["loaded_at"]),
                                   loaded_by=row["loaded_by"])

    def versions(self) -> list[OrganisationVersion]:
        ov = organisation_versions
        with self.store._read("read the organisation") as conn:
            rows = conn.execute(sa.select(ov).order_by(ov.c.valid_from, ov.c.id)).mappings()
            return [self._version(r) for r in rows]

    def add(self, document: dict[str, Any], digest: str, valid_from: float, *, actor: str
            ) -> OrganisationVersion | None:
        ov = organisation_versions
        now = self.store.clock()
        with self.store._write("load the organisation") as conn:
            latest = conn.execute(sa.select(ov).order_by(ov.c.valid_from.desc(), ov.c.id.desc())
                                  .limit(1).with_for_update()).mappings().first()
            if latest is not None and latest["digest"] == digest:
                return None
            if latest is not None and valid_from < float(latest["valid_from"]):
                raise OrganisationVersionError(
                    "a new organisation cannot take effect before the one in force does "
                    "(that would rewrite earlier periods); give a later --from date")
            new_id = conn.execute(sa.insert(ov).values(
                valid_from=valid_from, digest=digest, document=document, loaded_at=now,
                loaded_by=actor).returning(ov.c.id)).scalar_one()
            self.store._audit(conn, [AuditEvent(
                actor=actor, action="organisation.loaded", ts=now,
                details=loaded_details(int(new_id), digest, valid_from, document))])
        return OrganisationVersion(int(new_id), valid_from, digest, document, now, actor)
