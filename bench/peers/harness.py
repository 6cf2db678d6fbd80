"""What the three peer adapters share: options, the Peer interface, the process harness.

Why one harness for all peers: the figures are only comparable when each peer
is timed the same way. So the harness, not the adapters, owns the clock, the
start signal, the deadline, the CPU accounting and the statistics; an adapter
only says how its peer enqueues, preloads, runs its own worker machinery and
counts finished jobs in its own store.

Clock: `time.monotonic()` is CLOCK_MONOTONIC, which is system-wide on Linux, so
a time taken in a forked worker and one taken in the parent are comparable.
CPU: `time.process_time()` (user+system of the calling process, all threads).

This module runs in the peers' venv only (it is imported by run_peer.py).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import multiprocessing.synchronize
import os
import random
import select
import signal
import statistics
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlparse

#: Bulk enqueue call size (the brief: calls of 1,000).
BULK_CHUNK = 1000
#: Latency samples dropped at the start: first statements are prepared/planned,
#: the worker's first wake-up may be the initial poll rather than the notify.
LATENCY_WARMUP = 3
#: How long one latency sample may take before the run fails (huey's poll
#: backoff tops out at 10 s by default, so this must be above that).
LATENCY_SAMPLE_TIMEOUT = 30.0
#: How long workers get to connect and report ready before the run fails.
READY_TIMEOUT = 60.0

_SAMPLE = struct.Struct("<qd")  # (sample number, monotonic time) = 16 bytes, one atomic write


class Unsupported(Exception):
    """The peer has no API for what the measure needs; reported, not faked."""


@dataclasses.dataclass(frozen=True)
class Options:
    """The CLI's options, passed unchanged to the adapters (and into forked workers)."""

    peer: str
    measure: str
    items: int
    workers: int
    batch: int
    samples: int
    dsn: str | None
    sqlite: str | None
    max_seconds: float
    gap: float

    def require_dsn(self) -> str:
        """The PostgreSQL URL; refuses the shared `test` database (used by the test suite)."""
        if not self.dsn:
            raise SystemExit(f"--dsn is required for {self.peer}")
        if urlparse(self.dsn).path.lstrip("/") in ("test", ""):
            raise SystemExit("refusing to drop/recreate peer tables in the shared 'test' "
                             "database: pass a scratch database (e.g. peers_...)")
        return self.dsn


@dataclasses.dataclass
class Timed:
    """Wall-clock and CPU seconds of one timed section."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Timed]:
    """Time a block: wall (monotonic) and this process's CPU time."""
    out = Timed()
    t0, c0 = time.monotonic(), time.process_time()
    try:
        yield out
    finally:
        out.seconds = time.monotonic() - t0
        out.cpu_seconds = time.process_time() - c0


@dataclasses.dataclass
class Progress:
    """Shared between the harness and the workers' no-op task (fork-inherited).

    Every peer's no-op task calls `task_done()`: one lock and one add, the same
    for every peer, so it does not tilt the comparison. It is *our* counter; the
    harness still checks the peer's own store for the finished count.
    """

    count: Any  # multiprocessing.Value('q')
    last: Any  # multiprocessing.Value('d'): monotonic time of the latest completion
    all_done: multiprocessing.synchronize.Event
    target: int

    @classmethod
    def create(cls, ctx: Any, target: int) -> Progress:
        return cls(ctx.Value("q", 0), ctx.Value("d", 0.0), ctx.Event(), target)

    def task_done(self) -> None:
        with self.count.get_lock():
            self.count.value += 1
            self.last.value = time.monotonic()
            if self.count.value >= self.target:
                self.all_done.set()


@dataclasses.dataclass
class WorkerHooks:
    """What a worker process gets from the harness.

    `ready()` once connected and set up (nothing before it is timed);
    `wait_start()` blocks until the common start signal; `progress.task_done()`
    from the no-op task; `sample_fd` (latency only) is where the task writes
    the moment it started running.
    """

    ready: Callable[[], None]
    wait_start: Callable[[], None]
    progress: Progress
    sample_fd: int = -1

    def write_sample(self, n: int) -> None:
        """Called first thing in the latency task: when the task started running."""
        os.write(self.sample_fd, _SAMPLE.pack(n, time.monotonic()))


