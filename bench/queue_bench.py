"""Queue benchmark: what the store moves per second, beside what the database itself can.

    .venv/bin/python bench/queue_bench.py                   # both engines, defaults
    .venv/bin/python bench/queue_bench.py --quick           # CI smoke run, under ~60 s
    .venv/bin/python bench/queue_bench.py --only postgres --items 50000 --repeat 3 --json

For SQLite (WAL, synchronous=NORMAL: the store's defaults) and PostgreSQL, on a
scratch database of each (a temporary file; a database created next to
`RPA_TEST_POSTGRES_URL` and dropped at the end), migrated with Alembic:

1. bulk enqueue: N items in one `store.enqueue` call (items/s);
2. claim + complete one item at a time, 1 and 4 worker processes (items/s),
   with the workers' own CPU time per item beside it (it moves far less than
   items/s when the machine is shared; PostgreSQL's server CPU is not in it);
3. batched: `claim(limit=50)`, then `complete` each item (items/s), 1 and 4
   workers, every complete its own transaction (item update, attempt row, audit
   event); and `claim(limit=50)` + `store.complete_many` of the batch in one
   transaction (still an attempt row and an audit event per item);
4. enqueue-to-claim latency of an idle worker (p50/p95 over --latency-samples):
   a worker process blocked in `wait_for_work` (LISTEN/NOTIFY on PostgreSQL,
   `PRAGMA data_version` polling on SQLite), the producer enqueues one item;
   measured from just before the producer's `enqueue` call to the moment the
   worker's `claim` returned, so the producer's own transaction is included;
5. `queue_status()` (what `rpa status` runs) over --status-items items bulk-loaded
   by the database itself (generate_series / a recursive CTE) in a realistic mix
   (95 % done, 2.5 % new, the rest retrying, running, failed, dead, abandoned),
   then ANALYZE (VACUUM ANALYZE on PostgreSQL); median of 5 calls after one
   warm-up call, in ms.

Beside each figure, a baseline measured in the same run on the same machine: a
hand-written SQL queue on a simple table of its own (`bench_jobs`: id,
reference, payload, status, worker, output, two times; a partial index on the
new rows), driven through the plain DBAPI (psycopg / sqlite3) as directly as
SQL allows. One-at-a-time on PostgreSQL is `UPDATE ... WHERE id IN (SELECT id
... ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING id` + COMMIT, then
`UPDATE ... SET status='done' WHERE id=...` + COMMIT; on SQLite the same in
`BEGIN IMMEDIATE` transactions, WAL, synchronous=NORMAL, a file of its own.
Bulk is executemany of 1,000-row chunks in one transaction. The latency
baseline wakes the same way the store does (LISTEN/NOTIFY; data_version polled
every 5 ms, the store's interval), so its gap is the store's own overhead.
The status baseline runs the same four aggregate statements as plain SQL text.

Method: each measurement starts from empty tables. A consuming run preloads
--items new items with one INSERT ... SELECT by the database itself (the rows
`enqueue` writes, without its audit events: preloading is not what is
measured, and through the store it took longer than the run it prepared), then
forks the workers; each opens its own store (own audit chain) after it starts
and warms up (a connection, its chain, the claim statement) before a common
start signal. Workers stop when the queue is empty or after --max-seconds
(default 8), whichever comes first: the rate is items done / (last worker done
- start signal), both read from the system-wide monotonic clock, and every run
checks that the items the workers counted are exactly the items the table has
done. PostgreSQL tables are ANALYZEd after the preload, as autovacuum would do,
and CHECKPOINTed, so every run starts right after a checkpoint; SQLite is not
(the store never runs ANALYZE). --repeat R reports the median of R runs of each
rate, ours and the baseline's alternating (default 1, to keep a default run to
minutes on 2 cores); before each engine, os.sync() flushes what the previous
one wrote;
latency drops its first 3 samples (statement compilation). The 1-minute load
average before and after is recorded: on a shared machine compare the ratios
and the CPU per item, not the absolute rates.

Targets (the issue): bulk enqueue >= 20,000/s; one at a time >= 2,000/s on
SQLite with 1 worker and on PostgreSQL with 4 workers (where the PostgreSQL
baseline itself is under 2,000/s: >= 0.8 x the baseline); batched >= 10,000/s on
SQLite (1 worker) and >= 5,000/s on PostgreSQL (4 workers), the same
configurations as one-at-a-time, read as claim(50) + `complete_many` (a batch
claimed and completed in one transaction each; "complete each" pays a commit,
an attempt row and an audit event per item and is shown beside it for the
strict reading); latency p50 < 10 ms; status < 200 ms. The
exit code is 0 whether targets are met or not (a smoke run's small sizes say
nothing about them); read the table or the JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

import psycopg
import sqlalchemy as sa
from _bench_common import (
    median,
    percentile,
    postgres_version,
    ratio_text,
    scratch_dir,
    scratch_postgres,
    sqlalchemy_url,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from orchestrator.db import upgrade
from queues import ClaimedItem, NewItem, ProcessSpec, open_store
from queues.schema import NO_DEADLINE
from queues.sql_store import SqlStore
from queues.sqlite_store import WAKE_POLL_SECONDS

PROCESS = "bench"
WARMUP_PROCESS = "bench-warmup"  # never has items: workers claim from it to warm up
STATUS_QUEUES = 10
OUTPUT = {"ok": True}
OUTPUT_JSON = json.dumps(OUTPUT)
BULK_CHUNK = 1000
WAIT_SLICE = 0.5          # seconds an idle worker blocks before checking for the stop
LATENCY_WARMUP = 3        # first samples dropped: statement compilation, first NOTIFY
STATUS_CALLS = 5
WORKER_TIMEOUT = 900.0    # seconds without news from the workers before giving up
# fork starts a worker in milliseconds instead of a second of imports, and is safe
# here: the parent holds no database connection whenever it starts workers (every
# phase closes its own before; the latency producer connects after its worker
# starts), and the children never touch the progress line's thread or console.
START_METHOD = "fork" if "fork" in mp.get_all_start_methods() else "spawn"

console = Console(stderr=True, highlight=False)


# -- what is measured --------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One way of consuming the queue: claim size, worker processes, how completes go."""

    key: str
    label: str
    batch: int
    workers: int
    batch_complete: bool = False  # the whole batch completed in one transaction


