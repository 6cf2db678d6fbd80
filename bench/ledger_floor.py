"""Our own SQL without our Python: the floor under the store's figures.

The peers bench reads ours against raw SQL on a table of its own, which writes
one row per item and nothing else. Part of the gap is what the store promises
(an attempt row per attempt, a hash-chained audit event per change, the indexes
that status counts, lease expiry, SLA watches and retention read) and part is
the Python around the statements. This contender tells them apart: the store's
own statement texts (`queues.statements_for`), on the store's own migrated
schema, with the same rows, the event's HMAC computed per event, and nothing
else in Python. So:

- floor / raw is what the guarantees cost the database, whoever writes them;
- ours / floor is what our Python costs on top.

A target above floor / raw cannot be met without giving up a guarantee.

Run by itself, it tries what writing less would buy: on SQLite one at a time
(finishing an item and claiming the next in one transaction; no secondary
indexes), against raw SQL in the same run, and on a PostgreSQL bulk enqueue
(no foreign key from items to their queue; no secondary indexes either):

    .venv/bin/python bench/ledger_floor.py [--items 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

import psycopg
import queue_bench as qb
from _bench_common import at_least, median
from rich.console import Console
from rich.table import Table

from queues.engine import SQLITE_CHECKPOINT_PAGES
from queues.enqueue_events import enqueued_details
from queues.postgres_store import CHANNEL
from queues.statements import ITEM_COLS, statements_for

KEY = b"floor" * 8  # an HMAC key as long as the audit key
OUTPUT = json.dumps(qb.OUTPUT)


class Chain:
    """A chain head of the floor's own, moved and hashed as the store's chains are."""

    def __init__(self, chain_id: int):
        self.chain_id = chain_id
        self.head = ""
        self.length = 0

    def event(self, now: float, actor: str, action: str, item_id: int | None,
              details: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """(guard, event row after chain_id) for one event appended to this chain."""
        text = json.dumps(details, sort_keys=True)
        seq = self.length + 1
        body = json.dumps([seq, now, actor, action, qb.PROCESS, "bench", "bench", item_id,
                           text, self.head], separators=(",", ":"))
        digest = hmac.new(KEY, body.encode(), hashlib.sha256).hexdigest()
        guard = (digest, seq, self.chain_id, self.length, self.head)
        row = (seq, now, actor, action, qb.PROCESS, "bench", "bench", item_id, 1.0, 0.0,
               text, self.head, digest)
        self.head, self.length = digest, seq
        return guard, row


def _mark(cur: Any) -> str:
    """The placeholder of the cursor's driver."""
    return "%s" if isinstance(cur, psycopg.Cursor) else "?"


def _chain(cur: Any, writer: str) -> Chain:
    mark = _mark(cur)
    cur.execute("INSERT INTO audit_chains (writer, created_at, head_hash, length, keyed) "
                f"VALUES ({mark}, {mark}, '', 0, true) RETURNING id", (writer, time.time()))
    return Chain(int(cur.fetchone()[0]))


def _queue_id(cur: Any) -> int:
    mark = _mark(cur)
    cur.execute("SELECT q.id FROM queues q JOIN processes p ON p.id = q.process_id "
                f"WHERE p.name = {mark}", (qb.PROCESS,))
    return int(cur.fetchone()[0])


def stored_payload(payload: dict[str, Any]) -> str:
    """The payload's JSON as the store writes it: with trust on, a sealed token of the
    same length (`{"enc1": "KEY.BASE64"}`), so the database writes as many bytes.
    Only the bytes: sealing is CPU in Python, which this floor leaves to ours."""
    text = json.dumps(payload, separators=(",", ":"))
    if qb.TRUST_MASTER_KEY is None:
        return text
    token = base64.urlsafe_b64encode(os.urandom(12 + len(text) + 16)).decode()
    return json.dumps({"enc1": f"1.{token}"})


def _item(queue_id: int, reference: str, payload: str, now: float) -> list[Any]:
    row = {"queue_id": queue_id, "reference": reference, "payload": payload, "priority": 1,
           "deadline": None, "deadline_order": 1e18, "due_at": None, "available_at": now,
           "status": "new", "attempts": 0, "attempt_limit": 3, "created_at": now,
           "updated_at": now}
    return [row[c] for c in ITEM_COLS]


def _timed(count: int, step: Callable[[int], None]) -> float:
    began = time.perf_counter()
    for n in range(count):
        step(n)
    return count / (time.perf_counter() - began)


