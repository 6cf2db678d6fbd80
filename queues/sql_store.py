"""The operator's side of the SQL store: retry, abandon, look, count, verify."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from queues import audit
from queues.checkpoints import Checkpoint, from_row
from queues.errors import AuditKeyMissing, ItemNotFound, QueueNotFound
from queues.models import Attempt, ItemFilter, ItemView, QueueStatus
from queues.schema import (
    OPEN_SQL,
    attempts_t,
    audit_checkpoints,
    audit_events,
    processes,
    queues_t,
    work_items,
)
from queues.sealing import open_json, open_text
from queues.sql_store_core import SqlStoreCore
from queues.states import ABANDONABLE, RETRYABLE_BY_OPERATOR, Status

wi = work_items


class SqlStore(SqlStoreCore):
    """The complete SQL store; engines subclass it for their claim and wake-up."""

    def _operate(self, item_ids: Sequence[int], allowed: frozenset[Status], action: str,
                 actor: str, reason: str, values: dict[str, Any]) -> list[int]:
        """Apply one operator action to the items in `allowed` states, audited per item."""
        if not item_ids:
            return []
        now = self.clock()
        with self._write(action) as conn:
            rows = conn.execute(
                sa.update(wi).where(wi.c.id.in_(list(item_ids)),
                                    wi.c.status.in_([s.value for s in allowed]))
                .values(updated_at=now, **values)
                .returning(wi.c.id, wi.c.queue_id)
            ).all()
            events, queues = [], set()
            for r in sorted(rows, key=lambda r: r.id):
                snap = self.snapshots.by_queue(conn, r.queue_id)
                events.append(self._event(snap, actor, action, now, item_id=r.id,
                                          details={"reason": reason} if reason else {}))
                queues.add(r.queue_id)
            self._audit(conn, events)
            if action == "item.retried":
                for queue_id in queues:
                    self._notify(conn, queue_id)
        return sorted(r.id for r in rows)

    def retry(self, item_ids: Sequence[int], *, actor: str, reason: str = "") -> list[int]:
        # A fresh budget of the process's max attempts on top of those spent.
        budget = (sa.select(processes.c.max_attempts)
                  .join(queues_t, queues_t.c.process_id == processes.c.id)
                  .where(queues_t.c.id == wi.c.queue_id).scalar_subquery())
        return self._operate(item_ids, RETRYABLE_BY_OPERATOR, "item.retried", actor, reason, {
            "status": Status.NEW.value, "available_at": self.clock(), "finished_at": None,
            "attempt_limit": wi.c.attempts + budget,
        })

    def abandon(self, item_ids: Sequence[int], *, actor: str, reason: str) -> list[int]:
        return self._operate(item_ids, ABANDONABLE, "item.abandoned", actor, reason, {
            "status": Status.ABANDONED.value, "finished_at": self.clock(),
            "error_message": reason or None,
        })

    # -- looking ------------------------------------------------------------------
    def _item_select(self) -> sa.Select[Any]:
        return (sa.select(wi, queues_t.c.name.label("queue_name"),
                          processes.c.name.label("process_name"))
                .join(queues_t, queues_t.c.id == wi.c.queue_id)
                .join(processes, processes.c.id == queues_t.c.process_id))

    def _view(self, row: Mapping[Any, Any], history: tuple[Attempt, ...] = ()) -> ItemView:
        sealer = self.sealer
        return ItemView(
            id=row["id"], queue=row["queue_name"], process=row["process_name"],
            reference=row["reference"], status=row["status"], priority=row["priority"],
            attempts=row["attempts"], attempt_limit=row["attempt_limit"],
            payload=open_json(sealer, row["payload"]), output=open_json(sealer, row["output"]),
            error_type=row["error_type"], error_code=row["error_code"],
            error_message=open_text(sealer, row["error_message"]),
            deadline=row["deadline"], available_at=row["available_at"],
            lease_owner=row["lease_owner"], lease_expires_at=row["lease_expires_at"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            finished_at=row["finished_at"], history=history,
            purged=tuple(p for p in (row["purged"] or "").split(",") if p))

    def get_item(self, item_id: int) -> ItemView:
        with self._read("read an item") as conn:
            row = conn.execute(self._item_select().where(wi.c.id == item_id)).mappings().first()
            if row is None:
                raise ItemNotFound(f"no work item {item_id}: see `rpa items list`")
            tries = conn.execute(sa.select(attempts_t).where(attempts_t.c.item_id == item_id)
                                 .order_by(attempts_t.c.id)).mappings().all()
        history = tuple(Attempt(number=a["number"], worker_id=a["worker_id"],
                                started_at=a["started_at"], ended_at=a["ended_at"],
                                outcome=a["outcome"], error_type=a["error_type"],
                                error_code=a["error_code"],
                                error_message=open_text(self.sealer, a["error_message"]),
                                evidence=a["evidence"]) for a in tries)
        return self._view(row, history)

    def list_items(self, flt: ItemFilter) -> list[ItemView]:
        """Items by the newest change, from `work_items` alone.

        Not joined to the queue and process tables: with statistics (after
        ANALYZE), SQLite then drove the query from `queues` and sorted every item
        of each queue (40 ms at 50,000 items, linear beyond); alone, it walks the
        `updated_at` index and stops at the limit. Names come from the snapshots.
        """
        stmt = sa.select(wi)
        with self._read("list items") as conn:
            if flt.process:
                stmt = stmt.where(wi.c.queue_id == self.snapshots.by_name(conn, flt.process)
                                  .queue_id)
            if flt.processes is not None:
                stmt = stmt.where(wi.c.queue_id.in_(self._queue_ids(conn, flt.processes)))
            if flt.before is not None:
                at, item_id = flt.before
                stmt = stmt.where(sa.or_(wi.c.updated_at < at,
                                         sa.and_(wi.c.updated_at == at, wi.c.id < item_id)))
            if flt.statuses:
                stmt = stmt.where(wi.c.status.in_(list(flt.statuses)))
            if flt.since is not None:
                stmt = stmt.where(wi.c.updated_at >= flt.since)
            if flt.until is not None:
                stmt = stmt.where(wi.c.updated_at < flt.until)
            if flt.error_code:
                stmt = stmt.where(wi.c.error_code == flt.error_code)
            if flt.reference is not None:
                stmt = stmt.where(wi.c.reference.in_(self._reference_forms(flt.reference)))
            stmt = stmt.order_by(wi.c.updated_at.desc(), wi.c.id.desc())
            if flt.limit:
                stmt = stmt.limit(flt.limit)
            rows = conn.execute(stmt).mappings().all()
            names = {q: self.snapshots.by_queue(conn, q) for q in {r["queue_id"] for r in rows}}
        return [self._view({**r, "queue_name": names[r["queue_id"]].queue,
                            "process_name": names[r["queue_id"]].name}) for r in rows]

    def _queue_ids(self, conn: sa.Connection, names: Sequence[str]) -> list[int]:
        """The queues of the named processes that exist (an owner's may be none)."""
        found = []
        for name in names:
            try:
                found.append(self.snapshots.by_name(conn, name).queue_id)
            except QueueNotFound:
                continue
        return found

    def _reference_forms(self, reference: str) -> list[str]:
        """The reference as given, and its digest in every process that hashes references."""
        forms = [reference]
        if self.sealer is not None:
            with self._read("read the processes") as conn:
                names = conn.execute(sa.select(processes.c.name, processes.c.definition))
                forms += [self.sealer.digest(name, reference) for name, definition in names
                          if (definition or {}).get("hash_reference")]
        return forms

    def queue_status(self, *, now: float | None = None,
                     risk_window_seconds: float = 3600.0) -> list[QueueStatus]:
        now = self.clock() if now is None else now
        with self._read("count items") as conn:
            if conn.dialect.name == "postgresql":
                # Its estimate picks a hash aggregate over a parallel scan; grouping the
                # (queue, status, ...) index's sorted entries is twice as fast (1M: 119
                # against 216 ms here). For this read transaction only.
                conn.exec_driver_sql("SET LOCAL enable_hashagg = off")
            counts: dict[int, dict[str, int]] = {}
            for r in conn.execute(sa.select(wi.c.queue_id, wi.c.status, sa.func.count())
                                  .group_by(wi.c.queue_id, wi.c.status)):
                counts.setdefault(r[0], {})[r[1]] = r[2]
            # The oldest waiting item: a min() per (queue, status) is one index seek
            # each; grouping over all claimable items read every one of them.
            firsts = [sa.select(sa.func.min(wi.c.created_at))
                      .where(wi.c.queue_id == queues_t.c.id, wi.c.status == status.value)
                      .scalar_subquery()
                      for status in (Status.NEW, Status.RETRY_SCHEDULED)]
            oldest: dict[int, float] = {}
            for queue_id, *found in conn.execute(sa.select(queues_t.c.id, *firsts)):
                waiting = [f for f in found if f is not None]
                if waiting:
                    oldest[queue_id] = min(waiting)
            risk: dict[int, tuple[int, int]] = {}
            for r in conn.execute(
                sa.select(wi.c.queue_id,
                          sa.func.sum(sa.case((wi.c.due_at < now, 1), else_=0)),
                          sa.func.sum(sa.case((wi.c.due_at >= now, 1), else_=0)))
                .where(OPEN_SQL, wi.c.due_at < now + risk_window_seconds)
                .group_by(wi.c.queue_id)):
                risk[r[0]] = (int(r[1] or 0), int(r[2] or 0))
            queues = conn.execute(
                sa.select(queues_t.c.id, queues_t.c.name, processes.c.name.label("process"),
                          processes.c.paused)
                .join(processes, processes.c.id == queues_t.c.process_id)
                .order_by(queues_t.c.name)).all()
        return [QueueStatus(queue=q.name, process=q.process, paused=q.paused,
                            counts=counts.get(q.id, {}), oldest_waiting_at=oldest.get(q.id),
                            breached=risk.get(q.id, (0, 0))[0],
                            at_risk=risk.get(q.id, (0, 0))[1]) for q in queues]

    def record_event(self, *, actor: str, action: str, details: dict[str, Any],
                     process: str | None = None) -> None:
        """Append a standalone audit event (a credential read, a worker start)."""
        now = self.clock()
        with self._write(f"audit {action}") as conn:
            self._audit(conn, [audit.AuditEvent(actor=actor, action=action, ts=now,
                                                process=process, details=details)])

    # -- audit -------------------------------------------------------------------------
    def _enqueue_event_of(self, item_id: int) -> int | None:
        """The id of the `items.enqueued` event whose batch added this item.

        The batch event has the enqueue's time (the item's `created_at`) and
        process, and names its first and last item id.
        """
        ae = audit_events
        with self._read("find an item's enqueue event") as conn:
            item = conn.execute(
                sa.select(wi.c.created_at, processes.c.name)
                .join(queues_t, queues_t.c.id == wi.c.queue_id)
                .join(processes, processes.c.id == queues_t.c.process_id)
                .where(wi.c.id == item_id)).first()
            if item is None:
                return None
            candidates = conn.execute(
                sa.select(ae.c.id, ae.c.details).where(
                    ae.c.action == "items.enqueued", ae.c.ts == item.created_at,
                    ae.c.process == item.name)).all()
        for event_id, details in candidates:
            span = json.loads(details)
            if span.get("first_id", 0) <= item_id <= span.get("last_id", -1):
                return int(event_id)
        return None

    def verify_audit(self, against: Checkpoint | None = None) -> audit.VerifyResult:
        with self._read("verify the audit log") as conn:
            return audit.verify(conn, self.audit_key, against)

    def audit_key_status(self) -> str:
        if self.audit_key is None:
            return "missing"
        with self._read("read the last checkpoint") as conn:
            row = conn.execute(sa.select(audit_checkpoints).order_by(
                audit_checkpoints.c.id.desc()).limit(1)).mappings().first()
        if row is None:
            return "unproven"
        return "ok" if from_row(dict(row)).sealed_by(self.audit_key) else "wrong"

    def checkpoint_audit(self, *, actor: str) -> Checkpoint:
        if self.audit_key is None:
            raise AuditKeyMissing("a checkpoint is sealed with the audit key, and this store "
                                  "was given none")
        with self._write("write an audit checkpoint") as conn:
            checkpoint = audit.write_checkpoint(conn, self.audit_key, actor, self.clock())
            self._audit(conn, [audit.AuditEvent(
                actor=actor, action="audit.checkpoint", ts=self.clock(),
                details={"checkpoint": checkpoint.id, "chains": len(checkpoint.chains)})])
        return checkpoint

    def audit_events(self, *, limit: int = 50, item_id: int | None = None,
                     process: str | None = None, action: str | None = None,
                     since: float | None = None,
                     until: float | None = None) -> list[dict[str, Any]]:
        """Latest events first, filtered; rows as plain dicts."""
        ae = audit_events
        stmt = sa.select(ae).order_by(ae.c.ts.desc(), ae.c.id.desc()).limit(limit)
        if item_id is not None:
            batch = self._enqueue_event_of(item_id)
            stmt = stmt.where(ae.c.item_id == item_id if batch is None
                              else sa.or_(ae.c.item_id == item_id, ae.c.id == batch))
        if process:
            stmt = stmt.where(ae.c.process == process)
        if action:
            stmt = stmt.where(ae.c.action.like(action.replace("*", "%")))
        if since is not None:
            stmt = stmt.where(ae.c.ts >= since)
        if until is not None:
            stmt = stmt.where(ae.c.ts < until)
        with self._read("list audit events") as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]