SCENARIOS = (
    Scenario("one_1w", "claim+complete one at a time, 1 worker", 1, 1),
    Scenario("one_4w", "claim+complete one at a time, 4 workers", 1, 4),
    Scenario("batch_1w", "claim(50) + complete each, 1 worker", 50, 1),
    Scenario("batch_4w", "claim(50) + complete each, 4 workers", 50, 4),
    Scenario("batchtx_1w", "claim(50) + complete 50 in one tx, 1 worker", 50, 1, True),
    Scenario("batchtx_4w", "claim(50) + complete 50 in one tx, 4 workers", 50, 4, True),
)


@dataclass(frozen=True)
class Target:
    """A figure the issue asks for: a bound and which side of it is good."""

    bound: float
    at_least: bool
    text: str

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.at_least else value < self.bound


def target_for(engine: str, key: str, baseline: float | None) -> Target | None:
    """The issue's target for one row, if it sets one (see the module docstring)."""
    if key == "bulk":
        return Target(20_000, True, "≥ 20,000/s")
    if (engine, key) == ("sqlite", "one_1w"):
        return Target(2_000, True, "≥ 2,000/s")
    if (engine, key) == ("postgres", "one_4w"):
        if baseline is not None and baseline < 2_000:
            bound = 0.8 * baseline
            return Target(bound, True, f"≥ 0.8 x baseline = {bound:,.0f}/s")
        return Target(2_000, True, "≥ 2,000/s")
    # Batched: the claim and the completes of the batch (`complete_many`). Claiming 50
    # and then committing each complete alone costs a commit per item all the same.
    if (engine, key) == ("sqlite", "batchtx_1w"):
        return Target(10_000, True, "≥ 10,000/s")
    if (engine, key) == ("postgres", "batchtx_4w"):
        return Target(5_000, True, "≥ 5,000/s")
    if key == "latency_p50":
        return Target(10, False, "< 10 ms")
    if key == "status":
        return Target(200, False, "< 200 ms")
    return None


@dataclass
class Result:
    """One row of the table: our figure, the baseline's, and the verdict."""

    engine: str
    key: str
    label: str
    unit: str                      # "items/s" or "ms"
    ours: float | None
    baseline: float | None
    ours_runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    note: str = ""
    ours_cpu_ms: float | None = None       # worker processes' own CPU per item
    baseline_cpu_ms: float | None = None
    items: list[int] = field(default_factory=list)  # items consumed per run (time-boxed)

    @property
    def target(self) -> Target | None:
        return target_for(self.engine, self.key, self.baseline)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self.ours) if self.target else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, met=self.met,
                    target=self.target.text if self.target else None)
        return data


@dataclass(frozen=True)
class Config:
    """Sizes and choices of one run."""

    items: int
    status_items: int
    latency_samples: int
    repeat: int
    max_seconds: float
    engines: tuple[str, ...]


@dataclass(frozen=True)
class Bench:
    """One engine's scratch databases: the store's, and the baseline's table."""

    engine: str          # "sqlite" | "postgres"
    store_url: str       # for open_store
    store_dsn: str       # the store's database for plain DBAPI: a file path or libpq URL
    raw_dsn: str         # the baseline's database: a file path or libpq URL
    config: Config


# -- plain DBAPI access ------------------------------------------------------------------
def sqlite_connect(path: str) -> sqlite3.Connection:
    """A connection with the store's settings: WAL, synchronous=NORMAL, a busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def run_sql(bench: Bench, dsn: str, statements: Sequence[str]) -> None:
    """Run maintenance statements in autocommit (VACUUM cannot run in a transaction)."""
    if bench.engine == "postgres":
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    lite = sqlite_connect(dsn)
    try:
        for statement in statements:
            lite.execute(statement).fetchall()
    finally:
        lite.close()


def reset_store(bench: Bench) -> None:
    """Empty the store's item, attempt and audit tables; processes stay registered."""
    if bench.engine == "postgres":
        run_sql(bench, bench.store_dsn, [
            "TRUNCATE work_items, attempts, audit_events, audit_chains RESTART IDENTITY"])
    else:
        run_sql(bench, bench.store_dsn, [
            "DELETE FROM attempts", "DELETE FROM audit_events", "DELETE FROM audit_chains",
            "DELETE FROM work_items", "PRAGMA wal_checkpoint(TRUNCATE)"])


def reset_raw(bench: Bench) -> None:
    """Empty the baseline's table."""
    if bench.engine == "postgres":
        run_sql(bench, bench.raw_dsn, ["TRUNCATE bench_jobs RESTART IDENTITY"])
    else:
        run_sql(bench, bench.raw_dsn, ["DELETE FROM bench_jobs",
                                       "PRAGMA wal_checkpoint(TRUNCATE)"])


def analyze(bench: Bench, impl: str) -> None:
    """Fresh planner statistics after a preload, as autovacuum would take (PostgreSQL).

    Then a CHECKPOINT, so that every run starts just after one: the first change
    of each page after a checkpoint writes the whole page to the WAL, and a run
    that happened to straddle a timed checkpoint paid for it while the other
    did not (seen as 0.63x one run, 0.85x the next).
    """
    if bench.engine == "postgres":
        table, dsn = ("work_items", bench.store_dsn) if impl == "store" else \
            ("bench_jobs", bench.raw_dsn)
        run_sql(bench, dsn, [f"ANALYZE {table}", "CHECKPOINT"])


def count_done(bench: Bench, impl: str) -> int:
    """How many items the table has done: it must equal what the workers counted."""
    table = "work_items" if impl == "store" else "bench_jobs"
    sql = f"SELECT count(*) FROM {table} WHERE status = 'done'"
    dsn = bench.store_dsn if impl == "store" else bench.raw_dsn
    if bench.engine == "postgres":
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
    else:
        conn2 = sqlite_connect(dsn)
        try:
            row = conn2.execute(sql).fetchone()
        finally:
            conn2.close()
    return int(row[0]) if row else 0


