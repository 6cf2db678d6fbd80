"""The store's siblings, the same on every store: nodes, fires, credentials, figures."""

from __future__ import annotations

import time

from queues import ItemFilter, NewItem, Store
from tests.conftest import items, make_spec

ACTOR = "user:test"


def test_nodes_register_beat_lead_and_stop(store: Store) -> None:
    nodes = store.nodes
    assert nodes.register("w1", node="node-a", role="serve", slots=[{"slot": 0}],
                          processes=["invoices"])
    assert nodes.register("w2", node="node-b")
    assert not nodes.set_leader("not-registered", True)
    assert nodes.set_leader("w1", True) and nodes.set_leader("w2", True)
    listed = {n.id: n for n in nodes.nodes()}
    assert [i for i, n in listed.items() if n.leader] == ["w2"]  # one leader at a time
    assert listed["w1"].slots == [{"slot": 0}] and listed["w1"].processes == ["invoices"]
    assert nodes.beat("w1", slots=[{"slot": 0, "item_id": 7}])
    assert next(n for n in nodes.nodes() if n.id == "w1").busy == 1
    assert nodes.stop("w2")
    assert [n.id for n in nodes.nodes()] == ["w1"]
    gone = {n.id: n for n in nodes.nodes(include_gone=True)}
    assert gone["w2"].state(time.time()) == "stopped" and not gone["w2"].leader


def test_a_fire_records_once_with_its_items_and_events(store: Store) -> None:
    store.upsert_process(make_spec("inbox"), actor=ACTOR)
    first = store.fires.record_fire(process="inbox", trigger_key="k1", scheduled_at=1e9,
                                    node="n", items=items(2), trigger="every 1m")
    again = store.fires.record_fire(process="inbox", trigger_key="k1", scheduled_at=1e9,
                                    node="other", items=items(2))
    assert (first.recorded, first.status, first.added, first.existing) == (True, "fired", 2, 0)
    assert (again.recorded, again.status) == (False, "duplicate")
    assert store.fires.already_fired("inbox", 1e9)
    assert not store.fires.already_fired("inbox", 2e9)
    assert store.fires.last_fire("k1") == 1e9 and store.fires.last_fire("k2") is None
    (row,) = store.fires.recent_fires(["inbox"])["inbox"]
    assert (row["node"], row["status"], row["items_added"]) == ("n", "fired", 2)

    failed = store.fires.record_fire(process="inbox", trigger_key="k1", scheduled_at=2e9,
                                     node="n", status="failed", error="feeder broke")
    assert failed.recorded and failed.status == "failed"
    assert [r["scheduled_at"] for r in store.fires.recent_fires(limit=5)["inbox"]] == [2e9, 1e9]
    enqueued = store.audit_events(action="items.enqueued")
    assert len(enqueued) == 1 and '"fire":' in str(enqueued[0]["details"])
    assert {e["action"] for e in store.audit_events(action="schedule.*")} == {
        "schedule.fired", "schedule.failed"}
    assert all(e["actor"] == "scheduler:n" for e in store.audit_events(action="schedule.*"))
    assert len(store.list_items(ItemFilter(limit=0))) == 2
    assert store.verify_audit().ok


def test_credentials_keep_ciphertext_and_audit_every_change_by_name(store: Store) -> None:
    creds = store.credentials
    assert creds.put("portal", "token-1", actor=ACTOR)
    assert not creds.put("portal", "token-2", actor=ACTOR)  # replaced, not new
    assert creds.ciphertext("portal") == "token-2" and creds.ciphertext("other") is None
    assert [name for name, _ in creds.names()] == ["portal"]
    assert creds.delete("portal", actor=ACTOR) and not creds.delete("portal", actor=ACTOR)
    events = store.audit_events(action="credential.*")
    assert [e["action"] for e in reversed(events)] == [
        "credential.set", "credential.set", "credential.deleted"]
    assert all("token" not in str(e["details"]) for e in events)
    assert store.verify_audit().ok


def test_the_monitor_counts_what_status_counts(store: Store) -> None:
    now = time.time()
    store.upsert_process(make_spec(sla_minutes=30.0, concurrency=5), actor=ACTOR)
    store.enqueue("invoices", [*items(4), NewItem("late", {}, deadline=now - 60, priority=0),
                               NewItem("soon", {}, deadline=now + 600)], actor=ACTOR)
    soon, first = store.claim("invoices", "w", limit=2)  # by priority, then deadline
    assert (soon.reference, first.reference) == ("soon", "r0")
    store.complete(first.id, "w")
    (q,) = store.monitor.overview(now=now + 1)
    status = store.queue_status(now=now + 1)[0]
    assert q.counts == {s: status.count(s) for s in ("new", "retry_scheduled",
                                                     "in_progress", "dead")}
    assert (q.breached, q.at_risk) == (status.breached, status.at_risk) == (1, 4)
    assert q.waiting == 4 and q.open == 5 and q.finished == {"item.completed": 1}
    assert store.monitor.finished_counts() == {(q.queue_id, "done"): 1}
    late, risk = store.monitor.sla_items([q.queue_id], now=now + 1, risk_window=3600,
                                         limit=10)
    assert [i.reference for i in late] == ["late"] and len(risk) == 4
    assert risk[0].reference == "soon"  # by due time
    assert store.monitor.waiting_at_least(q.queue_id, 4, now + 1)
    assert not store.monitor.waiting_at_least(q.queue_id, 5, now + 1)
