"""The append-only, hash-chained audit log.

Each event is hashed over the previous event's hash and a canonical JSON of the
event itself (sorted keys, no spaces, UTF-8): HMAC-SHA256 under the store's
audit key when it has one (see `queues.chain`), else SHA-256; keyed checkpoints
(`queues.checkpoints`) record every chain's length and head. Events are appended
inside the caller's transaction, so an item's state change and its audit event
commit or vanish together.

Writers append to chains of their own (see `AuditChainRow`): a worker never
waits for another worker's chain head, yet every chain is a strict sequence
whose head and length are stored, so `verify` finds an altered, removed or
inserted row, including a removed last row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues import checkpoints as cp
from queues.chain import (  # noqa: F401  (re-exported: the SQL store's callers use them)
    GENESIS,
    HASHED_FIELDS,
    AuditEvent,
    ChainKey,
    Finding,
    VerifyResult,
    canonical_json,
    chain_name,
    chain_start,
    check_chain,
    event_hash,
)
from queues.errors import AuditTampered
from queues.schema import audit_chains, audit_checkpoints, audit_events
from queues.statements import EVENT_COLS, Statements


def ensure_chain(conn: sa.Connection, writer: str, now: float,
                 key: ChainKey | None = None) -> int:
    """The id of `writer`'s chain (keyed when `key` is given), created on first use.

    A keyed chain's head starts at its keyed genesis, which needs its id: the row
    is inserted, then its head set, in the caller's transaction.
    """
    name = chain_name(writer, key)
    found = conn.execute(
        sa.select(audit_chains.c.id).where(audit_chains.c.writer == name)
    ).scalar()
    if found is not None:
        return int(found)
    values = {"writer": name, "created_at": now, "head_hash": GENESIS, "length": 0,
              "keyed": key is not None}
    # Two processes may start with the same writer name at once: let one insert win.
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    inserted = conn.execute(insert(audit_chains).values(**values).on_conflict_do_nothing()
                            .returning(audit_chains.c.id)).scalar()
    if inserted is not None and key is not None:
        conn.execute(sa.update(audit_chains).where(audit_chains.c.id == inserted)
                     .values(head_hash=chain_start(int(inserted), name, key)))
    return int(conn.execute(
        sa.select(audit_chains.c.id).where(audit_chains.c.writer == name)
    ).scalar_one())


def _chain_rows(chain_id: int, prev: str, length: int, events: Sequence[AuditEvent],
                key: ChainKey | None = None) -> tuple[list[dict[str, Any]], str, int]:
    """The stored rows of `events` after (prev, length); and the new head."""
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
        row["hash"] = prev = event_hash(prev, row, key)
        rows.append(row)
    return rows, prev, length


class ChainWriter:
    """One store's audit chain, its head cached in memory.

    Why: reading the head `FOR UPDATE` on every append cost a round trip and a
    row lock per transition. The store is the only writer of its chain (the
    writer name is unique per process), so the head it last committed is the
    head; one guarded `UPDATE ... WHERE length=:old AND head_hash=:old` both
    moves it and proves it: if it matches no row, someone else appended (two
    stores sharing a name, an operator's repair), and the head is re-read
    `FOR UPDATE` and the rows recomputed, in the same transaction.

    The cached head advances only when the transaction commits (`finish`), so
    a rollback never leaves it ahead of the table. Threads: the worker calls
    one store from several threads, so the first append of a transaction takes
    `_lock` and `finish` releases it after the commit or rollback. Taking it
    that late (not at BEGIN) keeps claims of other threads running in parallel
    on PostgreSQL; it cannot deadlock, as its holder only writes this chain's
    rows and then commits. One chain per store (not per thread) keeps chains
    few and `rpa audit verify` output readable.
    """

    def __init__(self, writer: str, key: ChainKey | None = None):
        self.writer = writer
        self.key = key
        self.chain_id: int | None = None
        self._head: tuple[str, int] | None = None      # committed
        self._pending: tuple[str, int] | None = None   # written, not yet committed
        self._lock = threading.Lock()
        self._local = threading.local()

    def plan(self, conn: sa.Connection, events: Sequence[AuditEvent], now: float
             ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], tuple[str, int]] | None:
        """For a caller that writes the rows in a statement of its own: take the lock,
        and return the guard (new hash, new length, id, old length, old hash), the
        rows' values (`EVENT_COLS`) and the new head; None if no head is cached.
        After the statement, `wrote(new_head)` if the guard matched, else `append`."""
        self._take()
        head = self._pending or self._head
        if head is None or self.chain_id is None:
            return None
        rows, new_hash, new_len = _chain_rows(self.chain_id, head[0], head[1], events,
                                              self.key)
        guard = (new_hash, new_len, self.chain_id, head[1], head[0])
        return guard, [tuple(r[c] for c in EVENT_COLS) for r in rows], (new_hash, new_len)

    def wrote(self, head: tuple[str, int]) -> None:
        self._pending = head

    def _take(self) -> None:
        if not getattr(self._local, "held", False):
            self._lock.acquire()
            self._local.held = True

    def append(self, conn: sa.Connection, events: Sequence[AuditEvent], now: float,
               hot: Statements) -> None:
        """Append inside the caller's transaction; `hot` is its database's `Statements`."""
        if not events:
            return
        self._take()
        if self.chain_id is None:
            self.chain_id = ensure_chain(conn, self.writer, now, self.key)
        cur = conn.connection.cursor()
        try:
            head = self._pending or self._head or self._read_head(cur, hot)
            if not self._write(cur, hot, head, events) and not self._write(
                    cur, hot, self._read_head(cur, hot), events):
                raise RuntimeError(f"audit chain {self.chain_id} moved while locked")
        finally:
            cur.close()

    def _read_head(self, cur: Any, hot: Statements) -> tuple[str, int]:
        cur.execute(hot.chain_head, (self.chain_id,))
        found = cur.fetchone()
        return str(found[0]), int(found[1])

    def _write(self, cur: Any, hot: Statements, head: tuple[str, int],
               events: Sequence[AuditEvent]) -> bool:
        assert self.chain_id is not None
        rows, new_hash, new_len = _chain_rows(self.chain_id, head[0], head[1], events,
                                              self.key)
        guard = (new_hash, new_len, self.chain_id, head[1], head[0])
        if not hot.append_events(cur, guard, self.chain_id,
                                 [tuple(r[c] for c in EVENT_COLS) for r in rows]):
            return False
        self._pending = (new_hash, new_len)
        return True

    def finish(self, committed: bool) -> None:
        """After the transaction: keep the written head if it committed; unlock."""
        if not getattr(self._local, "held", False):
            return
        if committed:
            self._head = self._pending or self._head
        else:  # the chain row may even be gone (created in this transaction): re-read
            self._head, self.chain_id = None, None
        self._pending = None
        self._local.held = False
        self._lock.release()


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


def chain_states(conn: sa.Connection) -> dict[int, cp.ChainState]:
    """Every chain's writer, keyedness, length and head, by id."""
    rows = conn.execute(sa.select(audit_chains).order_by(audit_chains.c.id)).mappings().all()
    return {int(r["id"]): cp.ChainState(int(r["id"]), str(r["writer"]), bool(r["keyed"]),
                                        int(r["length"]), str(r["head_hash"])) for r in rows}


def stored_checkpoints(conn: sa.Connection) -> list[cp.Checkpoint]:
    rows = conn.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.id))
    return [cp.from_row(dict(r)) for r in rows.mappings().all()]


