"""Alerts from real `rpa serve` nodes on PostgreSQL: each rule's alert arrives exactly
once at a real webhook receiver, with two nodes watching the same conditions, after
the leader is killed, and after the service is restarted."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import truncate_all
from tests.e2e.conftest import Cli
from tests.e2e.test_serve import Cluster, make_cluster
from tests.support.alert_sinks import WebhookSink

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]

NOOP = textwrap.dedent("""\
    owner: Operations
    cost_centre: "1000"
    bot: noop
    manual_minutes_per_item: 1
    """)


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str, cli: Cli, hook: WebhookSink,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    truncate_all(pg_database)
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(f"rules:\n  node_stale: {{after: 15s}}\nwebhooks:\n"
                      f"  - name: ops\n    url: {hook.url}\n    template: plain\n",
                      encoding="utf-8")
    monkeypatch.setenv("RPA_ALERTS_FILE", str(alerts))
    c = make_cluster(tmp_path, pg_database, "2s", cli, monkeypatch)
    files = {
        "late.yaml": "name: late\nsla: 4s\n",  # paused below: its item cannot make it
        "doomed.yaml": "name: doomed\nretry: {max_attempts: 1}\n",
        "gappy.yaml": "name: gappy\ntriggers:\n  - interval: 3s\n    misfire_grace: 1s\n"
                      "    coalesce: false\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(NOOP + text, encoding="utf-8")
        c.rpa("process", "register", name)
    c.rpa("process", "pause", "late")
    (tmp_path / "late.jsonl").write_text(json.dumps({"reference": "slow-1"}) + "\n")
    (tmp_path / "doomed.jsonl").write_text(
        json.dumps({"reference": "doom-1", "fail": "application"}) + "\n")
    c.rpa("enqueue", "late", "--file", "late.jsonl")
    c.rpa("enqueue", "doomed", "--file", "doomed.jsonl")
    yield c
    c.close()


def received(hook: WebhookSink) -> Counter[tuple[str, str]]:
    return Counter((b["rule"], b["subject"]) for b in hook.bodies)


def rules(hook: WebhookSink) -> set[str]:
    return {rule for rule, _ in received(hook)}


def test_each_rule_alerts_once_across_two_nodes_a_killed_leader_and_a_restart(
        cluster: Cluster, hook: WebhookSink) -> None:
    c = cluster
    c.start("a")
    c.wait(lambda: c.rows("SELECT leader FROM workers WHERE node = 'a'") == [(True,)],
           "node a to lead", 60)
    c.start("b")
    c.wait(lambda: {"item_dead", "sla_at_risk", "sla_broken"} <= rules(hook),
           "the dead item and SLA alerts", 90)

    os.killpg(c.nodes["a"].pid, signal.SIGKILL)  # the leader dies: b takes over
    c.nodes["a"].wait(timeout=30)
    c.wait(lambda: {"node_stale", "schedule_missed"} <= rules(hook),
           "the stale node and missed fire alerts", 90)

    assert c.terminate("b") == 0  # a restart of the service
    c.start("c")
    c.wait(lambda: "scheduler.leading" in c.log("c"), "node c to lead", 60)
    time.sleep(15)  # several rounds of the new leader's routing and SLA checks
    assert c.terminate("c") == 0

    counts = received(hook)
    doubled = {key: n for key, n in counts.items() if n > 1}
    assert not doubled, f"alerts delivered more than once: {doubled}"
    by_rule = Counter(rule for rule, _ in counts)
    assert by_rule["item_dead"] == 1 and by_rule["sla_at_risk"] == 1
    assert by_rule["sla_broken"] == 1 and by_rule["node_stale"] == 1
    assert by_rule["schedule_missed"] >= 1
    stale = next(b for b in hook.bodies if b["rule"] == "node_stale")
    assert stale["details"]["node"] == "a"
    missed = next(b for b in hook.bodies if b["rule"] == "schedule_missed")
    assert missed["process"] == "gappy"
    recorded = c.rows("SELECT count(*) FROM schedule_fires WHERE status = 'missed'")[0][0]
    assert recorded >= 1
    events = c.rows("SELECT count(*) FROM audit_events WHERE action = 'schedule.missed'")[0][0]
    assert events == recorded  # every missed fire: a row and an audit event
