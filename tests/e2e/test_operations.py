"""Operations under `rpa serve`, as real processes on PostgreSQL: a leader frozen with
SIGSTOP, a leader behind a frozen network, and the database restarting under two
nodes. In each, a follower leads again within the stated bound (lease 10 s + one
election round: 15 s), the old leader records nothing after it wakes, no fire is
lost or doubled, and every item is done exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e import test_serve
from tests.e2e.conftest import Cli
from tests.e2e.test_serve import Cluster, contiguous, make_cluster, process_yaml
from tests.support.alert_sinks import WebhookSink
from tests.support.own_postgres import OwnPostgres
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]
BOUND = 15.0  # seconds from a leader's last renewal to a successor firing
pg_cluster = test_serve.pg_cluster  # two nodes' shared database, an interval of 2 s


def start_with(c: Cluster, name: str, **env: str) -> None:
    saved = c.env
    c.env = {**saved, **env}
    try:
        c.start(name)
    finally:
        c.env = saved


def fired_by(c: Cluster) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for row in c.rows("SELECT node, fired_at FROM schedule_fires ORDER BY fired_at"):
        out.setdefault(row[0], []).append(float(row[1]))
    return out


def finish(c: Cluster, names: list[str]) -> list[float]:
    """Stop the trigger, let the queue drain, stop the nodes; the fire times."""
    (c.root / "ticker.yaml").write_text(process_yaml("2s", triggers=False), encoding="utf-8")
    c.rpa("process", "register", "ticker.yaml")
    time.sleep(12)  # the leader's next sync (10 s) removes the job
    c.wait(lambda: set(c.statuses().values()) == {"done"}, "every item done")
    codes = [c.terminate(n) for n in names]
    assert codes == [0] * len(names), "\n".join(f"--- {n}\n{c.log(n)[-4000:]}" for n in names)
    fired = c.fires()
    times = [f.scheduled_at for f in fired]
    assert len(times) == len(set(times)), "a fire was doubled"
    assert contiguous(times, 2.0), f"a fire was lost: {times}"
    assert {f.status for f in fired} == {"fired"}
    completed = c.rows("SELECT item_id, count(*) FROM audit_events "
                       "WHERE action = 'item.completed' GROUP BY item_id")
    assert len(completed) == len(times) and {n for _, n in completed} == {1}
    return times


def test_a_frozen_leader_is_replaced_in_time_and_fires_nothing_when_it_wakes(
        pg_cluster: Cluster) -> None:
    c = pg_cluster
    c.start("a")
    c.wait(lambda: len(fired_by(c).get("a", [])) >= 2, "node a to lead and fire")
    c.start("b")
    c.wait(lambda: len(c.rows("SELECT id FROM workers WHERE stopped_at IS NULL")) == 2,
           "node b to register")
    last_a = max(fired_by(c)["a"])
    os.killpg(c.nodes["a"].pid, signal.SIGSTOP)  # the node and its browser
    stopped_at = time.time()
    c.wait(lambda: "b" in fired_by(c), "node b to take over", timeout=BOUND + 10)
    took_over = min(fired_by(c)["b"])
    assert took_over - max(last_a, stopped_at - 2.0) <= BOUND, took_over - stopped_at
    time.sleep(max(0.0, stopped_at + 25 - time.time()))
    os.killpg(c.nodes["a"].pid, signal.SIGCONT)
    woke_at = time.time()
    c.wait(lambda: '"event": "leader.lease_lost"' in c.log("a")
           or "scheduler.stepped_down" in c.log("a"), "node a to step down", 30)
    time.sleep(6)  # time for a stale job to try its luck
    assert all(t < stopped_at for t in fired_by(c)["a"]), "the old leader fired after waking"
    assert [t for t in fired_by(c)["b"] if t > woke_at], "node b leads on"
    finish(c, ["a", "b"])


def test_a_leader_behind_a_frozen_network_is_replaced_and_fenced(
        pg_cluster: Cluster, pg_database: str) -> None:
    c = pg_cluster
    url = sa.make_url(pg_database)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        start_with(c, "a", RPA_DATABASE_URL=through)
        c.wait(lambda: len(fired_by(c).get("a", [])) >= 2, "node a to lead and fire")
        c.start("b")
        c.wait(lambda: len(c.rows("SELECT id FROM workers WHERE stopped_at IS NULL")) == 2,
               "node b to register")
        proxy.freeze()  # a's sockets stay open; nothing reaches the server any more
        frozen_at = time.time()
        c.wait(lambda: "b" in fired_by(c), "node b to take over", timeout=BOUND + 10)
        assert min(fired_by(c)["b"]) - frozen_at <= BOUND
        time.sleep(max(0.0, frozen_at + 30 - time.time()))
        proxy.thaw()
        thawed_at = time.time()
        time.sleep(8)
        assert all(t < frozen_at + 1 for t in fired_by(c)["a"]), "a fired after the freeze"
        assert [t for t in fired_by(c)["b"] if t > thawed_at], "node b leads on"
        finish(c, ["a", "b"])


def test_a_database_restart_under_two_nodes_loses_nothing_and_alerts(
        tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with OwnPostgres(tmp_path / "pg") as pg, WebhookSink() as hook:
        from orchestrator.db import upgrade
        upgrade(pg.url)
        (tmp_path / "alerts.yaml").write_text(
            f"rules:\n  database_unreachable: {{after: 3s}}\n"
            f"webhooks:\n  - name: ops\n    url: {hook.url}\n    template: plain\n",
            encoding="utf-8")
        monkeypatch.setenv("RPA_ALERTS_FILE", str(tmp_path / "alerts.yaml"))
        c = make_cluster(tmp_path, pg.url, "2s", cli, monkeypatch)
        c.env["RPA_ALERTS_FILE"] = str(tmp_path / "alerts.yaml")
        c.engine.dispose()
        c.engine = sa.create_engine(pg.url, pool_pre_ping=True)  # the test's own reads
        try:
            c.start("a")
            c.start("b")
            c.wait(lambda: c.done("tick-") >= 4, "items flowing")
            pg.terminate_backends()  # every connection cut at once
            c.wait(lambda: c.done("tick-") >= 7, "work to go on after the cut", 60)
            pg.restart(down_for=12.0)  # a real outage, well over the alert's 3 s
            back_at = time.time()
            c.wait(lambda: any(b["rule"] == "database_unreachable" for b in hook.bodies),
                   "the outage alert", 30)
            c.wait(lambda: len([f for f in c.fires() if f.scheduled_at > back_at + 4]) >= 3,
                   "fires after the restart", 60)
            times = finish(c, ["a", "b"])
            assert times[0] < back_at - 10 < back_at + 6 < times[-1]
            outage = [b for b in hook.bodies if b["rule"] == "database_unreachable"]
            assert {b["details"]["node"] for b in outage} <= {"a", "b"}
            assert any("unreachable from" in b["title"] for b in outage)
        finally:
            c.close()
