"""huey 3.5.4 adapter (SqliteHuey: a SQLite file).

Settings, and why (huey's documented defaults for SqliteHuey and its consumer,
i.e. what `huey_consumer app.huey` does without options):
- storage: `SqliteHuey(filename=...)`: WAL journal, huey's default busy
  timeout 5 s, cache 8 MB, `fsync` left unset (SQLite's own default
  synchronous level), results on, store_none off (a no-op returns None, so no
  result row is written: the task table is the whole store traffic);
- consumer: `huey.create_consumer()` with its defaults: workers=1,
  worker_type='thread', initial_delay 0.1 s, backoff 1.15, max_delay 10 s
  (the worker polls; SQLite has no blocking dequeue and no notify),
  scheduler_interval 1 s, periodic on, health check on; one consumer per
  worker process (--workers W processes, each a consumer with one worker
  thread), stopped with SIGINT (huey's graceful signal);
- enqueue: calling the task (`noop(n=i)`), one INSERT in autocommit each;
- bulk: huey has no bulk enqueue (`TaskWrapper.map` is a loop of single
  enqueues), so enqueue_bulk is reported unsupported;
- batched fetch: none (`SqliteStorage.dequeue` takes one task per exclusive
  transaction), so consume with --batch > 1 is unsupported;
- finished count: the consumer deletes a task's row when it dequeues it and
  keeps no "done" record for a None result, so the store's figure is
  N - `huey.pending_count()`; it is checked against the tasks' counter.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import signal
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Options, Timed, Unsupported, WorkerHooks, stopwatch, timed_latency_loop
from huey import SqliteHuey
from huey.signals import SIGNAL_COMPLETE

_TMP: tempfile.TemporaryDirectory[str] | None = None


def _db_path(opts: Options) -> str:
    """--sqlite PATH, or a file in a temporary directory removed at exit."""
    global _TMP
    if opts.sqlite:
        return opts.sqlite
    if _TMP is None:
        _TMP = tempfile.TemporaryDirectory(prefix="peers-huey-")
    return str(Path(_TMP.name) / "huey.db")


def _make_huey(opts: Options, hooks: WorkerHooks | None = None,
               latency: bool = False) -> tuple[SqliteHuey, Any]:
    huey = SqliteHuey("peers", filename=_db_path(opts))

    if latency and hooks is not None:
        @huey.task(name="noop")
        def noop_sample(n: int) -> None:
            hooks.write_sample(n)
        task = noop_sample
    else:
        @huey.task(name="noop")
        def noop(n: int) -> None:
            pass
        task = noop

    if hooks is not None:
        # Counted on huey's "complete" signal, i.e. after huey has finished the
        # task (result handling included), in the worker thread.
        @huey.signal(SIGNAL_COMPLETE)
        def on_complete(signal_name: str, task_obj: Any) -> None:
            hooks.progress.task_done()
    return huey, task


class HueyPeer:
    name = "huey"
    stop_signal = signal.SIGINT  # huey consumer: SIGINT graceful, SIGTERM immediate
    consume_end = "counter"  # a huey consumer never stops on an empty queue

    def versions(self) -> dict[str, str]:
        return {"huey": md.version("huey"), "sqlite": sqlite3.sqlite_version}

    def settings(self, opts: Options) -> dict[str, Any]:
        return {
            "storage": "SqliteHuey defaults (WAL, timeout 5 s, cache 8 MB, fsync unset)",
            "results": "on (store_none off: a None result writes nothing)",
            "consumer": "create_consumer() defaults, one per worker process",
            "workers_per_consumer": 1,
            "worker_type": "thread",
            "initial_delay_s": 0.1,
            "backoff": 1.15,
            "max_delay_s": 10.0,
            "wakeup": "polling with backoff (no blocking dequeue/notify for SQLite)",
            "enqueue_bulk": "unsupported (no bulk API; map() loops single enqueues)",
            "batch_fetch": "not supported (one task per dequeue)",
            "sqlite_file": _db_path(opts),
        }

    def reset(self, opts: Options) -> None:
        """A fresh SQLite file: remove the file and its -wal/-shm, tables made on first use."""
        path = _db_path(opts)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        huey, _ = _make_huey(opts)
        huey.pending_count()  # SqliteStorage creates its tables when constructed; touch the file
        huey.storage.close()

    def enqueue_one(self, opts: Options) -> Timed:
        """`noop(n=i)`: one enqueue (one INSERT, autocommit) per call, no consumer running."""
        self.reset(opts)
        huey, noop = _make_huey(opts)
        huey.pending_count()  # open the connection before timing
        with stopwatch() as t:
            for i in range(opts.items):
                noop(n=i)
        assert huey.pending_count() == opts.items
        return t

    def enqueue_bulk(self, opts: Options) -> Timed:
        raise Unsupported("huey has no bulk enqueue API (TaskWrapper.map is a loop of "
                          "single enqueues)")

    def preload(self, opts: Options) -> None:
        """Serialize N tasks with huey's own serializer; insert them in one transaction."""
        huey, noop = _make_huey(opts)
        rows = [(huey.storage.name, huey.serialize_task(noop.s(n=i)), 0.0)
                for i in range(opts.items)]
        with sqlite3.connect(_db_path(opts)) as conn:
            conn.executemany("INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)", rows)
        assert huey.pending_count() == opts.items
        huey.storage.close()

    def check_consume_options(self, opts: Options) -> None:
        if opts.batch != 1:
            raise Unsupported("huey dequeues one task per exclusive transaction; "
                              "no batched fetch")

    def _worker(self, opts: Options, hooks: WorkerHooks, latency: bool) -> float:
        huey, _ = _make_huey(opts, hooks, latency=latency)
        huey.pending_count()  # connect before the start signal
        consumer = huey.create_consumer(workers=1, worker_type="thread")
        hooks.ready()
        hooks.wait_start()
        cpu_at_start = time.process_time()
        consumer.run()  # returns after SIGINT (graceful: the running task completes)
        return cpu_at_start

    def consume_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, latency=False)

    def count_finished(self, opts: Options) -> int:
        """N minus the tasks still in huey's task table (a dequeued task's row is gone)."""
        huey, _ = _make_huey(opts)
        try:
            return opts.items - huey.pending_count()
        finally:
            huey.storage.close()

    def latency_worker(self, opts: Options, hooks: WorkerHooks) -> float:
        return self._worker(opts, hooks, latency=True)

    def latency_producer(self, opts: Options, sample_fd: int) -> tuple[list[float], float]:
        huey, noop = _make_huey(opts)
        huey.pending_count()
        return timed_latency_loop(opts, sample_fd, lambda n: noop(n=n))
