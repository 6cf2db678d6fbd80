"""Retention and erasure in memory, with the SQL store's contract."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from queues.chain import AuditEvent
from queues.key_store import KeyStore, StoredKey
from queues.retention_store import (
    FIELDS,
    EraseResult,
    PurgeCandidate,
    RetentionStore,
    Tombstone,
    classify,
)
from queues.states import FINAL, Status

if TYPE_CHECKING:
    from queues.testing.memory_store import InMemoryStore
    from queues.testing.state import ItemRow

FINAL_VALUES = {s.value for s in FINAL}
RULE_LENGTH = 300


class MemoryRetentionStore(RetentionStore):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _holds(self, row: ItemRow, data: str) -> bool:
        return data not in (row.purged or "").split(",")

    def _has(self, row: ItemRow, data: str) -> bool:
        """The item still has some of `data` (as the SQL store's `_holds`)."""
        attempts = [a for a in self.store.db.attempts if a.item_id == row.id]
        if data == "output":
            return row.output is not None
        if data == "errors":
            return row.error_message is not None or any(a.error_message for a in attempts)
        if data == "evidence":
            return any(a.evidence for a in attempts)
        return True

    def due(self, process: str, data: str, before: float, *, limit: int = 500
            ) -> list[PurgeCandidate]:
        if data not in FIELDS:
            raise ValueError(f"unknown data {data!r}: one of {', '.join(FIELDS)}")
        with self.store.db.lock:
            queue_id = self.store._process(process).queue_id
            rows = sorted((r for r in self.store.db.items.values()
                           if r.queue_id == queue_id and r.status in FINAL_VALUES
                           and r.finished_at is not None and r.finished_at <= before
                           and self._holds(r, data) and self._has(r, data)),
                          key=lambda r: (r.finished_at or 0, r.id))[:limit]
            evidence = {r.id: tuple(dict(a.evidence) for a in self.store.db.attempts
                                    if a.item_id == r.id and a.evidence)
                        if data == "evidence" else () for r in rows}
        return [PurgeCandidate(r.id, evidence[r.id]) for r in rows]

    def _remove(self, rows: Sequence[ItemRow], data: Sequence[str], rule: str,
                now: float) -> None:
        ids = {r.id for r in rows}
        for row in rows:
            if "payload" in data:
                row.payload = {}
            if "output" in data:
                row.output = None
            if "errors" in data:
                row.error_message = None
            row.purged = ",".join(sorted(set((row.purged or "").split(",")) - {""}
                                         | set(data)))
            self.store.db.tombstones.append(
                (row.id, Tombstone(now, tuple(sorted(data)), rule[:RULE_LENGTH])))
        if "errors" in data:
            review = self.store.review
            for task in list(review.tasks.values()):
                if task.item_id in ids and task.reason is not None:
                    review.tasks[task.id] = dataclasses.replace(task, reason=None)
        for attempt in self.store.db.attempts:
            if attempt.item_id in ids:
                if "errors" in data:
                    attempt.error_message = None
                if "evidence" in data:
                    attempt.evidence = None

    def purge(self, process: str, item_ids: Sequence[int], data: Sequence[str], *,
              rule: str, actor: str) -> int:
        unknown = set(data) - set(FIELDS)
        if unknown or not data:
            raise ValueError(f"unknown data {sorted(unknown)}: use {', '.join(FIELDS)}")
        now = self.store.clock()
        with self.store.db.lock:
            proc = self.store._process(process)
            rows = [r for i in sorted(set(item_ids))
                    if (r := self.store.db.items.get(i)) is not None
                    and r.queue_id == proc.queue_id and r.status in FINAL_VALUES
                    and any(self._holds(r, d) for d in data)]
            if not rows:
                return 0
            self._remove(rows, data, rule, now)
            self.store._audit([self.store._event(
                proc, actor, "items.purged", now, rows[0].id,
                details={"count": len(rows), "first_id": rows[0].id, "last_id": rows[-1].id,
                         "data": sorted(data), "rule": rule[:RULE_LENGTH]})])
        return len(rows)

    def erase(self, item_ids: Sequence[int], *, reason: str, actor: str) -> EraseResult:
        wanted = sorted(set(item_ids))
        now = self.store.clock()
        with self.store.db.lock:
            found = {i: self.store.db.items[i] for i in wanted if i in self.store.db.items}
            result = classify(wanted, {i: r.status for i, r in found.items()})
            if not result.erased:
                return result
            for i in result.erased:
                row = found[i]
                if row.status in (Status.NEW.value, Status.RETRY_SCHEDULED.value):
                    row.status, row.finished_at, row.updated_at = (
                        Status.ABANDONED.value, now, now)
            self._remove([found[i] for i in result.erased], FIELDS, f"erasure: {reason}", now)
            by_queue: dict[int, list[int]] = {}
            for i in result.erased:
                by_queue.setdefault(found[i].queue_id, []).append(i)
            self.store._audit([self.store._event(
                self.store._by_queue(queue_id), actor, "items.erased", now, ids[0],
                details={"count": len(ids), "ids": ids[:1000], "reason": reason[:RULE_LENGTH]})
                for queue_id, ids in sorted(by_queue.items())])
        return result

    def tombstones(self, item_id: int) -> list[Tombstone]:
        with self.store.db.lock:
            return [t for i, t in self.store.db.tombstones if i == item_id]

    def evidence_of(self, item_ids: Sequence[int]) -> list[dict[str, Any]]:
        wanted = set(item_ids)
        with self.store.db.lock:
            return [dict(a.evidence) for a in self.store.db.attempts
                    if a.item_id in wanted and a.evidence]


class MemoryKeyStore(KeyStore):
    """Wrapped keys in memory (the memory store seals nothing itself: nothing is at rest)."""

    def __init__(self, store: InMemoryStore):
        self.store = store
        self.rows: dict[str, StoredKey] = {}

    def get(self, purpose: str) -> StoredKey | None:
        return self.rows.get(purpose)

    def by_id(self, key_id: int) -> StoredKey | None:
        return next((k for k in self.rows.values() if k.id == key_id), None)

    def create(self, purpose: str, wrapped: str, kek_id: str) -> StoredKey:
        with self.store.db.lock:
            if purpose not in self.rows:
                self.rows[purpose] = StoredKey(len(self.rows) + 1, purpose, wrapped, kek_id)
            return self.rows[purpose]

    def all(self) -> list[StoredKey]:
        return sorted(self.rows.values(), key=lambda k: k.id)

    def rotate(self, keys: Sequence[tuple[int, str, str]],
               credentials: Sequence[tuple[str, str]], *, actor: str) -> None:
        now = self.store.clock()
        with self.store.db.lock:
            for key_id, wrapped, kek_id in keys:
                old = self.by_id(key_id)
                if old is not None:
                    self.rows[old.purpose] = StoredKey(key_id, old.purpose, wrapped, kek_id)
            for name, ciphertext in credentials:
                found = self.store.db.credentials.get(name)
                if found is not None:
                    self.store.db.credentials[name] = (ciphertext, found[1], now)
            self.store._audit([AuditEvent(actor=actor, action="keys.rotated", ts=now, details={
                "data_keys": len(keys), "credentials": len(credentials)})])
