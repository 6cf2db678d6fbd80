"""What sealing payloads and outputs costs the hot path: claim+complete, sealed and clear.

The same store, the same database, rounds alternating between a store with the
envelope sealer (payload opened at claim, output sealed at complete) and one
without, so the ratio compares like with like in one run. One worker claims and
completes one item at a time, the hot path's slowest shape per item; enqueue
of the same items (sealed: each payload encrypted) is timed too.

    python bench/sealing_bench.py [--items 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    postgres_version,
    scratch_dir,
    scratch_postgres,
    sqlalchemy_url,
)
from cryptography.fernet import Fernet

from orchestrator.db import upgrade
from orchestrator.encryption import EnvelopeSealer, MasterKey
from queues import NewItem, ProcessSpec, RetryPolicy, open_store
from queues.sql_store import SqlStore

PAYLOAD = {"nin": "01017012345", "name": "Kari Nordmann", "email": "kari@example.no",
           "invoice": "INV-2026-10001", "amount": 1234.5, "lines": [1, 2, 3]}
OUTPUT = {"approved_by": "robot", "case": "2026/4711"}


def one_round(url: str, sealed: bool, n: int, tag: str) -> tuple[float, float]:
    """(items/s enqueued, items/s claimed and completed)."""
    store = open_store(url, writer=f"bench-{tag}")
    assert isinstance(store, SqlStore)
    if sealed:
        store.use_sealer(EnvelopeSealer(store.keys, MasterKey(Fernet.generate_key())))
    process = f"p-{tag}"
    store.upsert_process(ProcessSpec(name=process, owner="o", cost_centre="1", bot="noop",
                                     manual_minutes_per_item=1, lease_seconds=60,
                                     retry=RetryPolicy(3, 0, 0)), actor="bench")
    items = [NewItem(f"r{i}", dict(PAYLOAD, seq=i)) for i in range(n)]
    start = time.perf_counter()
    store.enqueue(process, items, actor="bench")
    enqueued = n / (time.perf_counter() - start)
    store.claim(process, "w")  # warm: the snapshot cached, the statement compiled
    start, done = time.perf_counter(), 1
    while claimed := store.claim(process, "w"):
        store.complete(claimed[0].id, "w", OUTPUT)
        done += 1
    rate = done / (time.perf_counter() - start)
    store.close()
    return enqueued, rate


def bench(label: str, url: str, items: int, rounds: int) -> None:
    figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for r in range(rounds):
        for sealed in (False, True) if r % 2 == 0 else (True, False):
            figures[sealed].append(one_round(url, sealed, items, f"{r}-{int(sealed)}"))
    for what, index in (("enqueue", 0), ("claim+complete one at a time", 1)):
        clear = statistics.median(f[index] for f in figures[False])
        sealed = statistics.median(f[index] for f in figures[True])
        print(f"{label:<10} {what:<30} clear {clear:9,.0f}/s  sealed {sealed:9,.0f}/s  "
              f"sealed/clear {sealed / clear:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    print(f"{opts.items} items a round, median of {opts.rounds} rounds each way, alternating")
    with scratch_dir() as tmp:
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        bench("SQLite", url, opts.items, opts.rounds)
    if postgres_version() is None:
        print("PostgreSQL does not answer: skipped")
        return
    with scratch_postgres("rpa_sealing_bench") as libpq:
        url = sqlalchemy_url(libpq)
        upgrade(url)
        bench("PostgreSQL", url, opts.items, opts.rounds)


if __name__ == "__main__":
    main()