# -- the baseline: a hand-written queue --------------------------------------------------
PG_DDL = (
    "CREATE TABLE bench_jobs (id BIGSERIAL PRIMARY KEY, reference TEXT NOT NULL UNIQUE, "
    "payload JSONB NOT NULL, status TEXT NOT NULL, worker TEXT, output JSONB, "
    "created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX bench_jobs_new ON bench_jobs (id) WHERE status = 'new'",
)
SQLITE_DDL = (
    "CREATE TABLE bench_jobs (id INTEGER PRIMARY KEY, reference TEXT NOT NULL UNIQUE, "
    "payload TEXT NOT NULL, status TEXT NOT NULL, worker TEXT, output TEXT, "
    "created_at REAL NOT NULL, updated_at REAL NOT NULL)",
    "CREATE INDEX bench_jobs_new ON bench_jobs (id) WHERE status = 'new'",
)
PG_INSERT = ("INSERT INTO bench_jobs (reference, payload, status, created_at, updated_at) "
             "VALUES (%s, %s::jsonb, 'new', %s, %s)")
# `= ANY(ARRAY(...))` rather than `IN (...)`, as the store does: with IN, the
# prepared statement's generic plan is a hash join over the whole table, so the
# server re-plans every claim (see queues/postgres_statements.py); the ceiling avoids that too.
PG_CLAIM = ("UPDATE bench_jobs SET status = 'running', worker = %s, updated_at = %s "
            "WHERE id = ANY(ARRAY(SELECT id FROM bench_jobs WHERE status = 'new' ORDER BY id "
            "LIMIT %s FOR UPDATE SKIP LOCKED)) RETURNING id, reference")
PG_DONE = "UPDATE bench_jobs SET status = 'done', output = %s::jsonb, updated_at = %s WHERE id = %s"
PG_DONE_MANY = ("UPDATE bench_jobs SET status = 'done', output = %s::jsonb, updated_at = %s "
                "WHERE id = ANY(%s)")
SQLITE_INSERT = ("INSERT INTO bench_jobs (reference, payload, status, created_at, updated_at) "
                 "VALUES (?, ?, 'new', ?, ?)")
SQLITE_CLAIM = ("UPDATE bench_jobs SET status = 'running', worker = ?, updated_at = ? "
                "WHERE id IN (SELECT id FROM bench_jobs WHERE status = 'new' ORDER BY id "
                "LIMIT ?) RETURNING id, reference")
SQLITE_DONE = "UPDATE bench_jobs SET status = 'done', output = ?, updated_at = ? WHERE id = ?"


class RawQueue(Protocol):
    """The baseline's operations, each one transaction, as directly as SQL allows."""

    def create(self) -> None: ...
    def insert(self, items: Sequence[NewItem]) -> None: ...
    def claim(self, worker: str, limit: int) -> list[tuple[int, str]]: ...
    def complete(self, ids: Sequence[int]) -> None: ...
    def enqueue_one(self, reference: str) -> None: ...
    def wait(self, timeout: float) -> bool: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


class PgRawQueue:
    """The baseline on PostgreSQL: SKIP LOCKED claims, LISTEN/NOTIFY wake-ups.

    In autocommit: a claim and a complete are one statement each, so each is one
    round trip and one commit, as tight as a hand-written loop gets (with
    explicit transactions, BEGIN and COMMIT cost two round trips more per
    statement, and this baseline ran slower than the store it measures). With
    the store's generic plans (`force_generic_plan`) and its one cursor per
    connection too: whatever the store learns about PostgreSQL, the ceiling
    knows as well.
    """

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SET plan_cache_mode = force_generic_plan")  # as the store's
        self.cur = self.conn.cursor()  # one cursor for every claim and complete, as the store's
        self._listener: psycopg.Connection[Any] | None = None

    def create(self) -> None:
        with self.conn.transaction():
            for statement in PG_DDL:
                self.conn.execute(statement)

    def insert(self, items: Sequence[NewItem]) -> None:
        now = time.time()
        with self.conn.transaction(), self.conn.cursor() as cur:
            for start in range(0, len(items), BULK_CHUNK):
                cur.executemany(PG_INSERT, [(i.reference, json.dumps(i.payload), now, now)
                                            for i in items[start:start + BULK_CHUNK]])

    def claim(self, worker: str, limit: int) -> list[tuple[int, str]]:
        rows = self.cur.execute(PG_CLAIM, (worker, time.time(), limit)).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def complete(self, ids: Sequence[int]) -> None:
        if len(ids) == 1:
            self.cur.execute(PG_DONE, (OUTPUT_JSON, time.time(), ids[0]))
        else:
            self.cur.execute(PG_DONE_MANY, (OUTPUT_JSON, time.time(), list(ids)))

    def enqueue_one(self, reference: str) -> None:
        now = time.time()
        with self.conn.transaction():
            self.conn.execute(PG_INSERT, (reference, '{"n": 1}', now, now))
            self.conn.execute("NOTIFY bench_jobs")

    def wait(self, timeout: float) -> bool:
        if self._listener is None:
            self._listener = psycopg.connect(self.dsn, autocommit=True)
            self._listener.execute("LISTEN bench_jobs")
        return any(True for _ in self._listener.notifies(timeout=timeout, stop_after=1))

    def ping(self) -> None:
        self.conn.execute("SELECT 1").fetchall()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.conn.close()


class SqliteRawQueue:
    """The baseline on SQLite: BEGIN IMMEDIATE transactions, data_version polling."""

    def __init__(self, path: str):
        self.conn = sqlite_connect(path)
        self.path = path
        self._watch: sqlite3.Connection | None = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def create(self) -> None:
        for statement in SQLITE_DDL:
            self.conn.execute(statement)

    def insert(self, items: Sequence[NewItem]) -> None:
        now = time.time()
        with self._tx() as conn:
            for start in range(0, len(items), BULK_CHUNK):
                conn.executemany(SQLITE_INSERT, [(i.reference, json.dumps(i.payload), now, now)
                                                 for i in items[start:start + BULK_CHUNK]])

    def claim(self, worker: str, limit: int) -> list[tuple[int, str]]:
        with self._tx() as conn:
            rows = conn.execute(SQLITE_CLAIM, (worker, time.time(), limit)).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def complete(self, ids: Sequence[int]) -> None:
        now = time.time()
        with self._tx() as conn:
            if len(ids) == 1:
                conn.execute(SQLITE_DONE, (OUTPUT_JSON, now, ids[0]))
            else:
                marks = ", ".join("?" * len(ids))
                conn.execute("UPDATE bench_jobs SET status = 'done', output = ?, updated_at = ? "
                             f"WHERE id IN ({marks})", (OUTPUT_JSON, now, *ids))

    def enqueue_one(self, reference: str) -> None:
        now = time.time()
        with self._tx() as conn:
            conn.execute(SQLITE_INSERT, (reference, '{"n": 1}', now, now))

    def _data_version(self) -> int:
        if self._watch is None:
            self._watch = sqlite_connect(self.path)
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        start = self._data_version()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(WAKE_POLL_SECONDS)
            if self._data_version() != start:
                return True
        return False

    def ping(self) -> None:
        self.conn.execute("SELECT 1").fetchall()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self.conn.close()


