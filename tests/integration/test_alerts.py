"""Alerts end to end below the service: raised once per rule and subject (across
stores, as across nodes), routed by rules, silences and process settings, and
delivered once to a real SMTP server and a real webhook receiver, with retries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.alerts.config import AlertsConfig
from orchestrator.alerts.router import AlertRouter
from orchestrator.process_config import ProcessConfig
from queues import NewItem, open_store
from queues.alert_store import NewAlert
from queues.sql_store import SqlStore
from tests.support.alert_sinks import SmtpSink, WebhookSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def config(smtp: SmtpSink, hook: WebhookSink, **extra: Any) -> AlertsConfig:
    return AlertsConfig.model_validate({
        "email": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                  "from": "robots@kommune.example", "to": ["drift@kommune.example"],
                  "timeout": "5s"},
        "webhooks": [{"name": "teams", "url": hook.url, "template": "plain", "timeout": "3s"}],
        "delivery": {"attempts": 3, "backoff": "10s"}, **extra})


def register(store: SqlStore, **fields: Any) -> None:
    spec = ProcessConfig.model_validate({
        "name": "erp", "owner": "Finance", "cost_centre": "1200", "bot": "noop",
        "manual_minutes_per_item": 3, "retry": {"max_attempts": 1, "backoff": 0},
        **fields}).to_spec()
    store.upsert_process(spec, actor="test")


def kill_one(store: SqlStore, reference: str = "r1") -> int:
    store.enqueue("erp", [NewItem(reference, {"n": 1})], actor="test")
    (item,) = store.claim("erp", "w1")
    store.fail_application(item.id, "w1", error_type="TimeoutError", message="INV-77 gone")
    return item.id


def test_an_alert_is_raised_once_per_rule_and_subject_across_nodes(db_url: str) -> None:
    first = open_store(db_url, writer="node-a")
    second = open_store(db_url, writer="node-b")
    try:
        alert = NewAlert(rule="node_stale", subject="node:x", title="x is silent", text="...")
        assert first.alerts.raise_alert(alert, actor="a") is not None
        assert second.alerts.raise_alert(alert, actor="b") is None
        assert first.alerts.raise_alert(alert, actor="a") is None
        other = NewAlert(rule="sla_broken", subject="node:x", title="same subject", text="")
        assert second.alerts.raise_alert(other, actor="b") is not None
        assert len(first.alerts.list_alerts()) == 2
    finally:
        first.close()
        second.close()


def test_a_dead_item_alerts_once_on_every_channel(store: SqlStore, smtp: SmtpSink,
                                                  hook: WebhookSink) -> None:
    register(store, alerts={"email": ["eier@kommune.example", "drift@kommune.example"]})
    item_id = kill_one(store)
    router = AlertRouter(store, config(smtp, hook))
    assert router.run_once()["sent"] == 2
    assert router.run_once()["sent"] == 0  # once
    AlertRouter(store, config(smtp, hook)).run_once()  # a new leader sends nothing again
    assert smtp.subjects == [f"[RPA] Item {item_id} of erp is dead after 1 attempts"]
    assert sorted(smtp.recipients[0]) == ["drift@kommune.example", "eier@kommune.example"]
    (body,) = hook.bodies
    assert body["rule"] == "item_dead" and body["process"] == "erp"
    mail = smtp.mails[0].get_content()
    assert "INV-77" not in mail and "INV-77" not in str(body)  # no personal data
    (alert,) = store.alerts.list_alerts()
    assert {d.channel: d.status for d in alert.deliveries} == {"email": "sent",
                                                              "webhook:teams": "sent"}


def test_silences_rules_switched_off_and_process_opt_outs(store: SqlStore, smtp: SmtpSink,
                                                          hook: WebhookSink) -> None:
    register(store, alerts={"ignore": ["sla_at_risk"]})
    store.alerts.add_silence(rule="item_dead", process="erp", until=store.clock() + 3600,
                             actor="operator", reason="ERP upgrade tonight")
    kill_one(store)
    store.alerts.raise_alert(NewAlert(rule="sla_at_risk", subject="item:9", process="erp",
                                      title="at risk", text=""), actor="t")
    store.alerts.raise_alert(NewAlert(rule="node_stale", subject="node:n", title="stale",
                                      text=""), actor="t")
    router = AlertRouter(store, config(smtp, hook, rules={"node_stale": "off"}))
    router.run_once()
    states = {a.rule: a.state for a in store.alerts.list_alerts()}
    assert states == {"item_dead": "silenced", "sla_at_risk": "off", "node_stale": "off"}
    assert smtp.mails == [] and hook.bodies == []


def test_a_failing_channel_is_retried_with_backoff_then_given_up(
        store: SqlStore, smtp: SmtpSink, hook: WebhookSink) -> None:
    register(store)
    kill_one(store)
    hook.status = 500
    now = [store.clock() + 1]
    router = AlertRouter(store, config(smtp, hook), clock=lambda: now[0])
    router.run_once()
    assert len(smtp.mails) == 1 and len(hook.bodies) == 1
    router.run_once()
    assert len(hook.bodies) == 1  # waits for the backoff (10 s)
    now[0] += 11
    router.run_once()
    assert len(hook.bodies) == 2
    now[0] += 21  # the second wait doubles
    router.run_once()
    assert len(hook.bodies) == 3
    now[0] += 3600
    router.run_once()
    assert len(hook.bodies) == 3 and len(smtp.mails) == 1  # 3 attempts: given up
    (alert,) = store.alerts.list_alerts()
    failed = next(d for d in alert.deliveries if d.channel == "webhook:teams")
    assert failed.status == "failed" and failed.attempts == 3
    assert failed.last_error and "s3cret-token" not in failed.last_error


def test_a_daily_digest_holds_mails_and_sends_them_as_one(store: SqlStore, smtp: SmtpSink,
                                                          hook: WebhookSink) -> None:
    register(store)
    kill_one(store, "r1")
    kill_one(store, "r2")
    router = AlertRouter(store, config(smtp, hook, digest="daily 00:00"), timezone="UTC")
    router.run_once()
    assert len(hook.bodies) == 2  # webhooks are not held
    assert len(smtp.mails) == 1 and "2" in smtp.subjects[0]
    router.run_once()
    assert len(smtp.mails) == 1  # once a day


def test_stale_nodes_are_alerted_once(store: SqlStore, smtp: SmtpSink,
                                      hook: WebhookSink) -> None:
    node = f"n-{uuid.uuid4().hex[:6]}"
    store.nodes.register(node, node="worker-7")
    now = [store.clock() + 600]
    router = AlertRouter(store, config(smtp, hook), clock=lambda: now[0])
    assert router.run_once()["stale_nodes"] == 1
    now[0] += 600
    assert router.run_once()["stale_nodes"] == 0
    assert [s for s in smtp.subjects if "worker-7" in s] == [
        "[RPA] Worker node worker-7 has been silent for 10 min"]


def test_an_overdue_review_task_alerts_once(store: SqlStore) -> None:
    from orchestrator.scheduling.housekeeping import default_chores

    register(store, review={"sla": "2h"})
    kill_one(store)
    chore = next(c for c in default_chores(store, "scheduler:t") if c.name == "review-tasks")
    chore.run()  # placed: due in two working hours
    assert store.alerts.list_alerts(rule="review_overdue") == []
    later = store.clock() + 14 * 86400  # overdue whatever the calendar says
    store.clock = lambda: later
    chore.run()
    chore.run()
    (alert,) = store.alerts.list_alerts(rule="review_overdue")
    assert alert.process == "erp" and "overdue" in alert.title
