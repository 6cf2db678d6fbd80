"""The rows an in-memory store keeps, and the audit chains it appends to."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from queues import checkpoints as cp
from queues.chain import (
    GENESIS,
    AuditEvent,
    ChainKey,
    Finding,
    VerifyResult,
    canonical_json,
    chain_name,
    chain_start,
    check_chain,
)
from queues.chain import event_hash as hash_of
from queues.errors import AuditTampered
from queues.models import ProcessSpec
from queues.retention_store import Tombstone


@dataclass
class ProcessRow:
    """A registered process and its queue (one queue per process, as in SQL)."""

    id: int
    spec: ProcessSpec
    queue_id: int
    paused: bool
    created_at: float
    updated_at: float


@dataclass
class ItemRow:
    """A work item, column for column as the SQL table holds it."""

    id: int
    queue_id: int
    reference: str
    payload: dict[str, Any]
    priority: int
    deadline: float | None
    deadline_order: float
    due_at: float | None
    available_at: float
    status: str
    attempts: int
    attempt_limit: int
    created_at: float
    updated_at: float
    output: dict[str, Any] | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    attempt_started_at: float | None = None
    finished_at: float | None = None
    purged: str | None = None


@dataclass
class AttemptRow:
    item_id: int
    number: int
    worker_id: str
    started_at: float
    ended_at: float
    outcome: str
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    evidence: dict[str, Any] | None = None


@dataclass
class Chain:
    id: int
    writer: str
    head_hash: str = GENESIS
    length: int = 0
    keyed: bool = False
    created_at: float = 0.0


@dataclass
class Tables:
    """Everything the store holds; one lock guards it all (a single writer, like SQLite)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    wake: threading.Condition = field(init=False)
    processes: dict[str, ProcessRow] = field(default_factory=dict)
    items: dict[int, ItemRow] = field(default_factory=dict)
    by_reference: dict[tuple[int, str], int] = field(default_factory=dict)
    attempts: list[AttemptRow] = field(default_factory=list)
    chains: dict[str, Chain] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[cp.Checkpoint] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    fires: list[dict[str, Any]] = field(default_factory=list)
    credentials: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    tombstones: list[tuple[int, Tombstone]] = field(default_factory=list)
    next_id: dict[str, int] = field(default_factory=dict)
    version: int = 0  # bumped by whatever may give an idle worker work

    def __post_init__(self) -> None:
        self.wake = threading.Condition(self.lock)

    def new_id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]

    def notify(self) -> None:
        """Wake idle workers (the lock is held)."""
        self.version += 1
        self.wake.notify_all()

    # -- the audit chain -------------------------------------------------------------
    def append(self, writer: str, events: Sequence[AuditEvent],
               key: ChainKey | None = None) -> None:
        """Append to `writer`'s chain, hashed exactly as the SQL store hashes."""
        name = chain_name(writer, key)
        chain = self.chains.get(name)
        if chain is None:
            chain_id = self.new_id("chains")
            chain = self.chains[name] = Chain(chain_id, name, chain_start(chain_id, name, key),
                                              keyed=key is not None)
        for event in events:
            row: dict[str, Any] = {
                "id": self.new_id("events"), "chain_id": chain.id, "seq": chain.length + 1,
                "ts": event.ts, "actor": event.actor, "action": event.action,
                "process": event.process, "owner": event.owner,
                "cost_centre": event.cost_centre, "item_id": event.item_id,
                "freed_minutes": event.freed_minutes, "robot_seconds": event.robot_seconds,
                "details": canonical_json(dict(event.details)), "prev_hash": chain.head_hash}
            row["hash"] = hash_of(chain.head_hash, row, key)
            chain.head_hash, chain.length = row["hash"], row["seq"]
            self.events.append(row)

    def states(self) -> dict[int, cp.ChainState]:
        return {c.id: cp.ChainState(c.id, c.writer, c.keyed, c.length, c.head_hash)
                for c in sorted(self.chains.values(), key=lambda c: c.id)}

    def hash_at(self, chain_id: int, seq: int) -> str | None:
        return next((str(e["hash"]) for e in self.events
                     if e["chain_id"] == chain_id and e["seq"] == seq), None)

    def checkpoint(self, key: ChainKey, created_by: str, now: float) -> cp.Checkpoint:
        last = self.checkpoints[-1] if self.checkpoints else None
        if last is not None:
            found = cp.hold_against(last, self.states(), self.hash_at, f"checkpoint {last.id}")
            if found:
                raise AuditTampered(f"the audit log contradicts checkpoint {last.id}: "
                                    f"{found[0].problem}; no checkpoint was written")
        checkpoint = cp.seal(key, id=(last.id + 1) if last else 1, created_at=now,
                             created_by=created_by, chains=list(self.states().values()),
                             prev_mac=last.mac if last else "")
        self.checkpoints.append(checkpoint)
        return checkpoint

    def verify(self, key: ChainKey | None = None,
               against: cp.Checkpoint | None = None) -> VerifyResult:
        total, findings = 0, []
        known = {c.id for c in self.chains.values()}
        for chain in sorted(self.chains.values(), key=lambda c: c.id):
            if chain.keyed and key is None:
                findings.append(Finding(chain.id, chain.writer, None, None,
                                        "is keyed: checking it needs the audit key"))
                continue
            rows = sorted((e for e in self.events if e["chain_id"] == chain.id),
                          key=lambda e: e["seq"])
            seen, finding = check_chain(chain.writer, chain.id, chain.head_hash, chain.length,
                                        rows, key if chain.keyed else None)
            total += seen
            if finding:
                findings.append(finding)
        orphans = sum(1 for e in self.events if e["chain_id"] not in known)
        if orphans:
            findings.append(Finding(0, "?", None, None,
                                    f"{orphans} event(s) belong to no known chain"))
        if key is not None:
            findings += cp.checkpoint_findings(key, self.states(), self.checkpoints,
                                               self.hash_at, against)
        return VerifyResult(events=total, chains=len(self.chains), findings=tuple(findings))