def open_raw(bench: Bench) -> RawQueue:
    """The baseline queue on this engine."""
    return PgRawQueue(bench.raw_dsn) if bench.engine == "postgres" else \
        SqliteRawQueue(bench.raw_dsn)


# -- consumers: what a worker process runs -----------------------------------------------
class Consumer(Protocol):
    """One worker's view of a queue, ours or the baseline's."""

    def warm_up(self, listen: bool) -> None: ...
    def drain(self, batch: int, batch_complete: bool, until: float) -> int: ...
    def wait_and_claim(self, stop: Any) -> str | None: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


class StoreConsumer:
    """A worker on our store: claim, then complete each item in its own transaction."""

    def __init__(self, url: str, index: int):
        store = open_store(url, writer=f"bench-{index}-{os.getpid()}")
        assert isinstance(store, SqlStore)
        self.store = store
        self.worker = f"bench-worker-{index}"
        self.held: ClaimedItem | None = None

    def warm_up(self, listen: bool) -> None:
        """Open the connection, create this writer's chain, compile the claim."""
        self.store.record_event(actor=f"worker:{self.worker}", action="bench.warm_up",
                                details={})
        self.store.claim(WARMUP_PROCESS, self.worker)
        if listen:
            self.store.wait_for_work(0.001)

    def drain(self, batch: int, batch_complete: bool, until: float) -> int:
        done = 0
        while time.monotonic() < until and (
                items := self.store.claim(PROCESS, self.worker, limit=batch)):
            if batch_complete:  # one transaction, still an attempt row and event per item
                self.store.complete_many([(item.id, OUTPUT) for item in items], self.worker)
            else:
                for item in items:
                    self.store.complete(item.id, self.worker, OUTPUT)
            done += len(items)
        return done

    def wait_and_claim(self, stop: Any) -> str | None:
        while not stop.is_set():
            self.store.wait_for_work(WAIT_SLICE)
            items = self.store.claim(PROCESS, self.worker, limit=1)
            if items:
                self.held = items[0]
                return items[0].reference
        return None

    def finish(self) -> None:
        assert self.held is not None
        self.store.complete(self.held.id, self.worker, OUTPUT)

    def close(self) -> None:
        self.store.close()


class RawConsumer:
    """A worker on the baseline's table."""

    def __init__(self, raw: RawQueue, index: int):
        self.raw = raw
        self.worker = f"bench-worker-{index}"
        self.held: int | None = None

    def warm_up(self, listen: bool) -> None:
        self.raw.ping()
        if listen:
            self.raw.wait(0.001)

    def drain(self, batch: int, batch_complete: bool, until: float) -> int:
        done = 0
        while time.monotonic() < until and (rows := self.raw.claim(self.worker, batch)):
            ids = [r[0] for r in rows]
            if batch_complete:
                self.raw.complete(ids)
            else:
                for job_id in ids:
                    self.raw.complete([job_id])
            done += len(ids)
        return done

    def wait_and_claim(self, stop: Any) -> str | None:
        while not stop.is_set():
            self.raw.wait(WAIT_SLICE)
            rows = self.raw.claim(self.worker, 1)
            if rows:
                self.held = rows[0][0]
                return rows[0][1]
        return None

    def finish(self) -> None:
        assert self.held is not None
        self.raw.complete([self.held])

    def close(self) -> None:
        self.raw.close()


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to know; picklable, for the spawn start method too."""

    bench: Bench
    impl: str            # "store" | "baseline"
    index: int
    batch: int = 1
    batch_complete: bool = False
    max_seconds: float = float("inf")


def open_consumer(spec: WorkerSpec) -> Consumer:
    if spec.impl == "store":
        return StoreConsumer(spec.bench.store_url, spec.index)
    return RawConsumer(open_raw(spec.bench), spec.index)


def consume_worker(spec: WorkerSpec, events: Any, go: Any) -> None:
    """A consuming process: open its own connection, warm up, await the start, drain."""
    try:
        consumer = open_consumer(spec)
        try:
            consumer.warm_up(listen=False)
            events.put(("ready", spec.index))
            go.wait()
            cpu = time.process_time()
            count = consumer.drain(spec.batch, spec.batch_complete,
                                   time.monotonic() + spec.max_seconds)
            events.put(("done", spec.index, count, time.monotonic(),
                        time.process_time() - cpu))
        finally:
            consumer.close()
    except Exception:
        events.put(("error", spec.index, traceback.format_exc()))


def latency_worker(spec: WorkerSpec, events: Any, stop: Any) -> None:
    """An idle worker: say it is about to block, block in the wait, claim, report, complete."""
    try:
        consumer = open_consumer(spec)
        try:
            consumer.warm_up(listen=True)
            while True:
                events.put(("ready", spec.index))
                reference = consumer.wait_and_claim(stop)
                if reference is None:
                    return
                events.put(("claimed", reference, time.monotonic()))
                consumer.finish()
        finally:
            consumer.close()
    except Exception:
        events.put(("error", spec.index, traceback.format_exc()))


class WorkerFailed(RuntimeError):
    """A worker process raised or died: the run's figure would be meaningless."""


def await_events(events: Any, procs: Sequence[BaseProcess], kind: str,
                 count: int) -> list[tuple[Any, ...]]:
    """`count` messages of `kind` from the workers; raise at once if one failed or died."""
    got: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + WORKER_TIMEOUT
    while len(got) < count:
        try:
            message = events.get(timeout=1.0)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise WorkerFailed(f"worker(s) died or hung: {dead or 'timeout'}") from None
            continue
        if message[0] == "error":
            raise WorkerFailed(f"worker {message[1]} failed:\n{message[2]}")
        if message[0] == kind:
            got.append(message)
    return got


def mp_context() -> Any:
    """The multiprocessing context (Any: the stubs give BaseContext no Process)."""
    return mp.get_context(START_METHOD)