def _hash_at(conn: sa.Connection) -> Callable[[int, int], str | None]:
    def hash_at(chain_id: int, seq: int) -> str | None:
        found = conn.execute(sa.select(audit_events.c.hash).where(
            audit_events.c.chain_id == chain_id, audit_events.c.seq == seq)).scalar()
        return None if found is None else str(found)
    return hash_at


def verify(conn: sa.Connection, key: ChainKey | None = None,
           against: cp.Checkpoint | None = None) -> VerifyResult:
    """Check every chain, and with `key` every checkpoint; report the first problem of each.

    Without `key` only unkeyed chains can be walked; a keyed one is reported as
    needing the key. With it, the database is also held against the latest
    checkpoint and `against` (an exported one), and an unkeyed chain that the
    first checkpoint does not vouch for is reported as possibly forged.
    """
    chains = chain_states(conn)
    total, findings = 0, []
    for chain in chains.values():
        if chain.keyed and key is None:
            findings.append(Finding(chain.id, chain.writer, None, None,
                                    "is keyed: checking it needs the audit key "
                                    "(RPA_SECRET_KEY or the key file)"))
            continue
        seen, finding = check_chain(chain.writer, chain.id, chain.head, chain.length,
                                    _rows_of(conn, chain.id), key if chain.keyed else None)
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
    if key is not None:
        findings += cp.checkpoint_findings(key, chains, stored_checkpoints(conn), _hash_at(conn),
                                        against)
    return VerifyResult(events=total, chains=len(chains), findings=tuple(findings))


def write_checkpoint(conn: sa.Connection, key: ChainKey, created_by: str, now: float
                     ) -> cp.Checkpoint:
    """Seal every chain's current state after the last checkpoint, in the caller's transaction.

    The checkpoints' table is locked first (SQLite's write lock already is), so
    two writers cannot both seal after the same predecessor and fork the record.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE audit_checkpoints IN EXCLUSIVE MODE"))
    row = conn.execute(sa.select(audit_checkpoints)
                       .order_by(audit_checkpoints.c.id.desc()).limit(1)).mappings().first()
    last = cp.from_row(dict(row)) if row is not None else None
    chains = chain_states(conn)
    if last is not None:
        found = cp.hold_against(last, chains, _hash_at(conn), f"checkpoint {last.id}")
        if found:  # sealing now would bless a removal since the last checkpoint
            raise AuditTampered(f"the audit log contradicts checkpoint {last.id}: "
                                f"chain {found[0].chain_id} ({found[0].writer}) "
                                f"{found[0].problem}; no checkpoint was written")
    checkpoint = cp.seal(key, id=(last.id + 1) if last else 1, created_at=now,
                         created_by=created_by, chains=list(chains.values()),
                         prev_mac=last.mac if last else "")
    conn.execute(sa.insert(audit_checkpoints).values(
        id=checkpoint.id, created_at=now, created_by=created_by,
        body=canonical_json({"chains": [c.as_dict() for c in checkpoint.chains]}),
        prev_mac=checkpoint.prev_mac, mac=checkpoint.mac))
    return checkpoint
