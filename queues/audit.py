"""The append-only, hash-chained audit log.

Each event is hashed as SHA-256 over the previous event's hash and a canonical
JSON of the event itself (sorted keys, no spaces, UTF-8). Events are appended
inside the caller's transaction, so an item's state change and its audit event
commit or vanish together.

Writers append to chains of their own (see `AuditChainRow`): a worker never
waits for another worker's chain head, yet every chain is a strict sequence
whose head and length are stored, so `verify` finds an altered, removed or
inserted row, including a removed last row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues.schema import audit_chains, audit_events

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON text of a value that every engine and run agrees on."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


@dataclass
class AuditEvent:
    """What to write: who did what to which process or item, and the figures."""

    actor: str
    action: str
    ts: float
    process: str | None = None
    owner: str | None = None
    cost_centre: str | None = None
    item_id: int | None = None
    freed_minutes: float | None = None
    robot_seconds: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


HASHED_FIELDS = ("chain_id", "seq", "ts", "actor", "action", "process", "owner",
                 "cost_centre", "item_id", "freed_minutes", "robot_seconds", "details")


def event_hash(prev_hash: str, row: Mapping[str, Any] | sa.RowMapping) -> str:
    """The hash of one stored row given the hash before it."""
    body = {name: row[name] for name in HASHED_FIELDS}
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(body).encode("utf-8"))
    return digest.hexdigest()


def ensure_chain(conn: sa.Connection, writer: str, now: float) -> int:
    """The id of `writer`'s chain, created on first use."""
    found = conn.execute(
        sa.select(audit_chains.c.id).where(audit_chains.c.writer == writer)
    ).scalar()
    if found is not None:
        return int(found)
    values = {"writer": writer, "created_at": now, "head_hash": GENESIS, "length": 0}
    # Two processes may start with the same writer name at once: let one insert win.
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(audit_chains).values(**values).on_conflict_do_nothing())
    return int(conn.execute(
        sa.select(audit_chains.c.id).where(audit_chains.c.writer == writer)
    ).scalar_one())


def append(conn: sa.Connection, chain_id: int, events: Sequence[AuditEvent]) -> None:
    """Append events to a chain inside the caller's open transaction.

    The chain row is locked for the rest of the transaction (`FOR UPDATE` on
    PostgreSQL; SQLite's write lock is already held), so two writers sharing a
    chain take turns instead of forking it.
    """
    if not events:
        return
    head = conn.execute(
        sa.select(audit_chains.c.head_hash, audit_chains.c.length)
        .where(audit_chains.c.id == chain_id)
        .with_for_update()
    ).one()
    prev, length = head.head_hash, head.length
    rows = []
    for event in events:
        length += 1
        row: dict[str, Any] = {
            "chain_id": chain_id, "seq": length, "ts": event.ts, "actor": event.actor,
            "action": event.action, "process": event.process, "owner": event.owner,
            "cost_centre": event.cost_centre, "item_id": event.item_id,
            "freed_minutes": event.freed_minutes, "robot_seconds": event.robot_seconds,
            "details": canonical_json(dict(event.details)),
        }
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(prev, row)
        rows.append(row)
    conn.execute(sa.insert(audit_events), rows)
    conn.execute(
        sa.update(audit_chains).where(audit_chains.c.id == chain_id)
        .values(head_hash=prev, length=length)
    )


@dataclass(frozen=True)
class Finding:
    """The first thing wrong in one chain."""

    chain_id: int
    writer: str
    event_id: int | None
    seq: int | None
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` saw: how many events and chains, and what was wrong."""

    events: int
    chains: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def _check_chain(writer: str, chain_id: int, head_hash: str, length: int,
                 rows: Iterable[Mapping[str, Any] | sa.RowMapping]) -> tuple[int, Finding | None]:
    """Walk one chain in order; return rows seen and the first problem, if any."""
    prev, expected_seq, seen = GENESIS, 1, 0
    for row in rows:
        seen += 1
        if row["seq"] != expected_seq:
            kind = "removed" if row["seq"] > expected_seq else "inserted"
            return seen, Finding(chain_id, writer, row["id"], row["seq"],
                                 f"event(s) {kind} before this one: expected position "
                                 f"{expected_seq}, found {row['seq']}")
        if row["prev_hash"] != prev:
            return seen, Finding(chain_id, writer, row["id"], row["seq"],
                                 "does not link to the event before it (an event was "
                                 "removed or inserted before it)")
        if event_hash(prev, row) != row["hash"]:
            return seen, Finding(chain_id, writer, row["id"], row["seq"],
                                 "was altered: its content does not match its hash")
        prev = row["hash"]
        expected_seq += 1
    if expected_seq - 1 != length or prev != head_hash:
        return seen, Finding(chain_id, writer, None, expected_seq - 1,
                             f"chain ends at position {expected_seq - 1} but its head "
                             f"says {length}: its last event(s) were removed or the head "
                             "was altered")
    return seen, None


def _rows_of(conn: sa.Connection, chain_id: int, batch: int = 5000
             ) -> Iterator[sa.RowMapping]:
    """A chain's rows in order, fetched in keyset pages to bound memory."""
    after = 0
    while True:
        page = conn.execute(
            sa.select(audit_events).where(audit_events.c.chain_id == chain_id,
                                          audit_events.c.seq > after)
            .order_by(audit_events.c.seq).limit(batch)
        ).mappings().all()
        if not page:
            return
        yield from page
        after = page[-1]["seq"]


def verify(conn: sa.Connection) -> VerifyResult:
    """Check every chain; report the first altered, removed or inserted row of each."""
    chains = conn.execute(sa.select(audit_chains).order_by(audit_chains.c.id)).mappings().all()
    total, findings = 0, []
    for chain in chains:
        seen, finding = _check_chain(chain["writer"], chain["id"], chain["head_hash"],
                                     chain["length"], _rows_of(conn, chain["id"]))
        total += seen
        if finding:
            findings.append(finding)
    orphans = conn.execute(
        sa.select(sa.func.count()).select_from(audit_events)
        .where(audit_events.c.chain_id.not_in(sa.select(audit_chains.c.id)))
    ).scalar_one()
    if orphans:
        findings.append(Finding(0, "?", None, None,
                                f"{orphans} event(s) belong to no known chain"))
    return VerifyResult(events=total, chains=len(chains), findings=tuple(findings))