@contextmanager
def worker_processes(target: Callable[..., None],
                     arg_sets: Sequence[tuple[Any, ...]]) -> Iterator[list[BaseProcess]]:
    """Start one process per argument tuple; on the way out, join them (or end ours)."""
    procs: list[BaseProcess] = [mp_context().Process(target=target, args=a, daemon=True)
                                for a in arg_sets]
    for proc in procs:
        proc.start()
    try:
        yield procs
    except BaseException:
        for proc in procs:  # a failed run: no point waiting for the others
            proc.terminate()
        raise
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


# -- the measurements --------------------------------------------------------------------
def new_items(count: int) -> list[NewItem]:
    """Items like a real producer's: a reference and a small payload."""
    return [NewItem(reference=f"r{i}", payload={"n": i, "invoice": f"INV-{i:08d}"})
            for i in range(count)]


# The trust issue's protections, for runs that must show they cost what they cost:
# payloads, outputs and errors sealed under a data key wrapped by a master key, and
# the audit chain keyed (HMAC) by a key derived from it, as `rpa serve` runs with.
# A module global, so that forked workers inherit it; set by `use_trust`.
TRUST_MASTER_KEY: bytes | None = None


def use_trust(on: bool) -> None:
    """Open every bench store (in this process and forked workers) sealed and keyed."""
    global TRUST_MASTER_KEY
    from cryptography.fernet import Fernet
    TRUST_MASTER_KEY = Fernet.generate_key() if on else None


def open_bench_store(bench: Bench, writer: str) -> SqlStore:
    store = open_store(bench.store_url, writer=writer)
    assert isinstance(store, SqlStore)
    if TRUST_MASTER_KEY is not None:
        from orchestrator.encryption import AUDIT, EnvelopeSealer, MasterKey
        from queues import ChainKey
        sealer = EnvelopeSealer(store.keys, MasterKey(TRUST_MASTER_KEY))
        store.use_sealer(sealer)
        store.use_audit_key(ChainKey(sealer.raw_key(AUDIT)))
    return store


def series_sql(engine: str) -> tuple[str, str]:
    """(prefix, FROM source) of the numbers 1..n, in each engine's own way."""
    if engine == "postgres":
        return "", "generate_series(1, %(n)s) AS s(n)"
    return ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) ",
            "s")


def preload_sql(engine: str, impl: str) -> str:
    """INSERT ... SELECT of n new items, the rows `enqueue` would write, by the database.

    Preloading is not what is measured, and through the store it would cost
    longer than the consuming run it prepares (several seconds per run).
    """
    prefix, source = series_sql(engine)
    now = "%(now)s" if engine == "postgres" else ":now"
    payload = "'{\"n\": ' || n || ', \"invoice\": \"INV-' || n || '\"}'"
    if engine == "postgres":
        payload = f"CAST({payload} AS JSONB)"
    if impl == "baseline":
        return (f"{prefix}INSERT INTO bench_jobs (reference, payload, status, created_at, "
                f"updated_at) SELECT 'r' || n, {payload}, 'new', {now}, {now} FROM {source}")
    return (f"{prefix}INSERT INTO work_items (queue_id, reference, payload, priority, "
            "deadline_order, available_at, status, attempts, attempt_limit, created_at, "
            f"updated_at) SELECT (SELECT id FROM queues WHERE name = '{PROCESS}'), 'r' || n, "
            f"{payload}, 1, {NO_DEADLINE!r}, {now}, 'new', 0, 3, {now}, {now} FROM {source}")


def preload(bench: Bench, impl: str, count: int) -> None:
    """Fill an emptied queue with `count` new items (not timed), then ANALYZE."""
    (reset_store if impl == "store" else reset_raw)(bench)
    dsn = bench.store_dsn if impl == "store" else bench.raw_dsn
    params = {"n": count, "now": time.time()}
    sql = preload_sql(bench.engine, impl)
    if bench.engine == "postgres":
        with psycopg.connect(dsn) as conn:
            conn.execute(sql, params)
    else:
        conn2 = sqlite_connect(dsn)
        try:
            conn2.execute(sql, params)
        finally:
            conn2.close()
    analyze(bench, impl)


def bulk_once(bench: Bench, impl: str) -> float:
    """Items per second of one enqueue of N items into an empty queue."""
    items = new_items(bench.config.items)
    if impl == "store":
        reset_store(bench)
        store = open_bench_store(bench, "bench-producer")
        try:
            store.get_process(PROCESS)  # a warm connection, as a running producer has
            began = time.perf_counter()
            store.enqueue(PROCESS, items, actor="user:bench")
            took = time.perf_counter() - began
        finally:
            store.close()
    else:
        reset_raw(bench)
        raw = open_raw(bench)
        try:
            raw.ping()
            began = time.perf_counter()
            raw.insert(items)
            took = time.perf_counter() - began
        finally:
            raw.close()
    return len(items) / took


@dataclass(frozen=True)
class Run:
    """One run's figure, and for consuming runs the workers' own CPU per item."""

    value: float
    cpu_ms: float | None = None
    items: int | None = None


def consume_once(bench: Bench, impl: str, scenario: Scenario) -> Run:
    """Items per second of `scenario.workers` processes draining the preloaded queue.

    They stop at the queue's end or after --max-seconds, whichever comes first,
    so a slow configuration costs seconds, not an hour; the items done, the
    elapsed time and the CPU the workers spent give the rate and the cost.
    """
    preload(bench, impl, bench.config.items)
    specs = [WorkerSpec(bench, impl, i, scenario.batch, scenario.batch_complete,
                        bench.config.max_seconds) for i in range(scenario.workers)]
    ctx = mp_context()
    go, events = ctx.Event(), ctx.Queue()
    with worker_processes(consume_worker, [(s, events, go) for s in specs]) as procs:
        await_events(events, procs, "ready", len(specs))
        began = time.monotonic()
        go.set()
        done = await_events(events, procs, "done", len(specs))
    consumed = sum(m[2] for m in done)
    finished = count_done(bench, impl)
    if consumed != finished or consumed == 0:
        raise WorkerFailed(f"{impl} {scenario.key}: workers counted {consumed} items, "
                           f"the table has {finished} done")
    cpu_ms = sum(m[4] for m in done) * 1000 / consumed
    return Run(consumed / (max(m[3] for m in done) - began), cpu_ms, consumed)