def read_sample(fd: int, expect: int, timeout: float = LATENCY_SAMPLE_TIMEOUT) -> float:
    """Wait for the latency task's write for sample `expect`; return its monotonic time."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"latency sample {expect}: the task did not run in {timeout} s")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        buf += os.read(fd, _SAMPLE.size - len(buf))
        if len(buf) < _SAMPLE.size:
            continue
        n, t = _SAMPLE.unpack(buf)
        buf = b""
        if n == expect:
            return t
        # a late duplicate of an older sample (should not happen): ignore it


class Peer(Protocol):
    """One peer adapter. Each method says in its docstring which peer API it uses."""

    name: str
    #: signal that makes the peer's worker stop gracefully (what its docs say to send)
    stop_signal: signal.Signals
    #: "drain": workers leave by themselves when the queue is empty (the peer has a
    #: burst/drain mode, and its exit includes writing the last completions);
    #: "counter": the peer has none, so the harness ends the run when the tasks'
    #: shared counter reaches N, then stops the workers with `stop_signal`.
    consume_end: str

    def versions(self) -> dict[str, str]: ...
    def settings(self, opts: Options) -> dict[str, Any]: ...
    def reset(self, opts: Options) -> None: ...
    def enqueue_one(self, opts: Options) -> Timed: ...
    def enqueue_bulk(self, opts: Options) -> Timed: ...
    def preload(self, opts: Options) -> None: ...
    def check_consume_options(self, opts: Options) -> None: ...
    def consume_worker(self, opts: Options, hooks: WorkerHooks) -> float: ...
    def count_finished(self, opts: Options) -> int: ...
    def latency_worker(self, opts: Options, hooks: WorkerHooks) -> float: ...
    def latency_producer(self, opts: Options, sample_fd: int) -> tuple[list[float], float]: ...


# --------------------------------------------------------------------------- workers

def _child(target: Callable[[Options, WorkerHooks], float], opts: Options, idx: int,
           ready_q: Any, start: Any, result_q: Any, progress: Progress,
           sample_fd: int) -> None:
    """Body of a forked worker: run the peer's worker, report (idx, end time, CPU).

    CPU is counted from the start signal, so connecting and setup are left out
    just as they are from the wall clock. The adapter returns its CPU reading
    at the start signal (it calls `wait_start()`); we read the end here.
    """
    hooks = WorkerHooks(ready=lambda: ready_q.put(idx), wait_start=start.wait,
                        progress=progress, sample_fd=sample_fd)
    try:
        cpu_at_start = target(opts, hooks)
        result_q.put(("ok", idx, time.monotonic(), time.process_time() - cpu_at_start))
    except BaseException as exc:  # report, so the parent does not wait for nothing
        result_q.put(("error", idx, time.monotonic(), repr(exc)))
        raise


@dataclasses.dataclass
class _Pool:
    procs: list[Any]
    ready_q: Any
    start: Any
    result_q: Any
    progress: Progress


def _spawn(ctx: Any, n: int, target: Callable[[Options, WorkerHooks], float],
           opts: Options, progress: Progress, sample_fd: int = -1) -> _Pool:
    ready_q, result_q, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    # daemon: should the harness itself fail, its workers go with it
    procs = [ctx.Process(target=_child, name=f"{opts.peer}-worker-{i}", daemon=True,
                         args=(target, opts, i, ready_q, start, result_q, progress, sample_fd))
             for i in range(n)]
    for p in procs:
        p.start()
    for _ in range(n):
        ready_q.get(timeout=READY_TIMEOUT)
    return _Pool(procs, ready_q, start, result_q, progress)


def _collect(pool: _Pool, want: int, until: float) -> list[tuple[Any, ...]]:
    """Results reported by workers until `want` arrived or the monotonic time `until`."""
    got: list[tuple[Any, ...]] = []
    while len(got) < want:
        remaining = until - time.monotonic()
        if remaining <= 0:
            break
        try:
            got.append(pool.result_q.get(timeout=remaining))
        except Exception:  # queue.Empty
            break
    for r in got:
        if r[0] == "error":
            raise RuntimeError(f"worker {r[1]} failed: {r[3]}")
    return got


def _stop(pool: _Pool, sig: signal.Signals,
          already: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Signal the workers still running, collect their reports, reap everything."""
    reported = {r[1] for r in already}
    pending = [p for i, p in enumerate(pool.procs) if i not in reported and p.is_alive()]
    for p in pending:
        os.kill(p.pid, sig)
    late = _collect(pool, len(pending), time.monotonic() + 30)
    for p in pool.procs:
        p.join(timeout=10)
        if p.is_alive():  # did not honour its graceful signal: end it, this run only
            p.kill()
            p.join()
    return already + late