# -- SQLite ---------------------------------------------------------------------------------
def sqlite_one_at_a_time(bench: qb.Bench, *, fused: bool = False) -> float:
    """Claim + complete one at a time, 1 worker: the store's two transactions, or with
    `fused` one (finish an item and claim the next together)."""
    hot: Any = statements_for("sqlite")
    qb.preload(bench, "store", bench.config.items)
    conn = qb.sqlite_connect(bench.store_dsn)
    conn.execute("PRAGMA foreign_keys=ON")  # the store's settings (`queues.engine`)
    conn.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cur = conn.cursor()
    chain = _chain(cur, "floor-sqlite")
    queue_id = _queue_id(cur)
    worker = "floor-worker"

    def claim(now: float) -> int | None:
        cur.execute(hot.claim, (worker, now + 300, now, now, queue_id, now, 1))
        rows = cur.fetchall()
        return int(rows[0][0]) if rows else None

    def finish(item_id: int, done: float) -> None:
        cur.execute(hot.done, (OUTPUT, done, done, item_id, worker))
        _, attempts, started, _ = cur.fetchone()
        cur.execute(hot.attempt, (item_id, attempts, worker, started, done, "done", None,
                                  None, None, None))
        guard, row = chain.event(done, f"worker:{worker}", "item.completed", item_id,
                                 {"attempt": attempts})
        cur.execute(hot.chain_guard, guard)
        cur.execute(hot.audit_rows, (chain.chain_id, *row))

    held: list[int | None] = [None]

    def step(_: int) -> None:
        if not fused or held[0] is None:
            cur.execute("BEGIN IMMEDIATE")
            held[0] = claim(time.time())
            cur.execute("COMMIT")
        item_id = held[0]
        assert item_id is not None
        cur.execute("BEGIN IMMEDIATE")
        finish(item_id, time.time())
        held[0] = claim(time.time()) if fused else None
        cur.execute("COMMIT")
    try:
        return _timed(bench.config.items, step)
    finally:
        conn.close()


# Every index of the item, attempt and event tables but the claim's and the unique ones.
SQLITE_SECONDARY = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND "
    "tbl_name IN ('work_items', 'attempts', 'audit_events') "
    "AND name <> 'ix_work_items_claim'")
PG_SECONDARY = (
    "SELECT indexname FROM pg_indexes WHERE tablename IN ('work_items', 'attempts', "
    "'audit_events') AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE 'uq_%' "
    "AND indexname <> 'ix_work_items_claim'")


def drop_secondary_indexes(conn: Any, listing: str) -> list[str]:
    """Drop the indexes `listing` names (an experiment: the reads they serve become
    scans); `conn` is a DBAPI connection of either database."""
    names = [str(r[0]) for r in conn.execute(listing).fetchall()]
    for name in names:
        conn.execute(f'DROP INDEX "{name}"')
    return names


# -- PostgreSQL -----------------------------------------------------------------------------
def _pg(bench: qb.Bench) -> tuple[psycopg.Connection[Any], Any, Chain, int]:
    qb.reset_store(bench)
    conn = psycopg.connect(bench.store_dsn, autocommit=True)
    conn.execute("SET plan_cache_mode = force_generic_plan")  # as the store's
    cur = conn.cursor()
    return conn, cur, _chain(cur, f"floor-{time.monotonic_ns()}"), _queue_id(cur)


