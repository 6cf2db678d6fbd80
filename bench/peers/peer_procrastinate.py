"""procrastinate 3.10.0 adapter (PostgreSQL; psycopg 3 async pool).

Settings, and why (procrastinate's documented defaults, which its docs present
as the production setup):
- connector: `PsycopgConnector(conninfo=...)`, the async psycopg 3 connector
  with its default `psycopg_pool.AsyncConnectionPool` (min_size 4);
- schema: `App.schema_manager.apply_schema_async()` (what
  `procrastinate schema --apply` runs) after dropping every `procrastinate_*`
  table, function and type, so every run starts from empty tables;
- task: an `async def` task (procrastinate runs sync tasks in a thread, which
  is not what a no-op should measure), no retry, no lock, default queue;
- worker: `App.run_worker_async` with its defaults: concurrency 1,
  listen_notify True (LISTEN/NOTIFY wake-up), fetch_job_polling_interval 5 s
  (fallback poll), delete_jobs "never" (a finished job stays with status
  'succeeded', which is where the finished count is read),
  install_signal_handlers True (SIGTERM/SIGINT -> graceful stop); consume uses
  `wait=False` (the worker leaves when it has caught up with the queue);
- batched fetch: not offered (`procrastinate_fetch_job_v2` takes one job per
  call; `concurrency` runs several jobs at once but still fetches one by one),
  so consume with --batch > 1 is reported unsupported;
- bulk: `Task.batch_defer_async(*kwargs)` (exists in 3.10) in chunks of 1,000.
"""

from __future__ import annotations

import asyncio
import importlib.metadata as md
import signal
import time
from typing import Any

import psycopg
from harness import (
    BULK_CHUNK,
    Options,
    Timed,
    Unsupported,
    WorkerHooks,
    read_sample,
    sample_gap,
    stopwatch,
)
from procrastinate import App, PsycopgConnector

#: Drops what procrastinate's schema.sql creates (tables first: their triggers
#: and row types go with them; then the functions and the standalone types).
DROP_SCHEMA_SQL = r"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind = 'r'
             AND c.relname LIKE 'procrastinate\_%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.relname);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%' LOOP
    EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE';
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\_%'
             AND t.typtype IN ('e', 'c') LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
  END LOOP;
