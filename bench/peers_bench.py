"""Our queue against the Python job queues a user would otherwise pick, in one run.

    .venv/bin/python bench/peers_bench.py                  # 3 rounds, 20,000 items
    .venv/bin/python bench/peers_bench.py --quick          # a smoke run, a few minutes
    .venv/bin/python bench/peers_bench.py --no-peers       # ours and raw SQL only
    .venv/bin/python bench/peers_bench.py --json results.json

Contenders, on the same machine, in one run, round by round:

- **ours**: the store as `rpa serve` runs it, with the trust issue's protections on
  (payloads and outputs sealed under a wrapped data key, the audit chain keyed;
  `--no-trust` turns them off): every item writes an attempt row and an audit
  event, and every enqueue an `items.enqueued` event;
- **raw**: a hand-written SQL queue on a table of its own, driven through the
  plain DBAPI (`bench/queue_bench.py`'s baseline): what the database allows;
- **peers** (bench-only, installed into `bench/peers/.venv-peers` by `bench/peers/venv.py`, so
  their dependencies never touch ours): PgQueuer 1.6.0 and procrastinate 3.10.0
  on PostgreSQL, huey 3.5.4 (`SqliteHuey`) on SQLite, each with its own
  recommended settings (see `bench/peers/README.md`), measured by
  `bench/peers/run_peer.py` in their venv.

Measures (no-op work, `--items` per run unless said otherwise):

| key | what |
| --- | --- |
| `pg_one_1w`, `pg_one_4w` | claim + complete one at a time, 1 and 4 worker processes |
| `pg_batch50_4w` | claim 50 + complete the 50 (ours: `complete_many`), 4 workers |
| `pg_bulk` | enqueue in calls of 1,000 items |
| `pg_enqueue_one` | enqueue one item per call (`--one-items`) |
| `pg_latency_p50` | an idle worker: enqueue to claim, p50 (ms, lower is better) |
| `sqlite_one_1w` | claim + complete one at a time, 1 worker |
| `sqlite_enqueue_one`, `sqlite_bulk` | as on PostgreSQL |

Each round runs every measure for every contender, the order of contenders
rotating from round to round, so that a machine that drifts (other tenants, the
kernel flushing) spreads its drift over all of them; the table shows medians.
"ours/best peer" is a rate ratio (above 1: ours is faster; for latency, the
peer's p50 over ours). `--profile` adds where ours spends each item: CPU
microseconds and statements sent per item, measured in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ledger_floor
import queue_bench as qb
from _bench_common import at_least, median, scratch_dir, scratch_postgres, seconds
from rich.console import Console
from rich.table import Table

from queues import NewItem

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True, highlight=False)
CHUNK = 1000
PEERS = {"postgres": ("pgqueuer", "procrastinate"), "sqlite": ("huey",)}


@dataclass(frozen=True)
class Measure:
    key: str
    engine: str
    label: str
    unit: str = "items/s"  # or "ms" (lower is better)


MEASURES = (
    Measure("pg_one_1w", "postgres", "PG claim+complete one at a time, 1 worker"),
    Measure("pg_one_4w", "postgres", "same, 4 workers"),
    Measure("pg_batch50_4w", "postgres", "PG batch 50, 4 workers"),
    Measure("pg_bulk", "postgres", "PG bulk enqueue, 1,000 per call"),
    Measure("pg_enqueue_one", "postgres", "PG enqueue, 1 item per call"),
    Measure("pg_latency_p50", "postgres", "PG idle enqueue->claim p50", "ms"),
    Measure("sqlite_one_1w", "sqlite", "SQLite one at a time, 1 worker"),
    Measure("sqlite_enqueue_one", "sqlite", "SQLite enqueue, 1 item per call"),
    Measure("sqlite_bulk", "sqlite", "SQLite bulk enqueue"),
)
SCENARIO = {"one_1w": qb.SCENARIOS[0], "one_4w": qb.SCENARIOS[1],
            "batch50_4w": qb.SCENARIOS[5]}
# the peers' side of each measure: (run_peer.py --measure, --workers, --batch)
# the floor's side of a measure: our statements and rows without our Python (`ledger_floor`)
FLOOR: dict[str, Callable[[qb.Bench, int], float]] = {
    "pg_one_1w": lambda bench, _: ledger_floor.pg_one_at_a_time(bench),
    "pg_bulk": lambda bench, _: ledger_floor.pg_bulk(bench),
    "pg_enqueue_one": ledger_floor.pg_enqueue_one,
    "sqlite_one_1w": lambda bench, _: ledger_floor.sqlite_one_at_a_time(bench),
}
PEER_RUN = {"one_1w": ("consume", 1, 1), "one_4w": ("consume", 4, 1),
            "batch50_4w": ("consume", 4, 50), "bulk": ("enqueue_bulk", 1, 1),
            "enqueue_one": ("enqueue_one", 1, 1), "latency_p50": ("latency", 1, 1)}


@dataclass
class Figures:
    """Every run's figure of every (measure, contender)."""

    runs: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, key: str, who: str, value: float | None, note: str = "") -> None:
        if value is not None:
            self.runs.setdefault((key, who), []).append(value)
        if note:
            self.notes[(key, who)] = note

    def median(self, key: str, who: str) -> float | None:
        found = self.runs.get((key, who))
        return median(found) if found else None


