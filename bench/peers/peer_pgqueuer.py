"""PgQueuer 1.6.0 adapter (PostgreSQL; asyncpg driver).

Settings, and why (what PgQueuer's README and `pgq run` recommend):
- driver: `AsyncpgDriver` over one asyncpg connection per process, the
  README's quick-start driver for both producer and consumer;
- schema: `Queries.install()` (what `pgq install` runs), after `uninstall()`
  when present, so every run starts from empty tables; default table names
  (`pgqueuer`, `pgqueuer_log`, ...), durable (logged) tables: we do not call
  `alter_durability` (unlogged) or `optimize_autovacuum`, both opt-in;
- worker: `pgqueuer.run(factory, ...)`, the programmatic form of `pgq run`, with
  its defaults (dequeue_timeout 30 s as LISTEN/NOTIFY fallback, heartbeat 30 s,
  no max_concurrent_tasks) except `batch_size`, which is --batch (default 1 for
  one-at-a-time claiming; `pgq run`'s own default is 10); consume uses
  `mode=drain` (exits when the queue is empty), latency `continuous`;
- completion: PgQueuer moves a finished job from `pgqueuer` to `pgqueuer_log`
  (status 'successful'), through its JobStatusLogBuffer (flushes at
  `batch_size` entries or every ~0.1 s); the finished count is read there.
"""

from __future__ import annotations

import asyncio
import importlib.metadata as md
import json
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pgqueuer
from harness import BULK_CHUNK, Options, Timed, WorkerHooks, read_sample, sample_gap, stopwatch
from pgqueuer import AsyncpgDriver, PgQueuer, Queries
from pgqueuer.domain.types import QueueExecutionMode
from pgqueuer.models import Job

ENTRYPOINT = "noop"


def _payload(i: int) -> bytes:
    return json.dumps({"n": i}).encode()


