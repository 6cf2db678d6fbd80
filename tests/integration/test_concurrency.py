"""Eight claimer processes against one queue, on SQLite and PostgreSQL.

Every item must be done exactly once, none lost, none held by two live leases,
and a claimer SIGKILLed in the middle of an item must lose nothing: its item
comes back when the lease expires and is done once by someone else.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from queues.schema import attempts_t
from queues.sql_store import SqlStore
from tests.conftest import items, make_spec

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 2000
CLAIMERS = 8


def _spawn(url: str, worker: str, log: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration._claimer", url, worker, str(log),
         str(TOTAL), *extra],
        cwd=ROOT, stdout=subprocess.PIPE if "--victim" in extra else subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_eight_claimers_do_every_item_once_even_when_one_is_killed(
    store: SqlStore, db_url: str, tmp_path: Path
) -> None:
    store.upsert_process(make_spec(), actor="user:test")
    store.enqueue("invoices", items(TOTAL), actor="user:test")

    victim = _spawn(db_url, "victim", tmp_path / "victim.log", "--victim")
    assert victim.stdout is not None
    line = victim.stdout.readline()
    assert line.startswith("claimed "), line
    stolen = int(line.split()[1])

    logs = [tmp_path / f"w{i}.log" for i in range(CLAIMERS - 1)]
    workers = [_spawn(db_url, f"w{i}", log) for i, log in enumerate(logs)]
    victim.send_signal(signal.SIGKILL)  # mid-item, lease held
    victim.wait(timeout=10)
    victim.stdout.close()
    for w in workers:
        assert w.wait(timeout=240) == 0

    done_ids = [int(x) for log in logs for x in log.read_text().split()]
    counts = collections.Counter(done_ids)
    assert len(counts) == TOTAL, "every item done"
    assert max(counts.values()) == 1, "no item done twice"
    assert stolen in counts, "the killed claimer's item came back and was done"

    with store.engine.connect() as conn:
        outcomes = collections.Counter(conn.execute(
            sa.select(attempts_t.c.outcome, sa.func.count()).group_by(attempts_t.c.outcome)
        ).all())
        stolen_history = conn.execute(
            sa.select(attempts_t.c.outcome).where(attempts_t.c.item_id == stolen)
            .order_by(attempts_t.c.id)).scalars().all()
    assert dict(outcomes) == {("done", TOTAL): 1, ("lost", 1): 1}
    assert stolen_history == ["lost", "done"]
    status = store.queue_status()[0]
    assert status.counts == {"done": TOTAL}
    assert store.verify_audit().ok
