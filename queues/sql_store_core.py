"""The store on SQL databases: shared by the SQLite and PostgreSQL stores.

Each state change is one transaction holding the item update, its attempt row
and its audit event. The hot path (enqueue, claim, complete, heartbeat, the
attempt row, the audit append) runs precompiled SQL on the DBAPI cursor of the
SQLAlchemy transaction (see `statements`); everything else is SQLAlchemy Core.
The engine-specific parts (how a claim locks, how idle workers are woken) are
hooks that `SqliteStore` and `PostgresStore` fill in.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from queues import audit, sql_breaker
from queues.alert_store import dead_alert
from queues.engine import wrapped_errors
from queues.enqueue_events import ENQUEUE_CHUNK, default_writer, enqueued_event
from queues.errors import (
    AuditKeyMissing,
    IllegalTransition,
    ItemNotFound,
    LeaseLost,
    QueueNotFound,
    RepeatedReference,
)
from queues.hot_tx import HotConnection, HotConnections, NeedsFullPath
from queues.key_store import SqlKeyStore
from queues.models import (
    ClaimedItem,
    EnqueueCount,
    EnqueueResult,
    NewItem,
    ProcessInfo,
    ProcessSpec,
)
from queues.postgres_statements import NextIds, complete_fused, enqueue_fused
from queues.schema import (
    IN_PROGRESS_SQL,
    NO_DEADLINE,
    processes,
    queues_t,
    review_tasks,
    work_items,
)
from queues.sealing import Sealer, open_json, seal_json, seal_text
from queues.snapshots import ProcessSnapshot, SnapshotCache
from queues.sql_account_store import SqlAccountStore
from queues.sql_alert_store import SqlAlertStore, raise_in
from queues.sql_credential_store import SqlCredentialStore
from queues.sql_fire_store import SqlFireStore
from queues.sql_node_store import SqlNodeStore
from queues.sql_queue_monitor import SqlQueueMonitor
from queues.sql_retention_store import SqlRetentionStore
from queues.sql_review_store import SqlOrganisationStore, SqlReviewStore, open_task_row
from queues.statements import dumps, statements_for
from queues.states import ALLOWED_FROM, Outcome, Status
from queues.store import Store
from queues.validation import validate_items

wi = work_items
HINTS_MAX = 10_000
HOT_ENQUEUE_MAX = 100  # items an enqueue writes on the hot path (bulk gains nothing there)


class SqlStoreCore(Store):
    """Plumbing, processes, producing and consuming; `SqlStore` adds the operator's part.

    `engine` is public to the `queues` package's SQL siblings and to the
    reports' read model only; everything else goes through the `Store` interface.
    """

    def __init__(self, engine: sa.Engine, *, writer: str | None = None,
                 clock: Callable[[], float] = time.time,
                 audit_key: audit.ChainKey | None = None):
        self.engine = engine
        self.writer = writer or default_writer("store")
        self.clock = clock
        self.audit_key = audit_key
        self.sealer: Sealer | None = None  # see `use_sealer`
        self._claimed: dict[int, str] = {}  # item id -> process, for sealing its output
        self.snapshots = SnapshotCache()
        self.chain = audit.ChainWriter(self.writer, audit_key)
        self.hot = statements_for(engine.dialect.name)
        self.hot_conns = HotConnections(engine)
        # PostgreSQL: what each claim of ours set (attempts, start, queue), so that a
        # complete can be one statement (`_complete_fused`); a stale hint only costs
        # the ordinary path. Bounded: leases that simply expire leave entries behind.
        self._hints: dict[int, tuple[int, float, int]] = {}
        self._probes: dict[int, str] = {}  # item id -> process: breaker probes claimed here
        self.next_ids = NextIds()  # PostgreSQL: an item id drawn one enqueue ahead
        self.nodes = SqlNodeStore(engine, clock=clock)
        self.fires = SqlFireStore(self)
        self.credentials = SqlCredentialStore(self)
        self.retention = SqlRetentionStore(self)
        self.keys = SqlKeyStore(self)
        self.accounts = SqlAccountStore(self)
        self.review = SqlReviewStore(self)
        self.organisation = SqlOrganisationStore(self)
        self.alerts = SqlAlertStore(self)
        self.monitor = SqlQueueMonitor(engine)

    def use_sealer(self, sealer: Sealer | None) -> None:
        """Seal payloads, outputs and error texts from now on (see `queues.sealing`)."""
        self.sealer = sealer

    def use_audit_key(self, key: audit.ChainKey | None) -> None:
        """Key this store's audit chain (before its first write)."""
        self.audit_key = key
        self.chain = audit.ChainWriter(self.writer, key)

    def _process_of(self, item_id: int) -> str:
        """The process of an item this store is finishing (claimed here, or looked up)."""
        found = self._claimed.pop(item_id, None)
        if found is not None:
            return found
        with self._read("read an item's process") as conn:
            queue_id = conn.execute(sa.select(wi.c.queue_id).where(wi.c.id == item_id)).scalar()
            if queue_id is None:
                raise ItemNotFound(f"no work item {item_id}")
            return self.snapshots.by_queue(conn, queue_id).name

    # -- plumbing -----------------------------------------------------------
    @contextmanager
    def _write(self, action: str) -> Iterator[sa.Connection]:
        """One write transaction; the audit chain's cached head follows its outcome."""
        committed = False
        try:
            with wrapped_errors(action), self.engine.begin() as conn:
                yield conn
            committed = True
        finally:
            self.chain.finish(committed)

    @contextmanager
    def _hot_write(self, action: str, *, single_statement: bool = False
                   ) -> Iterator[HotConnection]:
        """`_write` on a bare DBAPI connection (see `hot_tx`); may raise NeedsFullPath."""
        committed = False
        try:
            with wrapped_errors(action), \
                    self.hot_conns.transaction(single_statement=single_statement) as hot:
                yield hot
            committed = True
        finally:
            self.chain.finish(committed)

    @contextmanager
    def _read(self, action: str) -> Iterator[sa.Connection]:
        with wrapped_errors(action), self.engine.connect() as raw:
            conn = raw.execution_options(rpa_readonly=True)
            with conn.begin():
                yield conn

    def _audit(self, conn: sa.Connection, events: Sequence[audit.AuditEvent]) -> None:
        """Append to this store's chain; only inside `_write` (it commits the head)."""
        self.chain.append(conn, events, self.clock(), self.hot)

    def _event(self, snap: ProcessSnapshot, actor: str, action: str, now: float,
               item_id: int | None = None, **kw: Any) -> audit.AuditEvent:
        return audit.AuditEvent(actor=actor, action=action, ts=now, process=snap.name,
                                owner=snap.owner, cost_centre=snap.cost_centre,
                                item_id=item_id, **kw)

    def _open_review(self, conn: sa.Connection, snap: ProcessSnapshot, item_id: int,
                     kind: str, code: str | None, estimate: float, now: float) -> None:
        """Open the review task of an exception, in the transaction that records it."""
        conn.execute(sa.insert(review_tasks).values(**open_task_row(
            item_id=item_id, process=snap.name, owner=snap.owner,
            cost_centre=snap.cost_centre, kind=kind, code=(code or "")[:100] or None,
            estimate_minutes=estimate, now=now)))

    def _alert_dead(self, conn: sa.Connection, snap: ProcessSnapshot, item_id: int,
                    attempts: int, cause: str, now: float) -> None:
        """Raise the `item_dead` alert in the transaction that kills the item."""
        raise_in(conn, dead_alert(snap.name, item_id, attempts, cause), actor="system",
                 now=now)

    notify_channel = ""  # PostgreSQL: the LISTEN channel of idle workers

    def _notify(self, conn: sa.Connection, queue_id: int) -> None:
        """Tell idle workers that a queue has work (engine-specific; default none)."""

    def ping(self) -> None:
        with self._read("reach the database") as conn:
            conn.execute(sa.text("SELECT 1"))

    def reconnect(self) -> None:
        self.hot_conns.reset()
        self.engine.pool.dispose()  # connections in use are closed when given back

    def close(self) -> None:
        self.hot_conns.close()
        self.engine.dispose()

    # -- processes ------------------------------------------------------------
    def upsert_process(self, spec: ProcessSpec, *, actor: str) -> bool:
        now = self.clock()
        values = {
            "name": spec.name, "owner": spec.owner, "cost_centre": spec.cost_centre,
            "bot": spec.bot, "description": spec.description,
            "manual_minutes_per_item": spec.manual_minutes_per_item,
            "exception_minutes_per_item": spec.exception_minutes_per_item,
            "max_attempts": spec.retry.max_attempts,
            "backoff_seconds": spec.retry.backoff_seconds,
            "backoff_max_seconds": spec.retry.backoff_max_seconds,
            "lease_seconds": spec.lease_seconds, "concurrency": spec.concurrency,
            "default_priority": spec.default_priority, "sla_minutes": spec.sla_minutes,
            "input_schema": spec.input_schema, "definition": spec.definition,
            "updated_at": now,
        }
        with self._write(f"register process {spec.name}") as conn:
            found = conn.execute(
                sa.select(processes.c.id, processes.c.definition)
                .where(processes.c.name == spec.name).with_for_update()
            ).first()
            if found is None:
                pid = conn.execute(
                    sa.insert(processes).values(created_at=now, paused=False, **values)
                    .returning(processes.c.id)
                ).scalar_one()
                conn.execute(sa.insert(queues_t).values(name=spec.queue_name, process_id=pid))
            else:
                pid = found.id
                conn.execute(sa.update(processes).where(processes.c.id == pid).values(**values))
            self.snapshots.clear()
            snap = self.snapshots.by_name(conn, spec.name)
            action = "process.registered" if found is None else "process.updated"
            changed = sorted(k for k, v in spec.definition.items()
                             if found is None or found.definition.get(k) != v)
            self._audit(conn, [self._event(snap, actor, action, now,
                                           details={"changed": changed, "bot": spec.bot})])
        self.snapshots.clear()
        return found is None

    def _info(self, row: sa.RowMapping) -> ProcessInfo:
        from queues.retry import RetryPolicy
        spec = ProcessSpec(
            name=row["name"], owner=row["owner"], cost_centre=row["cost_centre"],
            bot=row["bot"], description=row["description"],
            manual_minutes_per_item=row["manual_minutes_per_item"],
            exception_minutes_per_item=row["exception_minutes_per_item"],
            retry=RetryPolicy(row["max_attempts"], row["backoff_seconds"],
                              row["backoff_max_seconds"]),
            lease_seconds=row["lease_seconds"], concurrency=row["concurrency"],
            default_priority=row["default_priority"], sla_minutes=row["sla_minutes"],
            input_schema=row["input_schema"], definition=row["definition"] or {},
            queue=row["queue_name"],
        )
        return ProcessInfo(id=row["id"], spec=spec, queue_id=row["queue_id"],
                           paused=row["paused"], created_at=row["created_at"],
                           breaker=row["breaker_state"],
                           updated_at=row["updated_at"])

    def _process_rows(self, conn: sa.Connection, name: str | None) -> list[sa.RowMapping]:
        stmt = (sa.select(processes, queues_t.c.id.label("queue_id"),
                          queues_t.c.name.label("queue_name"))
                .join(queues_t, queues_t.c.process_id == processes.c.id)
                .order_by(processes.c.name))
        if name is not None:
            stmt = stmt.where(processes.c.name == name)
        return list(conn.execute(stmt).mappings().all())

    def get_process(self, name: str) -> ProcessInfo:
        with self._read("read a process") as conn:
            rows = self._process_rows(conn, name)
        if not rows:
            raise QueueNotFound(f"no process named {name!r}: see `rpa process list`")
        return self._info(rows[0])

    def list_processes(self) -> list[ProcessInfo]:
        with self._read("list processes") as conn:
            return [self._info(r) for r in self._process_rows(conn, None)]

    def set_paused(self, name: str, paused: bool, *, actor: str) -> None:
        now = self.clock()
        with self._write(f"pause process {name}") as conn:
            snap = self.snapshots.by_name(conn, name)
            # a resume also closes the breaker: a person decided the target works again
            reset = {} if paused else sql_breaker.RESET
            conn.execute(sa.update(processes).where(processes.c.id == snap.process_id)
                         .values(paused=paused, updated_at=now, **reset))
            action = "process.paused" if paused else "process.resumed"
            self._audit(conn, [self._event(snap, actor, action, now)])
            if not paused:
                self._notify(conn, snap.queue_id)
        self.snapshots.clear()

    # -- producing ---------------------------------------------------------------
    def _insert_new(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert rows whose reference is new to the queue; map reference -> id."""
        cur = conn.connection.cursor()
        try:
            return self.hot.insert_items(cur, rows)
        finally:
            cur.close()

    def enqueue_stream(self, process: str, chunks: Iterable[Sequence[NewItem]], *,
                       actor: str, progress: Callable[[int], None] | None = None,
                       keep_ids: bool = False) -> EnqueueCount:
        with self._read("read a process") as conn:
            snap = self.snapshots.by_name(conn, process)
        if self.sealer is not None:
            self.sealer.prepare(process)
        added = existing = 0
        ids: dict[str, int] | None = {} if keep_ids else None
        existing_ids: dict[str, int] | None = {} if keep_ids else None
        with self._write(f"enqueue into {process}") as conn:
            # a row of this batch has an id above this; an item there before, not
            before = conn.execute(sa.select(sa.func.max(wi.c.id))).scalar() or 0
            for chunk in chunks:
                validate_items(snap.input_schema, chunk)
                result = self.enqueue_in(conn, process, chunk, actor=actor)
                repeated = [ref for ref, i in result.existing.items() if i > before]
                if repeated or len(result.added) + len(result.existing) < len(chunk):
                    raise RepeatedReference(repeated[0] if repeated
                                            else _first_repeat(chunk))
                added += len(result.added)
                existing += len(result.existing)
                if ids is not None and existing_ids is not None:
                    ids.update(result.added)
                    existing_ids.update(result.existing)
                if progress:
                    progress(len(chunk))
        return EnqueueCount(added=added, existing=existing, ids=ids,
                            existing_ids=existing_ids)

    def enqueue(self, process: str, items: Sequence[NewItem], *, actor: str,
                progress: Callable[[int], None] | None = None) -> EnqueueResult:
        snap = self.snapshots.cached(process)
        if snap is None:
            with self._read("read a process") as conn:
                snap = self.snapshots.by_name(conn, process)
        validate_items(snap.input_schema, items)
        if self.sealer is not None:
            self.sealer.prepare(process)
        action = f"enqueue into {process}"
        if len(items) == 1 and self.hot.pg:
            added = self._enqueue_one_fused(snap, items[0], actor, action)
            if added is not None:
                return added
        if len(items) <= HOT_ENQUEUE_MAX:  # the API's and feeders' one item at a time
            try:
                with self._hot_write(action) as hot:  # stands in for a Connection
                    return self.enqueue_in(hot, process, items,  # type: ignore[arg-type]
                                           actor=actor, progress=progress)
            except NeedsFullPath:
                pass  # rolled back (a reference already there, say): the full path
        with self._write(action) as conn:
            return self.enqueue_in(conn, process, items, actor=actor, progress=progress)

    def _enqueue_one_fused(self, snap: ProcessSnapshot, item: NewItem, actor: str,
                           action: str) -> EnqueueResult | None:
        """PostgreSQL, one item: `postgres_statements.enqueue_fused`, or None to go on."""
        if snap.hash_reference:
            return None
        row = self._item_row(snap, item, self.clock())
        if self.sealer is not None:
            row["payload"] = seal_json(self.sealer, snap.name, row["payload"])
        try:
            with self._hot_write(action, single_statement=True) as hot:
                item_id = enqueue_fused(self, hot, snap, row, actor, row["created_at"], None,
                                        self.notify_channel)
        except NeedsFullPath:
            return None
        if item_id is None:
            return None
        return EnqueueResult(added={item.reference: item_id}, existing={})

    @contextmanager
    def transaction(self, action: str) -> Iterator[sa.Connection]:
        """A write transaction for a caller that adds rows of its own to the store's.

        The scheduler records a fire row and the fire's items in one of these, so
        both commit or neither; `action` names it in errors. Inside it, use the
        `*_in` methods, never `_write`.
        """
        with self._write(action) as conn:
            yield conn

    def enqueue_in(self, conn: sa.Connection, process: str, items: Sequence[NewItem], *,
                   actor: str, details: dict[str, Any] | None = None,
                   progress: Callable[[int], None] | None = None) -> EnqueueResult:
        """`enqueue` inside the caller's `transaction`, payloads already validated.

        The same rows, one `items.enqueued` event per chunk (with `details` added
        to each) and the same wake-up of idle workers as `enqueue`.
        """
        snap = self.snapshots.by_name(conn, process)
        now = self.clock()
        shown: dict[str, str] = {}  # stored reference -> the one the caller gave
        if snap.hash_reference:
            items, shown = self._hashed_references(snap.name, items)
        unique: dict[str, NewItem] = {}
        for item in items:
            unique.setdefault(item.reference, item)
        added: dict[str, int] = {}
        existing: dict[str, int] = {}
        batch = list(unique.values())
        for start in range(0, len(batch), ENQUEUE_CHUNK):
            chunk = batch[start:start + ENQUEUE_CHUNK]
            rows = [self._item_row(snap, item, now) for item in chunk]
            if self.sealer is not None:
                for row in rows:
                    row["payload"] = seal_json(self.sealer, snap.name, row["payload"])
            inserted = self._insert_new(conn, rows)
            added.update(inserted)
            missing = [i.reference for i in chunk if i.reference not in inserted]
            if missing:
                existing.update(self._ids_of(conn, snap.queue_id, missing))
            if inserted:
                self._audit(conn, [enqueued_event(self._event, snap, actor, now, [
                    (i.reference, inserted[i.reference])
                    for i in chunk if i.reference in inserted], details)])
            if progress:
                progress(len(chunk))
        if added:
            self._notify(conn, snap.queue_id)
        if shown:
            added = {shown[r]: i for r, i in added.items()}
            existing = {shown[r]: i for r, i in existing.items()}
        return EnqueueResult(added=added, existing=existing)

    def _hashed_references(self, process: str, items: Sequence[NewItem]
                           ) -> tuple[list[NewItem], dict[str, str]]:
        """The items with their references replaced by keyed digests, and the map back."""
        if self.sealer is None:
            raise AuditKeyMissing(f"process {process!r} stores its references as keyed "
                                  "digests: enqueueing needs the master key")
        shown: dict[str, str] = {}
        hashed = []
        for item in items:
            digest = self.sealer.digest(process, item.reference)
            shown[digest] = item.reference
            hashed.append(dataclasses.replace(item, reference=digest))
        return hashed, shown

    def audit_in(self, conn: sa.Connection, process: str, actor: str, action: str, *,
                 details: dict[str, Any] | None = None) -> None:
        """Append one event about `process` inside the caller's `transaction`."""
        snap = self.snapshots.by_name(conn, process)
        self._audit(conn, [self._event(snap, actor, action, self.clock(),
                                       details=details or {})])

    @staticmethod
    def _item_row(snap: ProcessSnapshot, item: NewItem, now: float) -> dict[str, Any]:
        due = [d for d in (item.deadline, now + snap.sla_minutes * 60
                           if snap.sla_minutes else None) if d is not None]
        return {
            "queue_id": snap.queue_id, "reference": item.reference, "payload": item.payload,
            "priority": snap.default_priority if item.priority is None else item.priority,
            "deadline": item.deadline,
            "deadline_order": NO_DEADLINE if item.deadline is None else item.deadline,
            "due_at": min(due) if due else None,
            "available_at": max(now, item.defer_until or now),
            "status": Status.NEW.value, "attempts": 0,
            "attempt_limit": snap.policy.max_attempts,
            "created_at": now, "updated_at": now,
        }

    def _claim_rows(self, conn: Any, snap: ProcessSnapshot, worker_id: str, now: float,
                    limit: int, lease_seconds: float | None) -> list[Any]:
        """Lease up to `limit` items: (id, reference, payload, priority, attempts, limit,
        deadline, deadline order). No audit event: the attempt's end records it."""
        expires = now + (lease_seconds or snap.lease_seconds)
        cur = conn.connection.cursor()
        try:
            cur.execute(self.hot.claim, (worker_id, expires, now, now, snap.queue_id, now, limit))
            rows: list[Any] = list(cur.fetchall())
        finally:
            cur.close()
        if rows and self.hot.pg:
            if len(self._hints) > HINTS_MAX:
                self._hints.clear()
            for r in rows:
                self._hints[r[0]] = (r[4], now, snap.queue_id)
        return rows

    @staticmethod
    def _ids_of(conn: sa.Connection, queue_id: int, refs: list[str]) -> dict[str, int]:
        rows = conn.execute(sa.select(wi.c.reference, wi.c.id)
                            .where(wi.c.queue_id == queue_id, wi.c.reference.in_(refs)))
        return {r.reference: r.id for r in rows}

    # -- consuming ------------------------------------------------------------------
    def claim(self, process: str, worker_id: str, *, limit: int = 1,
              lease_seconds: float | None = None) -> list[ClaimedItem]:
        snap = self.snapshots.cached(process)
        now = self.clock()
        action = f"claim from {process}"
        rows: list[Any] = []
        if snap is None:
            with self._write(action) as conn:  # a miss: load inside this transaction
                snap = self.snapshots.by_name(conn, process)
                if not snap.paused:
                    rows = self._claim_rows(conn, snap, worker_id, now, limit, lease_seconds)
        elif not snap.paused:  # the hot path: one statement, its own transaction
            with wrapped_errors(action), \
                    self.hot_conns.transaction(single_statement=True) as hot:
                rows = self._claim_rows(hot, snap, worker_id, now, limit, lease_seconds)
        if snap.paused:  # by a person, or by its breaker: then perhaps a probe
            return self._probe(process, worker_id, lease_seconds, now) \
                if snap.may_probe(now) else []
        return self._claimed_items(snap, rows, now, lease_seconds)

    def _probe(self, process: str, worker_id: str, lease_seconds: float | None,
               now: float) -> list[ClaimedItem]:
        """A breaker that cooled down: claim one item as its probe (see `queues.breaker`)."""
        with self._write(f"claim a probe item of {process}") as conn:
            self.snapshots.clear()
            snap = self.snapshots.by_name(conn, process)
            if not sql_breaker.take_probe(self, conn, snap, now):
                return []
            rows = self._claim_rows(conn, snap, worker_id, now, 1, lease_seconds)
            for r in rows:
                sql_breaker.probe_claimed(self, conn, snap, r[0], now)
        self.snapshots.clear()
        self._probes.update((r[0], process) for r in rows)
        return self._claimed_items(snap, rows, now, lease_seconds)

    def _probes_went_well(self, item_ids: Sequence[int]) -> None:
        """Close the breaker of each probe among these items (done or business error)."""
        for item_id in item_ids:
            process = self._probes.pop(item_id, None)
            if process is None:
                continue
            with self._write(f"resume {process} after its probe") as conn:
                snap = self.snapshots.by_name(conn, process)
                if sql_breaker.close(self, conn, snap, self.clock()):
                    self._notify(conn, snap.queue_id)
            self.snapshots.clear()

    def _claimed_items(self, snap: ProcessSnapshot, rows: list[Any], now: float,
                       lease_seconds: float | None) -> list[ClaimedItem]:
        expires = now + (lease_seconds or snap.lease_seconds)
        if len(rows) > 1:  # (id, reference, payload, priority, attempts, limit, deadline, order)
            rows.sort(key=lambda r: (-r[3], r[7], r[0]))
        json_in, sealer = self.hot.json_in, self.sealer
        if sealer is not None:
            if len(self._claimed) > HINTS_MAX:
                self._claimed.clear()
            self._claimed.update((r[0], snap.name) for r in rows)
        return [ClaimedItem(id=r[0], queue=snap.queue, process=snap.name, reference=r[1],
                            payload=open_json(sealer, json_in(r[2])), priority=r[3],
                            attempt=r[4],
                            attempt_limit=r[5], deadline=r[6], lease_expires_at=expires,
                            enqueued_at=r[8])
                for r in rows]

    def heartbeat(self, item_ids: Sequence[int], worker_id: str,
                  lease_seconds: float) -> set[int]:
        if not item_ids:
            return set()
        expires = self.clock() + lease_seconds
        ids = list(item_ids)
        with self._write("extend leases") as conn:
            cur = conn.connection.cursor()
            try:
                return self.hot.heartbeat(cur, ids, worker_id, expires)
            finally:
                cur.close()

    def _why_not(self, conn: sa.Connection, item_id: int, worker_id: str,
                 operation: str) -> Exception:
        """The precise reason an operation on a held item matched no row."""
        row = conn.execute(sa.select(wi.c.status, wi.c.lease_owner)
                           .where(wi.c.id == item_id)).first()
        if row is None:
            return ItemNotFound(f"no work item {item_id}")
        if row.status == Status.IN_PROGRESS.value or row.status in (
                Status.NEW.value, Status.RETRY_SCHEDULED.value):
            return LeaseLost(f"item {item_id}: worker {worker_id} no longer holds its lease "
                             f"(status {row.status}, held by {row.lease_owner or 'nobody'})")
        return IllegalTransition(f"item {item_id} is {row.status}: cannot {operation} it")

    def _finish(self, conn: sa.Connection, item_id: int, worker_id: str, operation: str,
                values: dict[str, Any]) -> sa.Row[Any]:
        """Move a held item out of in_progress; the row as it was claimed."""
        assert Status.IN_PROGRESS in ALLOWED_FROM[operation]
        row = conn.execute(
            sa.update(wi).where(wi.c.id == item_id, wi.c.status == Status.IN_PROGRESS.value,
                                wi.c.lease_owner == worker_id)
            .values(lease_owner=None, lease_expires_at=None, **values)
            .returning(wi.c.queue_id, wi.c.attempts, wi.c.attempt_started_at, wi.c.attempt_limit)
        ).first()
        if row is None:
            raise self._why_not(conn, item_id, worker_id, operation.replace("_", " "))
        return row

    def _attempt(self, conn: sa.Connection, item_id: int, claimed: sa.Row[Any], worker_id: str,
                 now: float, outcome: Outcome, *, error_type: str | None = None,
                 code: str | None = None, message: str | None = None,
                 evidence: dict[str, Any] | None = None) -> float:
        """Record the attempt that just ended; returns its duration in seconds."""
        started = claimed.attempt_started_at or now
        cur = conn.connection.cursor()
        try:
            cur.execute(self.hot.attempt, (item_id, claimed.attempts, worker_id, started, now,
                                           outcome.value, error_type, code, message,
                                           dumps(evidence)))
        finally:
            cur.close()
        return max(0.0, now - started)

    def complete(self, item_id: int, worker_id: str, output: dict[str, Any] | None = None,
                 *, evidence: dict[str, Any] | None = None) -> None:
        self.complete_many([(item_id, output)], worker_id, evidence=evidence)

    def complete_many(self, results: Sequence[tuple[int, dict[str, Any] | None]],
                      worker_id: str, *, evidence: dict[str, Any] | None = None) -> None:
        if not results:
            return
        if self.sealer is not None:
            results = [(i, seal_json(self.sealer, self._process_of(i), o)) for i, o in results]
        now = self.clock()
        action = "complete items" if len(results) > 1 else "complete an item"
        try:
            if self.hot.pg and all(i in self._hints for i, _ in results):
                # one statement in autocommit (see `complete_fused`); False: nothing written
                with self._hot_write(action, single_statement=True) as hot:
                    fused = complete_fused(self, hot, results, worker_id, now, evidence)
                if fused:
                    if self._probes:
                        self._probes_went_well([i for i, _ in results])
                    return
            with self._hot_write(action) as hot:
                self._complete_in(hot, results, worker_id, now, evidence)
        except NeedsFullPath:
            with self._write(action) as conn:  # rolled back: the same on the SQLAlchemy path
                self._complete_in(conn, results, worker_id, now, evidence)
        if self._probes:
            self._probes_went_well([i for i, _ in results])

    def _complete_in(self, conn: Any, results: Sequence[tuple[int, dict[str, Any] | None]],
                     worker_id: str, now: float, evidence: dict[str, Any] | None) -> None:
        cur = conn.connection.cursor()
        try:
            done = self.hot.finish_done(
                cur, results, worker_id, now, dumps(evidence),
                lambda item_id: self._why_not(conn, item_id, worker_id, "complete"))
        finally:
            cur.close()
        actor = f"worker:{worker_id}"
        events = []
        for item_id, queue_id, attempts, started in done:
            snap = (self.snapshots.cached_queue(queue_id)
                    or self.snapshots.by_queue(conn, queue_id))
            events.append(self._event(
                snap, actor, "item.completed", now, item_id=item_id,
                freed_minutes=snap.manual_minutes,
                robot_seconds=max(0.0, now - (started or now)),
                details={"attempt": attempts}))
        self._audit(conn, events)

    def fail_business(self, item_id: int, worker_id: str, *, code: str, message: str,
                      evidence: dict[str, Any] | None = None) -> None:
        if self.sealer is not None:
            message = seal_text(self.sealer, self._process_of(item_id), message) or ""
        now = self.clock()
        with self._write("record a business exception") as conn:
            row = self._finish(conn, item_id, worker_id, "fail_business", {
                "status": Status.BUSINESS_FAILED.value, "finished_at": now, "updated_at": now,
                "error_type": "BusinessRuleError", "error_code": code,
                "error_message": message})
            took = self._attempt(conn, item_id, row, worker_id, now, Outcome.BUSINESS_ERROR,
                                 error_type="BusinessRuleError", code=code, message=message,
                                 evidence=evidence)
            snap = self.snapshots.by_queue(conn, row.queue_id)
            self._open_review(conn, snap, item_id, "business_exception", code,
                              snap.exception_minutes, now)
            self._audit(conn, [self._event(
                snap, f"worker:{worker_id}", "item.business_failed", now, item_id=item_id,
                freed_minutes=-snap.exception_minutes if snap.exception_minutes else None,
                robot_seconds=took, details={"attempt": row.attempts, "code": code})])
        if self._probes:  # the target answered: a rule said no, the system works
            self._probes_went_well([item_id])

    def fail_application(self, item_id: int, worker_id: str, *, error_type: str,
                         message: str, code: str | None = None,
                         evidence: dict[str, Any] | None = None) -> str:
        if self.sealer is not None:
            message = seal_text(self.sealer, self._process_of(item_id), message) or ""
        now = self.clock()
        with self._write("record an application error") as conn:
            held = conn.execute(sa.select(wi.c.queue_id, wi.c.attempts, wi.c.attempt_limit)
                                .where(wi.c.id == item_id)).first()
            if held is None:
                raise ItemNotFound(f"no work item {item_id}")
            snap = self.snapshots.by_queue(conn, held.queue_id)
            decision = snap.policy.decide(held.attempts, held.attempt_limit)
            status = Status.RETRY_SCHEDULED if decision.retry else Status.DEAD
            row = self._finish(conn, item_id, worker_id, "fail_application", {
                "status": status.value, "updated_at": now,
                "available_at": now + decision.delay_seconds,
                "finished_at": None if decision.retry else now,
                "error_type": error_type, "error_code": code, "error_message": message})
            took = self._attempt(conn, item_id, row, worker_id, now, Outcome.APPLICATION_ERROR,
                                 error_type=error_type, code=code, message=message,
                                 evidence=evidence)
            breaker_moved = sql_breaker.after_failure(self, conn, snap, now)
            if not decision.retry:
                self._open_review(conn, snap, item_id, "dead", code or error_type, 0.0, now)
                self._alert_dead(conn, snap, item_id, row.attempts, code or error_type, now)
            self._audit(conn, [self._event(
                snap, f"worker:{worker_id}",
                "item.retry_scheduled" if decision.retry else "item.dead", now,
                item_id=item_id, robot_seconds=took,
                details={"attempt": row.attempts, "error_type": error_type, "code": code,
                         "retry_in_seconds": round(decision.delay_seconds, 3)})])
        self._probes.pop(item_id, None)
        if breaker_moved:
            self.snapshots.clear()  # this node stops claiming now, the others within a TTL
        return status.value

    def release(self, item_id: int, worker_id: str, *, reason: str) -> None:
        now = self.clock()
        with self._write("release an item") as conn:
            row = self._finish(conn, item_id, worker_id, "release", {
                "status": sa.case((wi.c.attempts > 1, Status.RETRY_SCHEDULED.value),
                                  else_=Status.NEW.value),
                "available_at": now, "updated_at": now,
                # the unfinished attempt must not count against the item's limit
                "attempt_limit": wi.c.attempt_limit + 1})
            took = self._attempt(conn, item_id, row, worker_id, now, Outcome.RELEASED,
                                 message=reason)
            snap = self.snapshots.by_queue(conn, row.queue_id)
            self._audit(conn, [self._event(snap, f"worker:{worker_id}", "item.released", now,
                                           item_id=item_id, robot_seconds=took,
                                           details={"reason": reason})])
            self._notify(conn, snap.queue_id)

    def recover_expired(self, *, now: float | None = None) -> list[int]:
        now = self.clock() if now is None else now
        recovered: list[int] = []
        with self._write("recover expired leases") as conn:
            rows = conn.execute(self._expired_candidates(now)).all()
            for r in rows:
                snap = self.snapshots.by_queue(conn, r.queue_id)
                decision = snap.policy.decide(r.attempts, r.attempt_limit)
                status = Status.RETRY_SCHEDULED if decision.retry else Status.DEAD
                conn.execute(sa.update(wi).where(wi.c.id == r.id).values(
                    status=status.value, lease_owner=None, lease_expires_at=None,
                    available_at=now + decision.delay_seconds, updated_at=now,
                    finished_at=None if decision.retry else now,
                    error_type="LeaseExpired", error_code=None,
                    error_message=f"worker {r.lease_owner} stopped renewing its lease"))
                took = self._attempt(conn, r.id, r, r.lease_owner, now, Outcome.LOST,
                                     error_type="LeaseExpired",
                                     message=f"lease of {r.lease_owner} expired")
                if not decision.retry:
                    self._open_review(conn, snap, r.id, "dead", "LeaseExpired", 0.0, now)
                    self._alert_dead(conn, snap, r.id, r.attempts, "LeaseExpired", now)
                self._audit(conn, [self._event(
                    snap, "system", "item.lease_expired", now, item_id=r.id, robot_seconds=took,
                    details={"worker": r.lease_owner, "attempt": r.attempts,
                             "next": status.value})])
                recovered.append(r.id)
                if decision.retry:
                    self._notify(conn, snap.queue_id)
        return recovered

    def _expired_candidates(self, now: float) -> sa.Select[Any]:
        return (sa.select(wi.c.id, wi.c.queue_id, wi.c.attempts, wi.c.attempt_limit,
                          wi.c.attempt_started_at, wi.c.lease_owner)
                .where(IN_PROGRESS_SQL, wi.c.lease_expires_at < now)
                .order_by(wi.c.lease_expires_at).limit(500))


def _first_repeat(items: Sequence[NewItem]) -> str:
    """The first reference that appears twice in `items`."""
    seen: set[str] = set()
    for item in items:
        if item.reference in seen:
            return item.reference
        seen.add(item.reference)
    return items[0].reference if items else ""