END $$;
"""


def _make_app(opts: Options, hooks: WorkerHooks | None = None,
              latency: bool = False) -> tuple[App, Any]:
    """An App with one no-op async task named "noop"; returns (app, task)."""
    app = App(connector=PsycopgConnector(conninfo=opts.require_dsn()))

    if latency and hooks is not None:
        @app.task(name="noop")
        async def noop_sample(n: int) -> None:
            hooks.write_sample(n)
            hooks.progress.task_done()
        return app, noop_sample

    @app.task(name="noop")
    async def noop(n: int) -> None:
        if hooks is not None:
            hooks.progress.task_done()
    return app, noop


async def _pool_ready(app: App) -> None:
    """Wait until the pool holds its min_size connections, so none is opened while timed."""
    await app.check_connection_async()
    connector = app.connector
    assert isinstance(connector, PsycopgConnector)
    await connector.pool.wait(timeout=30)


class ProcrastinatePeer:
    name = "procrastinate"
    stop_signal = signal.SIGTERM  # procrastinate's handler: graceful stop
    consume_end = "drain"

    def versions(self) -> dict[str, str]:
        return {"procrastinate": md.version("procrastinate"), "psycopg": md.version("psycopg"),
                "psycopg-pool": md.version("psycopg-pool")}

    def settings(self, opts: Options) -> dict[str, Any]:
        return {
            "connector": "PsycopgConnector (psycopg 3 AsyncConnectionPool, defaults)",
            "schema": "drop procrastinate_* objects, then schema_manager.apply_schema_async()",
            "task": "async def, no retry/lock, default queue",
            "worker": "App.run_worker_async",
            "concurrency": 1,
            "wait": "False (consume) / True (latency)",
            "listen_notify": True,
            "fetch_job_polling_interval_s": 5.0,
            "delete_jobs": "never (finished jobs keep status 'succeeded')",
            "batch_fetch": "not supported (one job per fetch)",
            "enqueue_bulk": f"Task.batch_defer_async in chunks of {BULK_CHUNK}",
        }

    def reset(self, opts: Options) -> None:
        with psycopg.connect(opts.require_dsn(), autocommit=True) as conn:
            conn.execute(DROP_SCHEMA_SQL)

        async def go() -> None:
            app, _ = _make_app(opts)
            async with app.open_async():
                await app.schema_manager.apply_schema_async()
        asyncio.run(go())

    # ------------------------------------------------------------------ enqueue
    def enqueue_one(self, opts: Options) -> Timed:
        """`task.defer_async(n=i)` once per job, awaited in sequence."""
        self.reset(opts)

        async def go() -> Timed:
            app, task = _make_app(opts)
            async with app.open_async():
                await _pool_ready(app)
                with stopwatch() as t:
                    for i in range(opts.items):
                        await task.defer_async(n=i)
                return t
        return asyncio.run(go())

    async def _batch_chunks(self, task: Any, n: int) -> None:
        for lo in range(0, n, BULK_CHUNK):
            await task.batch_defer_async(*({"n": i} for i in range(lo, min(n, lo + BULK_CHUNK))))

    def enqueue_bulk(self, opts: Options) -> Timed:
        """`task.batch_defer_async(*kwargs)` per 1,000 jobs."""
        self.reset(opts)

        async def go() -> Timed:
            app, task = _make_app(opts)
            async with app.open_async():
                await _pool_ready(app)
                with stopwatch() as t:
                    await self._batch_chunks(task, opts.items)
                return t
        return asyncio.run(go())

    # ------------------------------------------------------------------ consume
    def preload(self, opts: Options) -> None:
        """batch_defer_async (not timed), then ANALYZE + CHECKPOINT like the project's bench."""
        async def go() -> None:
            app, task = _make_app(opts)
            async with app.open_async():
                await self._batch_chunks(task, opts.items)
        asyncio.run(go())
        with psycopg.connect(opts.require_dsn(), autocommit=True) as conn:
            conn.execute("ANALYZE procrastinate_jobs")
            conn.execute("CHECKPOINT")

    def check_consume_options(self, opts: Options) -> None:
        if opts.batch != 1:
            raise Unsupported("procrastinate fetches one job per query "
                              "(procrastinate_fetch_job_v2); no batched fetch")

    def _worker(self, opts: Options, hooks: WorkerHooks, wait: bool, latency: bool) -> float:
        cpu_at_start = 0.0

        async def go() -> None:
            nonlocal cpu_at_start
            app, _ = _make_app(opts, hooks, latency=latency)
            async with app.open_async():
                await _pool_ready(app)
                hooks.ready()
                hooks.wait_start()
                cpu_at_start = time.process_time()
                await app.run_worker_async(wait=wait, concurrency=1, listen_notify=True,
                                           install_signal_handlers=True)

        asyncio.run(go())
        return cpu_at_start

    def consume_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, wait=False, latency=False)

    def count_finished(self, opts: Options) -> int:
        """Jobs with status 'succeeded' in `procrastinate_jobs`."""
        with psycopg.connect(opts.require_dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_jobs "
                               "WHERE status = 'succeeded'").fetchone()
            return int(row[0]) if row else 0

    # ------------------------------------------------------------------ latency
    def latency_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, wait=True, latency=True)

    def latency_producer(self, opts: Options, sample_fd: int) -> tuple[list[float], float]:
        async def go() -> tuple[list[float], float]:
            app, task = _make_app(opts)
            latencies: list[float] = []
            async with app.open_async():
                await _pool_ready(app)
                c0 = time.process_time()
                for n in range(opts.samples):
                    t0 = time.monotonic()
                    await task.defer_async(n=n)
                    latencies.append(read_sample(sample_fd, n) - t0)
                    time.sleep(sample_gap(opts, n))
                return latencies, time.process_time() - c0
        return asyncio.run(go())
