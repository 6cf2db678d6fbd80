"""`rpa serve` as real processes: a trigger every second or two feeds a noop process,
items get done, SIGTERM stops a node cleanly, a killed leader is replaced, and no fire
is lost or doubled.

Each node launches its own headless Chromium (the noop bot opens a blank page), so
these tests take tens of seconds; their waits are generous because a loaded CI
machine starts three browsers slowly.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import truncate_all
from tests.e2e.conftest import Cli, Result, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RPA = Path(sys.executable).with_name("rpa")
FEEDER = textwrap.dedent("""\
    def tick(ctx):
        stamp = int(ctx.scheduled_at.timestamp())
        return [{"reference": f"tick-{stamp}", "payload": {"at": ctx.scheduled_at.isoformat()}}]
    """)


def process_yaml(every: str, *, triggers: bool = True) -> str:
    text = textwrap.dedent("""\
        name: ticker
        owner: Operations
        cost_centre: "1000"
        bot: noop
        manual_minutes_per_item: 1
        lease: 6s
        concurrency: 2
        retry: {max_attempts: 5, backoff: 0s}
        """)
    if triggers:
        text += textwrap.dedent(f"""\
            triggers:
              - interval: {every}
                coalesce: false
                misfire_grace: 2m
            feeder: serve_feeders:tick
            """)
    return text


class Cluster:
    """`rpa serve` nodes as subprocesses sharing one database (their logs go to files,
    not pipes); other `rpa` commands run in-process against the same database."""

    def __init__(self, root: Path, env: dict[str, str], url: str, cli: Cli):
        self.root, self.env, self.url, self.cli = root, env, url, cli
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.engine = sa.create_engine(url)

    def rpa(self, *args: str) -> Result:
        return self.cli.ok(*args)

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(RPA), "serve", "--node", name, "--slots", "2", "--grace", "20", *extra],
                env=self.env, cwd=self.root, stdout=log, stderr=log, start_new_session=True)
        self.nodes[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def rows(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql)).all())

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [n for n, p in self.nodes.items() if p.poll() is not None
                    and p.returncode not in (0, -signal.SIGKILL)]
            assert not dead, f"node(s) {dead} failed:\n" + "\n".join(self.log(n) for n in dead)
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.log(n)[-3000:]}" for n in self.nodes)
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{logs}")
            time.sleep(0.25)

    def terminate(self, name: str) -> int:
        proc = self.nodes[name]
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=90)

    def close(self) -> None:
        for proc in self.nodes.values():  # whatever a failed test left: node and browser
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        self.engine.dispose()

    # -- what the database says ---------------------------------------------------------
    def fires(self) -> list[Any]:
        return self.rows("SELECT scheduled_at, node, status, items_added FROM schedule_fires "
                         "ORDER BY scheduled_at")

    def statuses(self) -> dict[str, str]:
        return dict(self.rows("SELECT reference, status FROM work_items"))

    def done(self, prefix: str = "") -> int:
        return sum(1 for ref, status in self.statuses().items()
                   if status == "done" and ref.startswith(prefix))


def make_cluster(tmp_path: Path, url: str, every: str, cli: Cli,
                 monkeypatch: pytest.MonkeyPatch) -> Cluster:
    (tmp_path / "serve_feeders.py").write_text(FEEDER, encoding="utf-8")
    (tmp_path / "ticker.yaml").write_text(process_yaml(every), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # register loads the feeder, as serve will
    if not url.startswith("sqlite"):
        monkeypatch.setenv("RPA_DATABASE_URL", url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"PYTHONPATH": str(tmp_path), "RPA_LOG_FORMAT": "json"}
    cluster = Cluster(tmp_path, env, url, cli)
    cluster.rpa("init")
    cluster.rpa("process", "register", "ticker.yaml")
    return cluster


def contiguous(times: list[float], step: float) -> bool:
    return times == [times[0] + i * step for i in range(len(times))]


@pytest.fixture
def lite_cluster(tmp_path: Path, data_dir: Path, cli: Cli,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    cluster = make_cluster(tmp_path, f"sqlite:///{data_dir / 'rpa.db'}", "1s", cli, monkeypatch)
    yield cluster
    cluster.close()


@pytest.fixture
def pg_cluster(tmp_path: Path, pg_database: str, cli: Cli,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    truncate_all(pg_database)
    cluster = make_cluster(tmp_path, pg_database, "2s", cli, monkeypatch)
    yield cluster
    cluster.close()


# ------------------------------------------------------------------------------ one node
def test_serve_fires_works_and_stops_cleanly_and_its_schedule_survives_a_restart(
        lite_cluster: Cluster) -> None:
    c = lite_cluster
    (c.root / "manual.jsonl").write_text(
        "".join(json.dumps({"reference": f"manual-{i}", "n": i}) + "\n" for i in range(6)),
        encoding="utf-8")
    c.rpa("enqueue", "ticker", "--file", "manual.jsonl")
    port = free_port()
    c.start("solo", "--metrics-port", str(port))

    c.wait(lambda: c.done("manual-") == 6 and c.done("tick-") >= 3, "items done")
    # the worker registers once its browser is up; the leader marks its row within a beat
    c.wait(lambda: c.rows("SELECT leader FROM workers") == [(True,)], "the leader mark", 30)
    workers = c.rpa("workers", "--json").json()
    assert [(w["node"], w["role"], w["leader"], len(w["slots"])) for w in workers] == [
        ("solo", "serve", True, 2)]
    schedule = c.rpa("schedule", "list", "--json").json()
    assert schedule["leader"] == "solo"
    (row,) = schedule["triggers"]
    assert row["trigger"] == "every 1s" and row["scheduled"] and row["next_fire"] > time.time() - 2
    listing = c.rpa("schedule", "list").out
    assert "every 1s" in listing and "scheduler leader: solo" in listing
    assert "★ leader" in c.rpa("workers").out
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'rpa_attempts_total{outcome="done",process="ticker"}' in metrics
    assert "rpa_scheduler_leader 1.0" in metrics

    assert c.terminate("solo") == 0
    stopped = (c.root / "solo.log").read_text(encoding="utf-8")
    assert "serve stopped:" in stopped and '"event": "service.stopped"' in stopped
    statuses = c.statuses()
    assert "in_progress" not in statuses.values()  # finished in the grace period or given back
    fired = c.fires()
    assert all(f.status == "fired" and f.items_added == 1 for f in fired)
    assert contiguous([f.scheduled_at for f in fired], 1.0)
    assert {f"tick-{int(f.scheduled_at)}" for f in fired} == {
        r for r in statuses if r.startswith("tick-")}
    gone = c.rpa("workers", "--all", "--json").json()
    assert [w["state"] for w in gone] == ["stopped"]

    # a restart keeps the schedule: the jobs are rebuilt from the process, and the times
    # missed while no node ran (within the 2 min grace) fire from the fires table
    before = len(fired)
    c.start("again")
    c.wait(lambda: len(c.fires()) >= before + 3 and set(c.statuses().values()) == {"done"}
           and c.done() >= before + 3 + 6, "the restarted node to carry on")
    assert c.terminate("again") == 0
    times = [f.scheduled_at for f in c.fires()]
    assert len(times) == len(set(times))
    assert contiguous(times, 1.0), f"a fire was lost across the restart: {times}"
    assert set(c.statuses().values()) <= {"done", "new"}  # nothing lost, nothing stuck
    c.rpa("audit", "verify")


# ------------------------------------------------------------------------------ three nodes
@pytest.mark.postgres
def test_three_nodes_fire_each_time_once_and_survive_the_leader_being_killed(
        pg_cluster: Cluster) -> None:
    c = pg_cluster
    for name in ("n1", "n2", "n3"):
        c.start(name)

    def leader() -> str | None:
        rows = c.rows("SELECT node FROM workers WHERE leader AND stopped_at IS NULL")
        return rows[0][0] if rows else None

    c.wait(lambda: len(c.rows("SELECT id FROM workers")) == 3 and leader() is not None
           and len(c.fires()) >= 3, "three nodes, a leader and three fires")
    first = leader()
    assert first is not None
    killed_at = time.time()
    os.killpg(c.nodes[first].pid, signal.SIGKILL)  # the node and its browser, mid-flight
    c.nodes[first].wait(timeout=30)

    c.wait(lambda: leader() not in (None, first), "a new leader")
    second = leader()
    c.wait(lambda: sum(1 for f in c.fires() if f.scheduled_at > killed_at + 4) >= 4,
           "fires under the new leader")

    # stop the trigger (the leader's next sync removes the job), then let the queue drain
    (c.root / "ticker.yaml").write_text(process_yaml("2s", triggers=False), encoding="utf-8")
    c.rpa("process", "register", "ticker.yaml")
    c.wait(lambda: "scheduler.job_removed" in c.log(second), "the job to be removed", 60)
    c.wait(lambda: set(c.statuses().values()) == {"done"}, "every item done")
    survivors = [n for n in c.nodes if n != first]
    assert [c.terminate(n) for n in survivors] == [0, 0]

    fired = c.fires()
    times = [f.scheduled_at for f in fired]
    assert contiguous(times, 2.0), f"a fire was lost: {times}"  # also across the fail-over
    assert times[0] < killed_at < times[-1] - 8
    assert [(f.status, f.items_added) for f in fired] == [("fired", 1)] * len(fired), fired
    assert {f.node for f in fired} >= {first, second}
    # every fire's item exists once and was completed exactly once
    statuses = c.statuses()
    assert sorted(statuses) == sorted(f"tick-{int(t)}" for t in times)
    completed = c.rows("SELECT item_id, count(*) FROM audit_events "
                       "WHERE action = 'item.completed' GROUP BY item_id")
    assert len(completed) == len(times) and {n for _, n in completed} == {1}
    # the killed node went stale; the survivors stopped cleanly
    def states() -> dict[str, str]:
        return {w["node"]: w["state"] for w in c.rpa("workers", "--all", "--json").json()}

    c.wait(lambda: states()[first] == "stale", "the killed node to go stale", 30)
    assert all(states()[n] == "stopped" for n in survivors)