@dataclass
class LatencySamples:
    """Milliseconds from just before the producer's enqueue, and from its return."""

    from_call: list[float] = field(default_factory=list)
    from_commit: list[float] = field(default_factory=list)


def latency_run(bench: Bench, impl: str) -> LatencySamples:
    """Enqueue one item at a time to a worker blocked in its wait; time until claimed."""
    impl_reset = reset_store if impl == "store" else reset_raw
    impl_reset(bench)
    ctx = mp_context()
    events, stop = ctx.Queue(), ctx.Event()
    spec = WorkerSpec(bench, impl, 0)
    samples = LatencySamples()
    rng = random.Random(2026)
    # the worker starts (forks) before the producer opens any connection of its own
    with worker_processes(latency_worker, [(spec, events, stop)]) as procs:
        enqueue, close = _producer(bench, impl)
        try:
            for n in range(bench.config.latency_samples + LATENCY_WARMUP):
                await_events(events, procs, "ready", 1)
                time.sleep(rng.uniform(0.005, 0.015))  # it is surely blocked by now
                began = time.monotonic()
                enqueue(f"lat-{n}")
                committed = time.monotonic()
                (_, reference, claimed), = await_events(events, procs, "claimed", 1)
                if reference != f"lat-{n}":
                    raise WorkerFailed(f"claimed {reference}, expected lat-{n}")
                if n >= LATENCY_WARMUP:
                    samples.from_call.append((claimed - began) * 1000)
                    samples.from_commit.append((claimed - committed) * 1000)
            stop.set()
        finally:
            close()
    return samples


def _producer(bench: Bench, impl: str) -> tuple[Callable[[str], None], Callable[[], None]]:
    """(enqueue one item by reference, close) for our store or the baseline."""
    if impl == "store":
        store = open_bench_store(bench, "bench-producer")
        store.get_process(PROCESS)

        def enqueue(reference: str) -> None:
            store.enqueue(PROCESS, [NewItem(reference=reference, payload={"n": 1})],
                          actor="user:bench")
        return enqueue, store.close
    raw = open_raw(bench)
    raw.ping()
    return raw.enqueue_one, raw.close


# -- queue_status over a large table -----------------------------------------------------
# Per mille of the items, in this order of b = (n / STATUS_QUEUES) % 1000.
STATUS_MIX = (("done", 950), ("new", 25), ("retry_scheduled", 3), ("in_progress", 2),
              ("business_failed", 12), ("dead", 5), ("abandoned", 3))
OPEN_LOW, OPEN_HIGH = 950, 980   # b in [950, 980): new, retry_scheduled, in_progress


def _status_case() -> str:
    parts, upper = [], 0
    for status, share in STATUS_MIX[:-1]:
        upper += share
        parts.append(f"WHEN b < {upper} THEN '{status}'")
    return f"CASE {' '.join(parts)} ELSE '{STATUS_MIX[-1][0]}' END"


def status_load_sql(dialect: str, queue_ids: Sequence[int]) -> str:
    """INSERT ... SELECT of :total items computed from n by the database itself.

    Open items get due dates from an hour ago to three hours ahead, so the
    SLA-risk query has breached and at-risk rows to count; finished items carry
    an output and a finish time like real ones.
    """
    queue_case = "CASE n % {} {} END".format(
        len(queue_ids), " ".join(f"WHEN {i} THEN {q}" for i, q in enumerate(queue_ids)))
    json_text = ("CAST('{}' AS JSONB)" if dialect == "postgresql" else "'{}'").format
    payload = json_text('{"invoice": "INV-2025-000123", "amount": "1234.50"}')
    output = json_text('{"ok": true}')
    is_open = f"b >= {OPEN_LOW} AND b < {OPEN_HIGH}"
    series = "generate_series(1, :total) AS s(n)" if dialect == "postgresql" else "series"
    prefix = "" if dialect == "postgresql" else (
        "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series "
        "WHERE n < :total) ")
    return f"""
    {prefix}INSERT INTO work_items (queue_id, reference, payload, priority, deadline,
        deadline_order, due_at, available_at, status, attempts, attempt_limit, lease_owner,
        lease_expires_at, attempt_started_at, output, error_type, error_code, error_message,
        created_at, updated_at, finished_at)
    SELECT {queue_case}, 'bulk-' || n, {payload}, 1, NULL, 253402300799.0,
        CASE WHEN {is_open} THEN :now + (n % 14400) - 3600 ELSE NULL END,
        created, st, CASE WHEN st = 'new' THEN 0 ELSE 1 END, 3,
        CASE WHEN st = 'in_progress' THEN 'bench-worker' ELSE NULL END,
        CASE WHEN st = 'in_progress' THEN :now + 300 ELSE NULL END,
        CASE WHEN st = 'in_progress' THEN :now ELSE NULL END,
        CASE WHEN st = 'done' THEN {output} ELSE NULL END,
        CASE WHEN st IN ('business_failed', 'dead') THEN 'BusinessRuleError' ELSE NULL END,
        CASE WHEN st IN ('business_failed', 'dead') THEN 'E42' ELSE NULL END,
        NULL, created, created + 60,
        CASE WHEN st IN ('done', 'business_failed', 'dead', 'abandoned')
             THEN created + 60 ELSE NULL END
    FROM (SELECT n, b, created, {_status_case()} AS st
          FROM (SELECT n, (n / {STATUS_QUEUES}) % 1000 AS b,
                       :start + n * :step AS created FROM {series}) AS g) AS h
    """


RAW_STATUS_SQL = (
    "SELECT queue_id, status, count(*) FROM work_items GROUP BY queue_id, status",
    "SELECT queue_id, min(created_at) FROM work_items "
    "WHERE status IN ('new', 'retry_scheduled') GROUP BY queue_id",
    "SELECT queue_id, sum(CASE WHEN due_at < {now} THEN 1 ELSE 0 END), "
    "sum(CASE WHEN due_at >= {now} THEN 1 ELSE 0 END) FROM work_items "
    "WHERE status IN ('new', 'retry_scheduled', 'in_progress') AND due_at < {soon} "
    "GROUP BY queue_id",
    "SELECT q.id, q.name, p.name, p.paused FROM queues q "
    "JOIN processes p ON p.id = q.process_id ORDER BY q.name",
)


