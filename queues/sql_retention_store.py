"""Retention and erasure on SQL: one transaction per batch, tombstones, one event per batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from queues.retention_store import (
    FIELDS,
    EraseResult,
    PurgeCandidate,
    RetentionStore,
    Tombstone,
    classify,
)
from queues.schema import attempts_t, item_purges, review_tasks, work_items
from queues.states import FINAL, Status

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

wi = work_items
FINAL_VALUES = sorted(s.value for s in FINAL)
WAITING_VALUES = [Status.NEW.value, Status.RETRY_SCHEDULED.value]
RULE_LENGTH = 300


def _merged(purged: str | None, data: Sequence[str]) -> str:
    return ",".join(sorted(set((purged or "").split(",")) - {""} | set(data)))


def _not_yet(data: str) -> sa.ColumnElement[bool]:
    return sa.or_(wi.c.purged.is_(None), sa.not_(wi.c.purged.contains(data)))


def _holds(data: str) -> sa.ColumnElement[bool]:
    """The item still has some of `data` (so a purge has something to remove and record)."""
    of_attempts = sa.select(attempts_t.c.id).where(attempts_t.c.item_id == wi.c.id)
    if data == "output":
        return wi.c.output.is_not(None)
    if data == "errors":
        return sa.or_(wi.c.error_message.is_not(None), sa.exists(
            of_attempts.where(attempts_t.c.error_message.is_not(None))))
    if data == "evidence":
        return sa.exists(of_attempts.where(attempts_t.c.evidence.is_not(None)))
    return sa.true()


class SqlRetentionStore(RetentionStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    @contextmanager
    def _removing(self, action: str) -> Iterator[sa.Connection]:
        """A write transaction whose removed data leaves no copy behind in the file.

        SQLite keeps deleted and overwritten text in free pages and in the WAL;
        with `secure_delete` it zeroes them, and a truncating checkpoint after the
        commit moves the zeroed pages into the database file and empties the WAL.
        PostgreSQL keeps old row versions until VACUUM (see the README).
        """
        sqlite = self.store.engine.dialect.name == "sqlite"
        with self.store._write(action) as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            try:
                yield conn
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA secure_delete = OFF")
        if sqlite:  # outside any transaction (the connection is in autocommit mode)
            raw = self.store.engine.raw_connection()
            try:
                raw.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()

    def due(self, process: str, data: str, before: float, *, limit: int = 500
            ) -> list[PurgeCandidate]:
        if data not in FIELDS:
            raise ValueError(f"unknown data {data!r}: one of {', '.join(FIELDS)}")
        with self.store._read("find items due for purging") as conn:
            queue_id = self.store.snapshots.by_name(conn, process).queue_id
            ids = [int(i) for i in conn.execute(
                sa.select(wi.c.id).where(wi.c.queue_id == queue_id,
                                         wi.c.status.in_(FINAL_VALUES),
                                         wi.c.finished_at <= before, _not_yet(data),
                                         _holds(data))
                .order_by(wi.c.finished_at, wi.c.id).limit(limit)).scalars()]
            evidence: dict[int, list[dict[str, Any]]] = {}
            if data == "evidence" and ids:
                for item_id, found in conn.execute(
                        sa.select(attempts_t.c.item_id, attempts_t.c.evidence)
                        .where(attempts_t.c.item_id.in_(ids),
                               attempts_t.c.evidence.is_not(None))):
                    evidence.setdefault(int(item_id), []).append(dict(found or {}))
        return [PurgeCandidate(i, tuple(evidence.get(i, ()))) for i in ids]

    def purge(self, process: str, item_ids: Sequence[int], data: Sequence[str], *,
              rule: str, actor: str) -> int:
        unknown = set(data) - set(FIELDS)
        if unknown or not data:
            raise ValueError(f"unknown data {sorted(unknown)}: use {', '.join(FIELDS)}")
        if not item_ids:
            return 0
        now = self.store.clock()
        with self._removing("purge items") as conn:
            snap = self.store.snapshots.by_name(conn, process)
            rows = conn.execute(
                sa.select(wi.c.id, wi.c.purged)
                .where(wi.c.id.in_(list(item_ids)), wi.c.queue_id == snap.queue_id,
                       wi.c.status.in_(FINAL_VALUES),
                       sa.or_(*(_not_yet(d) for d in data)))
                .with_for_update()).all()
            if not rows:
                return 0
            self._remove(conn, rows, data, rule, now)
            ids = sorted(int(r.id) for r in rows)
            self.store._audit(conn, [self.store._event(
                snap, actor, "items.purged", now, item_id=ids[0],
                details={"count": len(ids), "first_id": ids[0], "last_id": ids[-1],
                         "data": sorted(data), "rule": rule[:RULE_LENGTH]})])
        return len(rows)

    def _remove(self, conn: sa.Connection, rows: Sequence[Any], data: Sequence[str],
                rule: str, now: float) -> None:
        """Clear `data` from the rows, note it on each, and leave a tombstone each."""
        ids = [int(r.id) for r in rows]
        values: dict[str, Any] = {}
        if "payload" in data:
            values["payload"] = {}
        if "output" in data:
            values["output"] = None
        if "errors" in data:
            values["error_message"] = None
            conn.execute(sa.update(attempts_t).where(attempts_t.c.item_id.in_(ids))
                         .values(error_message=None))
            # a reviewer's reason is free text about the item, kept as long as its errors
            conn.execute(sa.update(review_tasks).where(review_tasks.c.item_id.in_(ids))
                         .values(reason=None))
        if "evidence" in data:
            conn.execute(sa.update(attempts_t).where(attempts_t.c.item_id.in_(ids))
                         .values(evidence=None))
        by_purged: dict[str | None, list[int]] = {}
        for r in rows:
            by_purged.setdefault(r.purged, []).append(int(r.id))
        for before, group in by_purged.items():  # rows share few distinct histories
            conn.execute(sa.update(wi).where(wi.c.id.in_(group))
                         .values(purged=_merged(before, data), **values))
        conn.execute(sa.insert(item_purges), [
            {"item_id": i, "purged_at": now, "fields": ",".join(sorted(data)),
             "rule": rule[:RULE_LENGTH]} for i in ids])

    def erase(self, item_ids: Sequence[int], *, reason: str, actor: str) -> EraseResult:
        wanted = sorted(set(item_ids))
        if not wanted:
            return EraseResult()
        now = self.store.clock()
        rule = f"erasure: {reason}"[:RULE_LENGTH]
        with self._removing("erase items") as conn:
            rows = conn.execute(sa.select(wi.c.id, wi.c.status, wi.c.purged, wi.c.queue_id)
                                .where(wi.c.id.in_(wanted)).with_for_update()).all()
            found = {int(r.id): r for r in rows}
            result = classify(wanted, {i: r.status for i, r in found.items()})
            if not result.erased:
                return result
            conn.execute(sa.update(wi).where(wi.c.id.in_(result.erased),
                                             wi.c.status.in_(WAITING_VALUES))
                         .values(status=Status.ABANDONED.value, finished_at=now,
                                 updated_at=now))
            self._remove(conn, [found[i] for i in result.erased], FIELDS, rule, now)
            by_queue: dict[int, list[int]] = {}
            for i in result.erased:
                by_queue.setdefault(int(found[i].queue_id), []).append(i)
            self.store._audit(conn, [self.store._event(
                self.store.snapshots.by_queue(conn, queue_id), actor, "items.erased", now,
                item_id=ids[0], details={"count": len(ids), "ids": ids[:1000],
                                         "reason": reason[:RULE_LENGTH]})
                for queue_id, ids in sorted(by_queue.items())])
        return result

    def tombstones(self, item_id: int) -> list[Tombstone]:
        with self.store._read("read tombstones") as conn:
            rows = conn.execute(sa.select(item_purges).where(item_purges.c.item_id == item_id)
                                .order_by(item_purges.c.id)).mappings().all()
        return [Tombstone(r["purged_at"], tuple(r["fields"].split(",")), r["rule"])
                for r in rows]

    def evidence_of(self, item_ids: Sequence[int]) -> list[dict[str, Any]]:
        if not item_ids:
            return []
        with self.store._read("read evidence") as conn:
            return [dict(e) for (e,) in conn.execute(
                sa.select(attempts_t.c.evidence).where(
                    attempts_t.c.item_id.in_(list(item_ids)),
                    attempts_t.c.evidence.is_not(None))) if e]