# -- ours and raw (through queue_bench's machinery) ------------------------------------------
def bulk_in_calls(bench: qb.Bench, impl: str) -> float:
    """Items per second of N items enqueued in calls of 1,000."""
    items = qb.new_items(bench.config.items)
    chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
    if impl == "store":
        qb.reset_store(bench)
        store = qb.open_bench_store(bench, "bench-producer")
        try:
            store.get_process(qb.PROCESS)
            began = time.perf_counter()
            for chunk in chunks:
                store.enqueue(qb.PROCESS, chunk, actor="user:bench")
            took = time.perf_counter() - began
        finally:
            store.close()
    else:
        qb.reset_raw(bench)
        raw = qb.open_raw(bench)
        try:
            raw.ping()
            began = time.perf_counter()
            for chunk in chunks:
                raw.insert(chunk)
            took = time.perf_counter() - began
        finally:
            raw.close()
    return len(items) / took


def one_by_one(bench: qb.Bench, impl: str, count: int) -> tuple[float, float]:
    """(items/s, CPU µs per item) of `count` enqueues of one item each."""
    if impl == "store":
        qb.reset_store(bench)
        store = qb.open_bench_store(bench, "bench-producer")
        store.get_process(qb.PROCESS)
        store.enqueue(qb.PROCESS, [NewItem("warm", {"n": 0})], actor="user:bench")

        def add(n: int) -> None:
            store.enqueue(qb.PROCESS, [NewItem(f"r{n}", {"n": n, "invoice": f"INV-{n:08d}"})],
                          actor="user:bench")
        close: Callable[[], None] = store.close
    else:
        qb.reset_raw(bench)
        raw = qb.open_raw(bench)
        raw.ping()

        def add(n: int) -> None:
            raw.enqueue_one(f"r{n}")
        close = raw.close
    try:
        began, cpu = time.perf_counter(), time.process_time()
        for n in range(count):
            add(n)
        took, spent = time.perf_counter() - began, time.process_time() - cpu
    finally:
        close()
    return count / took, spent * 1e6 / count


def ours_and_raw(bench: qb.Bench, key: str, impl: str, one_items: int
                 ) -> tuple[float, str]:
    """One run of a measure by ours ("store") or raw ("baseline"): (figure, note)."""
    kind = key.split("_", 1)[1]
    if kind in SCENARIO:
        run = qb.consume_once(bench, impl, SCENARIO[kind])
        return run.value, f"{run.cpu_ms * 1000:.0f} µs CPU/item" if run.cpu_ms else ""
    if kind == "bulk":
        return bulk_in_calls(bench, impl), ""
    if kind == "enqueue_one":
        rate, cpu_us = one_by_one(bench, impl, one_items)
        return rate, f"{cpu_us:.0f} µs CPU/item"
    if kind == "latency_p50":
        samples = qb.latency_run(bench, impl)
        return qb.percentile(samples.from_call, 50), ""
    raise ValueError(key)


# -- peers (their own venv, a subprocess each run) -------------------------------------------
def peers_python(enabled: bool) -> Path | None:
    """The peers' venv's python, made on first use; None when off or not possible."""
    if not enabled:
        return None
    import importlib.util  # by path: bench/peers/venv.py would shadow the stdlib's venv
    spec = importlib.util.spec_from_file_location("peers_venv",
                                                  ROOT / "bench" / "peers" / "venv.py")
    try:
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return Path(module.ensure_peers_venv(ROOT / "bench" / "peers" / ".venv-peers"))
    except Exception as err:  # no network, say: the run goes on without the peers
        console.print(f"[yellow]peers skipped: {err}[/]")
        return None