def load_status_items(bench: Bench) -> float:
    """Bulk-load the status table and refresh statistics; returns the seconds it took."""
    reset_store(bench)
    store = open_bench_store(bench, "bench-status")
    try:
        for i in range(STATUS_QUEUES):
            store.upsert_process(ProcessSpec(
                name=f"status-{i:02d}", owner=f"Owner {i}", cost_centre=str(1000 + i),
                bot="noop", manual_minutes_per_item=5), actor="user:bench")
        ids = [store.get_process(f"status-{i:02d}").queue_id for i in range(STATUS_QUEUES)]
        now = time.time()
        span = 90 * 86400.0
        total = bench.config.status_items
        began = time.perf_counter()
        with store.engine.begin() as conn:
            conn.execute(sa.text(status_load_sql(store.engine.dialect.name, ids)),
                         {"total": total, "now": now, "start": now - span,
                          "step": span / total})
    finally:
        store.close()
    vacuum = "VACUUM ANALYZE work_items" if bench.engine == "postgres" else "ANALYZE"
    run_sql(bench, bench.store_dsn, [vacuum])
    return time.perf_counter() - began


def time_calls(call: Callable[[], Any]) -> list[float]:
    """Milliseconds of STATUS_CALLS calls after one untimed warm-up call."""
    call()
    times = []
    for _ in range(STATUS_CALLS):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def status_times_store(bench: Bench) -> list[float]:
    store = open_bench_store(bench, "bench-status")
    try:
        return time_calls(store.queue_status)
    finally:
        store.close()


def status_times_raw(bench: Bench) -> list[float]:
    """The same four statements as plain SQL, in one read transaction."""
    def statements() -> list[str]:
        now = time.time()
        return [s.format(now=now, soon=now + 3600) for s in RAW_STATUS_SQL]

    if bench.engine == "postgres":
        with psycopg.connect(bench.store_dsn) as conn:
            def run_pg() -> None:
                for statement in statements():
                    conn.execute(statement).fetchall()
                conn.commit()
            return time_calls(run_pg)
    conn2 = sqlite_connect(bench.store_dsn)
    try:
        def run_sqlite() -> None:
            conn2.execute("BEGIN")
            for statement in statements():
                conn2.execute(statement).fetchall()
            conn2.execute("COMMIT")
        return time_calls(run_sqlite)
    finally:
        conn2.close()


# -- one engine --------------------------------------------------------------------------
class Steps:
    """The progress line: which measurement runs now, and how many are left."""

    def __init__(self, progress: Progress, total: int):
        self.progress = progress
        self.task = progress.add_task("starting", total=total)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.progress.update(self.task, description=label)
        yield
        self.progress.advance(self.task)


def step_count(config: Config) -> int:
    per_rate = 2 + 2 * len(SCENARIOS)
    return len(config.engines) * (per_rate * config.repeat + 2 + 3)


def paired(bench: Bench, steps: Steps, label: str, ours: Callable[[], Run],
           baseline: Callable[[], Run]) -> tuple[list[Run], list[Run]]:
    """--repeat runs of ours and the baseline's, interleaved (ours, baseline, ours, ...).

    Why interleaved: the machine drifts over minutes (other tenants, the kernel
    flushing what an earlier phase wrote); three of ours and then three of the
    baseline's put the drift into the ratio, alternating spreads it over both.
    """
    mine: list[Run] = []
    theirs: list[Run] = []
    for n in range(bench.config.repeat):
        tag = f"(run {n + 1}/{bench.config.repeat})"
        with steps.step(f"{bench.engine}: {label}, store {tag}"):
            mine.append(ours())
        with steps.step(f"{bench.engine}: {label}, baseline {tag}"):
            theirs.append(baseline())
    return mine, theirs


def rate_result(bench: Bench, key: str, label: str, ours: list[Run], base: list[Run],
                note: str = "") -> Result:
    """A rate row from the runs of both: medians of the rates and of the CPU per item."""
    def cpu(runs: list[Run]) -> float | None:
        known = [r.cpu_ms for r in runs if r.cpu_ms is not None]
        return median(known) if known else None

    return Result(bench.engine, key, label, "items/s",
                  median([r.value for r in ours]) if ours else None,
                  median([r.value for r in base]), [r.value for r in ours],
                  [r.value for r in base], note=note, ours_cpu_ms=cpu(ours),
                  baseline_cpu_ms=cpu(base),
                  items=[r.items for r in ours + base if r.items is not None])


def measure_rates(bench: Bench, steps: Steps) -> list[Result]:
    """Bulk enqueue and every consuming scenario, ours and the baseline's."""
    n = bench.config.items
    results = [rate_result(
        bench, "bulk", f"bulk enqueue, {n:,} items in one call",
        *paired(bench, steps, "bulk enqueue", lambda: Run(bulk_once(bench, "store")),
                lambda: Run(bulk_once(bench, "baseline"))))]
    for s in SCENARIOS:
        ours, base = paired(bench, steps, s.label, partial(consume_once, bench, "store", s),
                            partial(consume_once, bench, "baseline", s))
        note = "store: complete_many (one tx, an attempt row + audit event per item)" \
            if s.batch_complete else ""
        results.append(rate_result(bench, s.key, s.label, ours, base, note))
    return results


def measure_latency(bench: Bench, steps: Steps) -> list[Result]:
    with steps.step(f"{bench.engine}: enqueue→claim latency, store"):
        ours = latency_run(bench, "store")
    with steps.step(f"{bench.engine}: enqueue→claim latency, baseline"):
        base = latency_run(bench, "baseline")
    def note(p: int) -> str:
        return (f"{len(ours.from_call)} samples; measured from the enqueue's return (its "
                f"commit) instead: p{p} {percentile(ours.from_commit, p):.1f} ms ours, "
                f"{percentile(base.from_commit, p):.1f} ms baseline")

    return [
        Result(bench.engine, f"latency_p{p}", f"enqueue→claim latency p{p}, idle worker", "ms",
               percentile(ours.from_call, p), percentile(base.from_call, p), note=note(p))
        for p in (50, 95)
    ]


def measure_status(bench: Bench, steps: Steps) -> list[Result]:
    total = bench.config.status_items
    with steps.step(f"{bench.engine}: loading {total:,} items for queue_status"):
        loaded = load_status_items(bench)
    with steps.step(f"{bench.engine}: queue_status(), store"):
        ours = status_times_store(bench)
    with steps.step(f"{bench.engine}: queue_status(), baseline"):
        base = status_times_raw(bench)
    return [Result(bench.engine, "status", f"queue_status() over {total:,} items", "ms",
                   median(ours), median(base), ours, base,
                   note=f"bulk load + ANALYZE took {loaded:.1f} s")]