class PgQueuerPeer:
    name = "pgqueuer"
    stop_signal = signal.SIGTERM  # pgqueuer.run installs SIGINT/SIGTERM -> graceful shutdown
    consume_end = "drain"

    def versions(self) -> dict[str, str]:
        return {"pgqueuer": md.version("pgqueuer"), "asyncpg": md.version("asyncpg")}

    def settings(self, opts: Options) -> dict[str, Any]:
        return {
            "driver": "AsyncpgDriver (one asyncpg connection per process)",
            "schema": "Queries.install() after uninstall(); durable tables, defaults",
            "worker": "pgqueuer.run(factory) = `pgq run`",
            "batch_size": opts.batch,
            "mode": "drain (consume) / continuous (latency)",
            "dequeue_timeout_s": 30,
            "heartbeat_timeout_s": 30,
            "max_concurrent_tasks": None,
            "wakeup": "LISTEN/NOTIFY (PgQueuer's trigger on insert), 30 s poll fallback",
            "enqueue_bulk": f"Queries.enqueue(list, list, list) in chunks of {BULK_CHUNK}",
        }

    # ------------------------------------------------------------------ helpers
    async def _connect(self, opts: Options) -> tuple[asyncpg.Connection, Queries]:
        conn = await asyncpg.connect(opts.require_dsn())
        return conn, Queries(AsyncpgDriver(conn))

    def reset(self, opts: Options) -> None:
        """Drop PgQueuer's objects if present, then `install()` them afresh."""
        async def go() -> None:
            conn, q = await self._connect(opts)
            try:
                if await q.schema_is_installed():
                    await q.uninstall()
                await q.install()
            finally:
                await conn.close()
        asyncio.run(go())

    # ------------------------------------------------------------------ enqueue
    def enqueue_one(self, opts: Options) -> Timed:
        """`Queries.enqueue(entrypoint, payload)` once per job, awaited in sequence."""
        self.reset(opts)

        async def go() -> Timed:
            conn, q = await self._connect(opts)
            try:
                with stopwatch() as t:
                    for i in range(opts.items):
                        await q.enqueue(ENTRYPOINT, _payload(i))
                return t
            finally:
                await conn.close()
        return asyncio.run(go())

    async def _enqueue_chunks(self, q: Queries, n: int) -> None:
        for lo in range(0, n, BULK_CHUNK):
            k = min(BULK_CHUNK, n - lo)
            await q.enqueue([ENTRYPOINT] * k, [_payload(i) for i in range(lo, lo + k)], [0] * k)

    def enqueue_bulk(self, opts: Options) -> Timed:
        """`Queries.enqueue` with lists (one INSERT ... UNNEST per 1,000 jobs)."""
        self.reset(opts)

        async def go() -> Timed:
            conn, q = await self._connect(opts)
            try:
                with stopwatch() as t:
                    await self._enqueue_chunks(q, opts.items)
                return t
            finally:
                await conn.close()
        return asyncio.run(go())

    # ------------------------------------------------------------------ consume
    def preload(self, opts: Options) -> None:
        """Bulk enqueue (not timed), then ANALYZE + CHECKPOINT like the project's bench."""
        async def go() -> None:
            conn, q = await self._connect(opts)
            try:
                await self._enqueue_chunks(q, opts.items)
                await conn.execute(f"ANALYZE {q.qbe.settings.queue_table}")
                await conn.execute("CHECKPOINT")
            finally:
                await conn.close()
        asyncio.run(go())

    def check_consume_options(self, opts: Options) -> None:
        """PgQueuer supports batched dequeue (`batch_size`): any --batch >= 1."""

    def _worker(self, opts: Options, hooks: WorkerHooks, mode: QueueExecutionMode,
                latency: bool) -> float:
        """Run PgQueuer's own worker (`pgqueuer.run`) on a connection made before the start."""
        cpu_at_start = 0.0

        async def go() -> None:
            nonlocal cpu_at_start
            conn = await asyncpg.connect(opts.require_dsn())
            pgq = PgQueuer(AsyncpgDriver(conn))

            if latency:
                @pgq.entrypoint(ENTRYPOINT)
                async def noop_sample(job: Job) -> None:
                    hooks.write_sample(json.loads(job.payload or b"{}")["n"])
                    hooks.progress.task_done()
            else:
                @pgq.entrypoint(ENTRYPOINT)
                async def noop(job: Job) -> None:
                    hooks.progress.task_done()

            @asynccontextmanager
            async def factory() -> AsyncIterator[PgQueuer]:
                yield pgq

            hooks.ready()
            hooks.wait_start()  # blocking is fine: nothing else runs on this loop yet
            cpu_at_start = time.process_time()
            try:
                await pgqueuer.run(factory, batch_size=opts.batch, mode=mode,
                                   dequeue_timeout=timedelta(seconds=30))
            finally:
                await conn.close()

        asyncio.run(go())
        return cpu_at_start

    def consume_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, QueueExecutionMode.drain, latency=False)

    def count_finished(self, opts: Options) -> int:
        """Rows with status 'successful' in `pgqueuer_log` (the job row itself is deleted)."""
        async def go() -> int:
            conn, q = await self._connect(opts)
            try:
                return int(await conn.fetchval(
                    f"SELECT count(*) FROM {q.qbe.settings.queue_table_log} "
                    "WHERE status = 'successful'"))
            finally:
                await conn.close()
        return asyncio.run(go())

    # ------------------------------------------------------------------ latency
    def latency_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, QueueExecutionMode.continuous, latency=True)

    def latency_producer(self, opts: Options, sample_fd: int) -> tuple[list[float], float]:
        async def go() -> tuple[list[float], float]:
            conn, q = await self._connect(opts)
            latencies: list[float] = []
            try:
                c0 = time.process_time()
                for n in range(opts.samples):
                    payload = _payload(n)
                    t0 = time.monotonic()
                    await q.enqueue(ENTRYPOINT, payload)
                    latencies.append(read_sample(sample_fd, n) - t0)
                    time.sleep(sample_gap(opts, n))
                return latencies, time.process_time() - c0
            finally:
                await conn.close()
        return asyncio.run(go())