def run_consume(peer: Peer, opts: Options) -> dict[str, Any]:
    """Preload N, start W workers on a common signal, time until all N are finished.

    Rate = finished / seconds, where `finished` is read from the peer's own
    store; `seconds` ends at the last worker's exit (drain peers: their exit
    follows the last completion write) or at the last task's completion
    (counter peers), or at --max-seconds, whichever is first. On the deadline
    the store is read at once (the count at the deadline), then the workers
    are stopped.
    """
    peer.check_consume_options(opts)
    peer.reset(opts)
    peer.preload(opts)
    ctx = mp.get_context("fork")
    progress = Progress.create(ctx, opts.items)
    pool = _spawn(ctx, opts.workers, peer.consume_worker, opts, progress)
    t0 = time.monotonic()
    pool.start.set()
    deadline = t0 + opts.max_seconds
    timed_out = False
    if peer.consume_end == "drain":
        results = _collect(pool, opts.workers, deadline)
        timed_out = len(results) < opts.workers
        seconds = (opts.max_seconds if timed_out else max(r[2] for r in results) - t0)
    else:
        timed_out = not progress.all_done.wait(timeout=opts.max_seconds)
        seconds = opts.max_seconds if timed_out else progress.last.value - t0
        results = []
    if timed_out:  # the store's count at the deadline, before the workers are stopped
        finished = peer.count_finished(opts)
        results = _stop(pool, peer.stop_signal, results)
    else:
        results = _stop(pool, peer.stop_signal, results)
        finished = peer.count_finished(opts)
    counted = progress.count.value
    return {
        "seconds": seconds,
        "rate": finished / seconds if seconds > 0 else None,
        "cpu_seconds": sum(r[3] for r in results if r[0] == "ok"),
        "finished": finished,
        "finished_counted": counted,
        "verified": (not timed_out and finished == counted == opts.items),
        "timed_out": timed_out,
        "workers": opts.workers,
        "batch": opts.batch,
    }


def run_latency(peer: Peer, opts: Options) -> dict[str, Any]:
    """One idle worker; S single enqueues, each timed to the moment the task starts.

    Between samples the producer sleeps 0.5-1.5 x --gap seconds (see
    `sample_gap`), so the worker is idle again (back in LISTEN, or back in its
    poll sleep) when the next job arrives.
    """
    peer.reset(opts)
    ctx = mp.get_context("fork")
    progress = Progress.create(ctx, opts.samples)
    r_fd, w_fd = os.pipe()
    pool = _spawn(ctx, 1, peer.latency_worker, opts, progress, sample_fd=w_fd)
    pool.start.set()
    time.sleep(0.5)  # let the worker reach its idle wait (LISTEN issued / first poll done)
    try:
        latencies, producer_cpu = peer.latency_producer(opts, r_fd)
    finally:
        results = _stop(pool, peer.stop_signal, [])
        os.close(r_fd)
        os.close(w_fd)
    kept = latencies[LATENCY_WARMUP:]
    ms = sorted(x * 1000 for x in kept)
    return {
        "items": opts.samples,
        "seconds": sum(latencies),
        "rate": None,
        "cpu_seconds": producer_cpu + sum(r[3] for r in results if r[0] == "ok"),
        "cpu_seconds_note": "producer during sampling + worker from start to stop "
                            "(includes its idle wake-ups)",
        "p50_ms": statistics.median(ms) if ms else None,
        "p95_ms": percentile(ms, 95),
        "max_ms": ms[-1] if ms else None,
        "samples_kept": len(ms),
        "gap_s": [opts.gap * 0.5, opts.gap * 1.5],
    }


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (no interpolation)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n*p/100)
    return sorted_values[int(rank) - 1]


def sample_gap(opts: Options, n: int) -> float:
    """Idle time after sample n: uniform in [0.5, 1.5] x --gap, seeded by n.

    Why not a fixed gap: a polling worker (huey) wakes on a fixed schedule
    after its last task, so a fixed gap would always land at the same phase of
    that schedule and report one arbitrary point of it; a spread gap samples
    the phases. The seed keeps runs of different peers on the same gaps.
    """
    return opts.gap * random.Random(n).uniform(0.5, 1.5)


def timed_latency_loop(opts: Options, sample_fd: int,
                       enqueue: Callable[[int], Any],
                       sleep: Callable[[float], Any] = time.sleep) -> tuple[list[float], float]:
    """Synchronous producer loop: t0, enqueue(n), wait for the task's timestamp."""
    latencies: list[float] = []
    c0 = time.process_time()
    for n in range(opts.samples):
        t0 = time.monotonic()
        enqueue(n)
        latencies.append(read_sample(sample_fd, n) - t0)
        sleep(sample_gap(opts, n))
    return latencies, time.process_time() - c0