@contextmanager
def scratch_bench(engine: str, config: Config) -> Iterator[Bench]:
    """Migrated store database and baseline table for one engine, removed afterwards."""
    if engine == "sqlite":
        with scratch_dir() as tmp:
            store_path, raw_path = str(tmp / "queue.db"), str(tmp / "baseline.db")
            yield _prepared(Bench(engine, f"sqlite:///{store_path}", store_path, raw_path,
                                  config))
        return
    with scratch_postgres() as dsn:
        yield _prepared(Bench(engine, sqlalchemy_url(dsn), dsn, dsn, config))


def _prepared(bench: Bench) -> Bench:
    upgrade(bench.store_url)
    store = open_bench_store(bench, "bench-setup")
    try:
        for name in (PROCESS, WARMUP_PROCESS):
            store.upsert_process(ProcessSpec(name=name, owner="Bench", cost_centre="0",
                                             bot="noop", manual_minutes_per_item=5),
                                 actor="user:bench")
    finally:
        store.close()
    raw = open_raw(bench)
    try:
        raw.create()
    finally:
        raw.close()
    return bench


def bench_engine(engine: str, config: Config, steps: Steps) -> list[Result]:
    # What the previous engine wrote (SQLite's million-item status table) must reach
    # the disk before this one's commits are timed, not while they are.
    os.sync()
    with scratch_bench(engine, config) as bench:
        return (measure_rates(bench, steps) + measure_latency(bench, steps)
                + measure_status(bench, steps))


# -- output ------------------------------------------------------------------------------
def figure(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}/s" if unit == "items/s" else f"{value:,.1f} ms"


def cpu_text(r: Result) -> str:
    if r.ours_cpu_ms is None and r.baseline_cpu_ms is None:
        return ""
    ours = "n/a" if r.ours_cpu_ms is None else f"{r.ours_cpu_ms:.2f}"
    base = "n/a" if r.baseline_cpu_ms is None else f"{r.baseline_cpu_ms:.3f}"
    return f"{ours} / {base}"


def verdict(met: bool | None) -> str:
    return "" if met is None else ("[green]met[/]" if met else "[red]NOT met[/]")


def results_table(results: Sequence[Result], config: Config) -> Table:
    table = Table(title=f"Queue benchmark: up to {config.items:,} items or "
                        f"{config.max_seconds:g} s per consuming run, median of "
                        f"{config.repeat} run(s), {os.cpu_count()} cores",
                  title_justify="left")
    for column, justify in (("engine", "left"), ("measurement", "left"), ("ours", "right"),
                            ("baseline", "right"), ("ours/baseline", "right"),
                            ("worker CPU ms/item\nours / baseline", "right"),
                            ("target", "left"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    engine = None
    for r in results:
        if engine is not None and r.engine != engine:
            table.add_section()
        engine = r.engine
        table.add_row(r.engine, r.label, figure(r.ours, r.unit), figure(r.baseline, r.unit),
                      ratio_text(r.ratio), cpu_text(r), r.target.text if r.target else "",
                      verdict(r.met))
    return table


def notes(results: Sequence[Result], env: dict[str, Any]) -> list[str]:
    out = [f"{r.engine}: {r.label}: {r.note}" for r in results if r.note]
    out.append("ours/baseline: for rates < 1 means slower than the baseline; for "
               "milliseconds > 1 means slower.")
    out.append("batched: 'complete each' is one transaction per item (item update + attempt "
               "row + audit event); 'in one tx' is the store's complete_many.")
    out.append("worker CPU: the consuming processes' own CPU time per item (on PostgreSQL "
               "the server's is not in it); it moves much less with machine load than items/s.")
    cores = env["cores"] or 1
    busiest = max(env["load_before"][0], env["load_after"][0])
    if busiest > cores:
        out.append(f"the machine was busy: 1-minute load average up to {busiest:.1f} on "
                   f"{cores} cores; absolute rates are depressed, compare the ratios and "
                   "the CPU per item")
    return out


def environment(config: Config, load_before: tuple[float, ...]) -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgres": postgres_version(),
            "start_method": START_METHOD, "load_before": load_before,
            "load_after": os.getloadavg(), "config": asdict(config)}


def show(results: Sequence[Result], env: dict[str, Any], config: Config,
         as_json: bool) -> None:
    out = Console(highlight=False, stderr=as_json, width=170)
    out.print(results_table(results, config))
    for line in notes(results, env):
        out.print(f"  • {line}", markup=False)
    if as_json:
        print(json.dumps({"environment": env, "results": [r.as_json() for r in results],
                          "notes": notes(results, env)}, indent=2))


# -- command line ------------------------------------------------------------------------
def parse_config(argv: list[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000,
                        help="items enqueued per rate measurement (default 20,000)")
    parser.add_argument("--max-seconds", type=float, default=8.0,
                        help="a consuming run stops after this long even if items are "
                             "left (default 8)")
    parser.add_argument("--status-items", type=int, default=1_000_000,
                        help="items under queue_status() (default 1,000,000)")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each rate; the median is reported (default 1)")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--quick", action="store_true",
                        help="a CI smoke run: 300 items, 1.5 s per consuming run, 20,000 "
                             "items for status, 15 latency samples")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the table goes to stderr)")
    args = parser.parse_args(argv)
    engines = (args.only,) if args.only else ("sqlite", "postgres")
    if "postgres" in engines and postgres_version() is None:
        parser.error("PostgreSQL does not answer at RPA_TEST_POSTGRES_URL: use --only sqlite")
    if args.quick:
        return Config(300, 20_000, 15, 1, 1.5, engines), args.json
    return Config(args.items, args.status_items, args.latency_samples, max(1, args.repeat),
                  args.max_seconds, engines), args.json


def main(argv: list[str] | None = None) -> int:
    config, as_json = parse_config(argv)
    load_before = os.getloadavg()
    results: list[Result] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        steps = Steps(progress, step_count(config))
        for engine in config.engines:
            results += bench_engine(engine, config, steps)
    show(results, environment(config, load_before), config, as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