def peer_run(python: Path, peer: str, key: str, items: int, one_items: int, samples: int,
             max_seconds: float, where: dict[str, str]) -> tuple[float | None, str]:
    kind = key.split("_", 1)[1]
    measure, workers, batch = PEER_RUN[kind]
    count = one_items if kind == "enqueue_one" else items
    args = [str(python), str(ROOT / "bench" / "peers" / "run_peer.py"), "--peer", peer,
            "--measure", measure, "--items", str(count), "--workers", str(workers),
            "--batch", str(batch), "--samples", str(samples),
            "--max-seconds", str(max_seconds)]
    args += ["--sqlite", where["sqlite"]] if peer == "huey" else ["--dsn", where["dsn"]]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": ""})
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"failed: {tail[0][:120]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("unsupported"):
        return None, f"unsupported: {result.get('reason', '')}"[:120]
    if kind == "latency_p50":
        return float(result["p50_ms"]), ""
    cpu = result.get("cpu_seconds")
    note = f"{cpu * 1e6 / result['items']:.0f} µs CPU/item" if cpu and result.get("items") \
        else ""
    return float(result["rate"]), note


# -- where ours spends an item (--profile) ----------------------------------------------------
@dataclass
class Cost:
    """Per item: CPU and wall microseconds in this process, statements sent, commits."""

    op: str
    cpu_us: float
    wall_us: float
    statements: float
    commits: float