def pg_bulk(bench: qb.Bench) -> float:
    """Enqueue in calls of 1,000: one unnest insert (the store's two-array form for rows
    that share all but reference and payload) and one `items.enqueued` event each."""
    hot: Any = statements_for("postgresql")
    conn, cur, chain, queue_id = _pg(bench)
    chunk = qb.BULK_CHUNK
    items = qb.new_items(bench.config.items)

    def step(n: int) -> None:
        now = time.time()
        batch = items[n * chunk:(n + 1) * chunk]
        shared = _item(queue_id, "", "", now)
        shared = [shared[0], *shared[3:]]
        references = [i.reference for i in batch]
        payloads = [stored_payload(i.payload) for i in batch]
        with conn.transaction():
            cur.execute(hot.enqueue_shared, (*shared, references, payloads))
            ids = cur.fetchall()
            guard, row = chain.event(now, "user:bench", "items.enqueued", ids[0][1],
                                     enqueued_details(ids))
            cur.execute(hot.audit_one, (*guard, *row))
            cur.fetchone()
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(queue_id)))
    try:
        return _timed(len(items) // chunk, step) * chunk
    finally:
        conn.close()


def pg_enqueue_one(bench: qb.Bench, count: int) -> float:
    """One item per call: the store's one-statement enqueue (`enqueue_fused`)."""
    hot: Any = statements_for("postgresql")
    conn, cur, chain, queue_id = _pg(bench)
    cur.execute(hot.next_item_id)
    next_id = [int(cur.fetchone()[0])]

    def step(n: int) -> None:
        now = time.time()
        item_id = next_id[0]
        guard, row = chain.event(now, "user:bench", "items.enqueued", item_id,
                                 enqueued_details([(f"r{n}", item_id)]))
        payload = stored_payload({"n": n, "invoice": f"INV-{n:08d}"})
        cur.execute(hot.enqueue_fused, (item_id, *_item(queue_id, f"r{n}", payload, now),
                                        *guard, *row, CHANNEL, str(queue_id)))
        next_id[0] = int(cur.fetchone()[4])
    try:
        return _timed(count, step)
    finally:
        conn.close()


def pg_one_at_a_time(bench: qb.Bench) -> float:
    """Claim + complete one at a time, 1 worker: a claim, then the one-statement complete."""
    hot: Any = statements_for("postgresql")
    qb.preload(bench, "store", bench.config.items)
    conn = psycopg.connect(bench.store_dsn, autocommit=True)
    conn.execute("SET plan_cache_mode = force_generic_plan")
    cur = conn.cursor()
    chain = _chain(cur, f"floor-{time.monotonic_ns()}")
    queue_id = _queue_id(cur)
    worker = "floor-worker"

    def step(_: int) -> None:
        now = time.time()
        cur.execute(hot.claim, (worker, now + 300, now, now, queue_id, now, 1))
        (item_id, _r, _p, _pr, attempts, *_rest), = cur.fetchall()
        done = time.time()
        guard, row = chain.event(done, f"worker:{worker}", "item.completed", item_id,
                                 {"attempt": attempts})
        cur.execute(hot.done_fused, (OUTPUT, done, done, item_id, worker, attempts, now,
                                     queue_id, worker, now, done, None, *guard, *row))
        cur.fetchone()
    try:
        return _timed(bench.config.items, step)
    finally:
        conn.close()


def _sqlite_variants(config: qb.Config, rounds: int) -> tuple[dict[str, list[float]], str]:
    runs: dict[str, list[float]] = {}
    dropped: list[str] = []
    for _ in range(rounds):
        with qb.scratch_bench("sqlite", config) as bench:
            runs.setdefault("raw SQL", []).append(
                qb.consume_once(bench, "baseline", qb.SCENARIOS[0]).value)
            runs.setdefault("our SQL", []).append(sqlite_one_at_a_time(bench))
            runs.setdefault("our SQL, finish + claim next in one transaction", []).append(
                sqlite_one_at_a_time(bench, fused=True))
        with qb.scratch_bench("sqlite", config) as bench:
            with closing(sqlite3.connect(bench.store_dsn)) as conn:
                dropped = drop_secondary_indexes(conn, SQLITE_SECONDARY)
                conn.commit()
            runs.setdefault("our SQL, no secondary indexes", []).append(
                sqlite_one_at_a_time(bench))
            runs.setdefault("our SQL, both", []).append(
                sqlite_one_at_a_time(bench, fused=True))
    return runs, f"secondary indexes dropped: {', '.join(dropped)}"


def _pg_bulk_variants(config: qb.Config, rounds: int) -> tuple[dict[str, list[float]], str]:
    runs: dict[str, list[float]] = {}
    with qb.scratch_bench("postgres", config) as bench:
        for _ in range(rounds):
            runs.setdefault("our SQL", []).append(pg_bulk(bench))
        with psycopg.connect(bench.store_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE work_items DROP CONSTRAINT work_items_queue_id_fkey")
        for _ in range(rounds):
            runs.setdefault("our SQL, no foreign key to the queue", []).append(pg_bulk(bench))
        with psycopg.connect(bench.store_dsn, autocommit=True) as conn:
            names = drop_secondary_indexes(conn, PG_SECONDARY)
        for _ in range(rounds):
            runs.setdefault("our SQL, no key, no secondary indexes", []).append(
                pg_bulk(bench))
    return runs, f"secondary indexes dropped: {', '.join(names)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What writing less would buy: our SQL's "
                                     "variants, SQLite one at a time and PostgreSQL bulk.")
    parser.add_argument("--items", type=at_least(qb.BULK_CHUNK), default=20_000)
    parser.add_argument("--rounds", type=at_least(1), default=3)
    parser.add_argument("--only", choices=("postgres", "sqlite"))
    args = parser.parse_args(argv)
    qb.use_trust(True)  # sealed-size payloads, as ours writes them
    console = Console(width=100)
    for engine in ("sqlite", "postgres"):
        if args.only not in (None, engine):
            continue
        config = qb.Config(items=args.items, status_items=0, latency_samples=0, repeat=1,
                           max_seconds=60, engines=(engine,))
        if engine == "sqlite":
            runs, dropped = _sqlite_variants(config, args.rounds)
            title, base = "SQLite one at a time, 1 worker", "raw SQL"
        else:
            runs, dropped = _pg_bulk_variants(config, args.rounds)
            title, base = "PostgreSQL enqueue in calls of 1,000", "our SQL"
        table = Table(title=f"{title} ({args.items:,} items, medians of {args.rounds})",
                      title_justify="left")
        for name in ("contender", "items/s", f"of {base}"):
            table.add_column(name, justify="left" if name == "contender" else "right")
        for name, values in runs.items():
            table.add_row(name, f"{median(values):,.0f}",
                          f"{median(values) / median(runs[base]):.2f}x")
        console.print(table)
        console.print(dropped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