class StatementCounter:
    """Counts what reaches the database: psycopg's executes and commits (every one a
    round trip), and SQLite's statements through its trace callback."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    @contextmanager
    def watching(self, store: Any) -> Iterator[None]:
        import psycopg
        import sqlalchemy as sa
        counter = self
        execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

        def counted_execute(cur: Any, query: Any, *args: Any, **kw: Any) -> Any:
            counter.statements += 1
            text = str(query).strip().upper()
            idle = cur.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if text == "COMMIT" or (cur.connection.autocommit and idle and text != "BEGIN"):
                counter.commits += 1  # an explicit COMMIT, or a statement in autocommit
            return execute(cur, query, *args, **kw)

        def counted_commit(conn: Any) -> Any:
            counter.statements += 1
            counter.commits += 1
            return commit(conn)

        def trace(statement: str) -> None:
            counter.statements += 1
            if statement.strip().upper() == "COMMIT":
                counter.commits += 1

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            if hasattr(dbapi_conn, "set_trace_callback"):
                dbapi_conn.set_trace_callback(trace)

        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
        psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
        store.engine.dispose()  # new connections: the trace callback is set on each
        store.hot_conns.reset()
        sa.event.listen(store.engine, "connect", on_connect)
        try:
            yield
        finally:
            psycopg.Cursor.execute = execute  # type: ignore[method-assign]
            psycopg.Connection.commit = commit  # type: ignore[method-assign]
            sa.event.remove(store.engine, "connect", on_connect)


def profile_engine(engine: str, count: int) -> list[Cost]:
    """Ours, in this process: one item per enqueue, bulk in 1,000s, claim+complete one at
    a time, claim 50 + complete_many; after a warm-up, so statements are prepared."""
    config = qb.Config(items=count, status_items=0, latency_samples=0, repeat=1,
                       max_seconds=60, engines=(engine,))
    costs = []
    with qb.scratch_bench(engine, config) as bench:
        store = qb.open_bench_store(bench, "bench-profile")
        counter = StatementCounter()
        ops: list[tuple[str, Callable[[int], int]]] = []

        def one(n: int) -> int:
            store.enqueue(qb.PROCESS, [NewItem(f"one-{n}", {"n": n})], actor="user:bench")
            return 1

        def bulk(n: int) -> int:
            store.enqueue(qb.PROCESS, [NewItem(f"bulk-{n}-{i}", {"n": i}) for i in range(CHUNK)],
                          actor="user:bench")
            return CHUNK

        def claim_complete(n: int) -> int:
            (item,) = store.claim(qb.PROCESS, "w")
            store.complete(item.id, "w", qb.OUTPUT)
            return 1

        def batch(n: int) -> int:
            claimed = store.claim(qb.PROCESS, "w", limit=50)
            store.complete_many([(c.id, qb.OUTPUT) for c in claimed], "w")
            return len(claimed)
        ops = [("enqueue, 1 item per call", one), ("enqueue, 1,000 per call", bulk),
               ("claim + complete, one at a time", claim_complete),
               ("claim 50 + complete_many", batch)]
        calls = {"enqueue, 1 item per call": count, "enqueue, 1,000 per call": count // CHUNK,
                 "claim + complete, one at a time": count, "claim 50 + complete_many":
                 count // 50}
        try:
            with counter.watching(store):
                for name, op in ops:
                    for n in range(5):
                        op(-n - 1)  # warm: statements prepared, chain head cached
                    counter.statements = counter.commits = 0
                    began, cpu, items = time.perf_counter(), time.process_time(), 0
                    for n in range(calls[name]):
                        items += op(n)
                    wall, spent = time.perf_counter() - began, time.process_time() - cpu
                    costs.append(Cost(f"{engine}: {name}", spent * 1e6 / items,
                                      wall * 1e6 / items, counter.statements / items,
                                      counter.commits / items))
        finally:
            store.close()
    return costs


def profile_table(costs: Sequence[Cost]) -> Table:
    out = Table(title="Where ours spends an item (this process; statements = round trips "
                "on PostgreSQL)", title_justify="left")
    for name in ("operation", "CPU µs/item", "wall µs/item", "statements/item",
                 "commits/item"):
        out.add_column(name, justify="left" if name == "operation" else "right")
    for c in costs:
        out.add_row(c.op, f"{c.cpu_us:,.0f}", f"{c.wall_us:,.0f}", f"{c.statements:.3f}",
                    f"{c.commits:.3f}")
    return out


# -- the run ------------------------------------------------------------------------------
@contextmanager
def peer_places(engine: str) -> Iterator[dict[str, str]]:
    """A scratch database (PostgreSQL) or folder (SQLite) for the peers, removed after."""
    if engine == "postgres":
        with scratch_postgres("peers") as dsn:
            yield {"dsn": dsn}
    else:
        with scratch_dir("peers-") as tmp:
            yield {"sqlite": str(tmp / "huey.db")}


@contextmanager
def worktree(revision: str | None) -> Iterator[Path | None]:
    """The code of `revision` in a temporary git worktree (None: no "before" column)."""
    if revision is None:
        yield None
        return
    with scratch_dir("peers-before-") as tmp:
        tree = tmp / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           capture_output=True)


def before_run(tree: Path, key: str, args: argparse.Namespace) -> tuple[float | None, str]:
    """One measure of ours as `tree`'s code does it: this bench, that revision's packages."""
    command = [sys.executable, str(Path(__file__)), "--single", key, "--items",
               str(args.items), "--one-items", str(args.one_items), "--latency-samples",
               str(args.latency_samples), "--max-seconds", str(args.max_seconds)]
    if args.no_trust:
        command.append("--no-trust")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"failed: {tail[0][:120]}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["value"], found["note"]


def single(key: str, args: argparse.Namespace) -> int:
    """`--single KEY`: ours for one measure on a scratch database; one JSON line."""
    m = next(m for m in MEASURES if m.key == key)
    config = qb.Config(items=args.items, status_items=0, latency_samples=args.latency_samples,
                       repeat=1, max_seconds=args.max_seconds, engines=(m.engine,))
    with qb.scratch_bench(m.engine, config) as bench:
        value, note = ours_and_raw(bench, key, "store", args.one_items)
    print(json.dumps({"value": value, "note": note}))
    return 0


def run_engine(engine: str, config: qb.Config, args: argparse.Namespace,
               python: Path | None, figures: Figures, before: Path | None) -> None:
    measures = [m for m in MEASURES if m.engine == engine]
    peers = PEERS[engine] if python is not None else ()
    os.sync()
    with qb.scratch_bench(engine, config) as bench, peer_places(engine) as where:
        contenders = ["ours", "raw", "floor", *peers,
                      *(["before"] if before is not None else [])]
        for round_no in range(args.rounds):
            turn = round_no % len(contenders)
            order = contenders[turn:] + contenders[:turn]
            for m in measures:
                for who in order:
                    if who == "floor" and m.key not in FLOOR:
                        continue
                    console.print(f"[dim]{engine} round {round_no + 1}/{args.rounds}: "
                                  f"{m.label} — {who}[/]")
                    try:
                        if who == "before":
                            assert before is not None
                            value, note = before_run(before, m.key, args)
                        elif who == "floor":
                            value, note = FLOOR[m.key](bench, args.one_items), ""
                        elif who in ("ours", "raw"):
                            value, note = ours_and_raw(bench, m.key, "store" if who == "ours"
                                                       else "baseline", args.one_items)
                        else:
                            assert python is not None
                            value, note = peer_run(python, who, m.key, args.items,
                                                   args.one_items, args.latency_samples,
                                                   args.max_seconds, where)
                    except Exception as err:  # one contender failing must not end the run
                        value, note = None, f"failed: {type(err).__name__}: {err}"[:160]
                    figures.add(m.key, who, value, note)


def ratio(figures: Figures, m: Measure, peers: Sequence[str]) -> tuple[float | None, str]:
    ours = figures.median(m.key, "ours")
    found = [(figures.median(m.key, p), p) for p in peers]
    known = [(v, p) for v, p in found if v is not None]
    if ours is None or not known:
        return None, ""
    if m.unit == "ms":  # lower is better: the best peer is the fastest to claim
        best, who = min(known)
        return best / ours, who
    best, who = max(known)
    return ours / best, who


def table(figures: Figures, before: str | None) -> Table:
    out = Table(title="Ours against raw SQL and the peers (medians; ours/best peer > 1: ours "
                "is faster)", title_justify="left")
    out.add_column("measurement", overflow="fold")
    who_all = ("ours", "raw", "floor", "pgqueuer", "procrastinate", "huey",
               *(("before",) if before else ()))
    for name in ("ours", "raw SQL", "our SQL", "PgQueuer", "procrastinate", "huey",
                 *((f"ours at {before}",) if before else ()), "ours/best peer"):
        out.add_column(name, justify="right")
    for m in MEASURES:
        if not any(figures.median(m.key, who) is not None for who in who_all):
            continue
        cells = []
        for who in who_all:
            value = figures.median(m.key, who)
            cells.append("" if value is None else
                         f"{value:,.1f} ms" if m.unit == "ms" else f"{value:,.0f}/s")
        r, best = ratio(figures, m, PEERS[m.engine])
        if r is None and m.key.endswith("bulk") and m.engine == "sqlite":
            raw = figures.median(m.key, "raw")
            ours = figures.median(m.key, "ours")
            cells.append(f"{ours / raw:.2f}x of raw" if ours and raw else "")
        else:
            cells.append("" if r is None else f"{r:.2f}x ({best})")
        out.add_row(m.label, *cells)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=at_least(qb.BULK_CHUNK), default=20_000)
    parser.add_argument("--one-items", type=at_least(1), default=5_000,
                        help="items of the one-per-call enqueue runs")
    parser.add_argument("--rounds", type=at_least(1), default=3)
    parser.add_argument("--latency-samples", type=at_least(1), default=50)
    parser.add_argument("--max-seconds", type=seconds, default=8.0)
    parser.add_argument("--only", choices=("postgres", "sqlite"))
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-trust", action="store_true",
                        help="ours without sealing and the keyed audit chain")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and 1 round")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--profile", action="store_true",
                        help="also show ours' CPU and statements per item, per operation")
    parser.add_argument("--profile-only", action="store_true", help="only that")
    parser.add_argument("--before", metavar="REV", help="add ours as git revision REV "
                        "measures it (a worktree), round by round with the rest")
    parser.add_argument("--single", help=argparse.SUPPRESS)  # one measure, for --before
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.one_items, args.rounds, args.latency_samples = 2000, 500, 1, 10
    if args.before is not None and subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{args.before}^{{commit}}"],
            cwd=ROOT, capture_output=True).returncode != 0:
        parser.error(f"--before: {args.before!r} is not a commit of this repository")
    qb.use_trust(not args.no_trust)
    if args.single:
        return single(args.single, args)
    engines = (args.only,) if args.only else ("postgres", "sqlite")
    config = qb.Config(items=args.items, status_items=0, latency_samples=args.latency_samples,
                       repeat=1, max_seconds=args.max_seconds, engines=engines)
    if args.profile or args.profile_only:
        costs = [c for e in engines for c in profile_engine(e, 2000 if args.quick else 5000)]
        Console(width=140).print(profile_table(costs))
        if args.profile_only:
            return 0
    python = peers_python(not args.no_peers)
    figures = Figures()
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    with worktree(args.before) as before:
        for engine in engines:
            run_engine(engine, config, args, python, figures, before)
    out = Console(width=160)
    out.print(table(figures, args.before))
    out.print(f"{started}, {platform.node()}, {os.cpu_count()} CPUs, load {load:.1f} -> "
              f"{os.getloadavg()[0]:.1f}; {args.rounds} rounds, {args.items:,} items "
              f"({args.one_items:,} one per call); trust "
              f"{'off' if args.no_trust else 'on (sealed, keyed audit)'}")
    for (key, who), note in sorted(figures.notes.items()):
        out.print(f"  {key} {who}: {note}")
    if args.json:
        args.json.write_text(json.dumps({
            "started": started, "rounds": args.rounds, "items": args.items,
            "trust": not args.no_trust,
            "runs": {f"{k}:{w}": v for (k, w), v in figures.runs.items()},
            "notes": {f"{k}:{w}": n for (k, w), n in figures.notes.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
