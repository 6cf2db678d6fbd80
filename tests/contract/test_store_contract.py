"""The queue's semantics, the same on every store: in memory, SQLite, PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest

from queues import (
    IllegalTransition,
    ItemFilter,
    LeaseLost,
    NewItem,
    PayloadInvalid,
    Priority,
    QueueNotFound,
    RetryPolicy,
    Status,
    Store,
)
from tests.conftest import items, make_spec

ACTOR = "user:test"


def test_enqueue_is_idempotent_by_reference(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    first = store.enqueue("invoices", items(5), actor=ACTOR)
    again = store.enqueue("invoices", items(7), actor=ACTOR)
    assert len(first.added) == 5 and not first.existing
    assert set(again.added) == {"r5", "r6"}
    assert again.existing == {f"r{i}": first.added[f"r{i}"] for i in range(5)}
    assert len(store.list_items(ItemFilter(limit=0))) == 7


def test_unknown_process_is_refused(store: Store) -> None:
    with pytest.raises(QueueNotFound, match="nope"):
        store.enqueue("nope", items(1), actor=ACTOR)


def test_one_bad_payload_rejects_the_whole_batch(store: Store) -> None:
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    store.upsert_process(make_spec(input_schema=schema), actor=ACTOR)
    batch = [*items(3), NewItem("bad", {"n": "three"}), *items(3, start=3)]
    with pytest.raises(PayloadInvalid, match=r"row 4.*'bad'.*field 'n'"):
        store.enqueue("invoices", batch, actor=ACTOR)
    assert store.list_items(ItemFilter(limit=0)) == []


def test_claim_order_priority_then_deadline_then_age(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    now = time.time()
    store.enqueue("invoices", [
        NewItem("low-old", {}, priority=Priority.LOW),
        NewItem("normal-no-deadline", {}),
        NewItem("normal-late-deadline", {}, deadline=now + 7200),
        NewItem("normal-early-deadline", {}, deadline=now + 60),
        NewItem("high-new", {}, priority=Priority.HIGH),
        NewItem("normal-no-deadline-2", {}),
        NewItem("deferred-high", {}, priority=Priority.HIGH, defer_until=now + 3600),
    ], actor=ACTOR)
    order = [store.claim("invoices", "w")[0].reference for _ in range(6)]
    assert order == ["high-new", "normal-early-deadline", "normal-late-deadline",
                     "normal-no-deadline", "normal-no-deadline-2", "low-old"]
    assert store.claim("invoices", "w") == []  # the deferred item is not due yet


def test_batched_claim_takes_the_best_n(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(10), actor=ACTOR)
    claimed = store.claim("invoices", "w", limit=4)
    assert [c.reference for c in claimed] == ["r0", "r1", "r2", "r3"]
    assert all(c.attempt == 1 for c in claimed)
    assert {c.id for c in store.claim("invoices", "w2", limit=100)}.isdisjoint(
        {c.id for c in claimed})


def test_complete_records_attempt_output_and_freed_minutes(store: Store) -> None:
    store.upsert_process(make_spec(manual_minutes_per_item=7.5), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "w1")[0]
    store.complete(item.id, "w1", {"approved": True}, evidence={"screenshot": "a.png"})
    view = store.get_item(item.id)
    assert view.status == Status.DONE and view.output == {"approved": True}
    assert [(a.number, a.outcome, a.worker_id) for a in view.history] == [(1, "done", "w1")]
    assert view.history[0].evidence == {"screenshot": "a.png"}
    done = store.audit_events(action="item.completed")
    assert done[0]["freed_minutes"] == 7.5 and done[0]["owner"] == "Finance"
    assert done[0]["robot_seconds"] >= 0


def test_business_failure_is_final_and_never_retried(store: Store) -> None:
    store.upsert_process(make_spec(exception_minutes_per_item=2.0), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "w1")[0]
    store.fail_business(item.id, "w1", code="VAT_MISMATCH", message="VAT is not 25 %")
    view = store.get_item(item.id)
    assert (view.status, view.error_code) == (Status.BUSINESS_FAILED, "VAT_MISMATCH")
    assert store.claim("invoices", "w1") == []
    event = store.audit_events(action="item.business_failed")[0]
    assert event["freed_minutes"] == -2.0


def test_application_errors_retry_with_backoff_then_die(store: Store) -> None:
    store.upsert_process(make_spec(retry=RetryPolicy(3, 0.0, 0.0, jitter=False)), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    statuses = []
    for attempt in (1, 2, 3):
        item = store.claim("invoices", "w")[0]
        assert item.attempt == attempt
        statuses.append(store.fail_application(item.id, "w", error_type="TimeoutError",
                                               message="portal did not answer", code="T1"))
    assert statuses == ["retry_scheduled", "retry_scheduled", "dead"]
    view = store.get_item(item.id)
    assert view.status == "dead" and len(view.history) == 3
    assert {a.outcome for a in view.history} == {"application_error"}


def test_backoff_delays_the_next_claim(store: Store) -> None:
    store.upsert_process(make_spec(retry=RetryPolicy(3, 300.0, 600.0, jitter=False)),
                         actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "w")[0]
    store.fail_application(item.id, "w", error_type="HTTP503", message="busy")
    view = store.get_item(item.id)
    assert view.status == "retry_scheduled"
    # the first backoff step is 300 s with jitter drawn from [50 %, 100 %] of it
    assert time.time() + 140 <= view.available_at <= time.time() + 300
    assert store.claim("invoices", "w") == []


def test_expired_lease_returns_the_item_and_records_a_lost_attempt(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "dead-worker", lease_seconds=0.05)[0]
    time.sleep(0.1)
    assert store.recover_expired() == [item.id]
    again = store.claim("invoices", "w2")[0]
    assert (again.id, again.attempt) == (item.id, 2)
    with pytest.raises(LeaseLost):
        store.complete(item.id, "dead-worker", {})
    store.complete(item.id, "w2", {})
    history = store.get_item(item.id).history
    assert [a.outcome for a in history] == ["lost", "done"]


def test_heartbeat_keeps_the_lease(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(2), actor=ACTOR)
    a, b = store.claim("invoices", "w", limit=2, lease_seconds=0.2)
    for _ in range(3):
        time.sleep(0.1)
        assert store.heartbeat([a.id], "w", 0.2) == {a.id}
    assert store.recover_expired() == [b.id]
    assert store.heartbeat([a.id, b.id], "w", 0.2) == {a.id}


def test_release_gives_the_item_back_without_spending_an_attempt(store: Store) -> None:
    store.upsert_process(make_spec(retry=RetryPolicy(1, 0, 0, jitter=False)), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "w")[0]
    store.release(item.id, "w", reason="shutting down")
    again = store.claim("invoices", "w")[0]
    assert again.id == item.id and again.attempt <= again.attempt_limit
    store.complete(again.id, "w")


def test_operator_retry_and_abandon(store: Store) -> None:
    store.upsert_process(make_spec(retry=RetryPolicy(1, 0, 0, jitter=False)), actor=ACTOR)
    store.enqueue("invoices", items(3), actor=ACTOR)
    a, b, c = store.claim("invoices", "w", limit=3)
    store.fail_application(a.id, "w", error_type="E", message="x")
    store.fail_business(b.id, "w", code="RULE", message="y")
    store.complete(c.id, "w")
    assert store.get_item(a.id).status == "dead"
    assert store.retry([a.id, b.id, c.id], actor=ACTOR, reason="portal fixed") == [a.id, b.id]
    retried = store.claim("invoices", "w", limit=5)
    assert {r.id for r in retried} == {a.id, b.id}
    assert all(r.attempt <= r.attempt_limit for r in retried)
    for r in retried:
        store.fail_business(r.id, "w", code="RULE", message="still")
    assert store.abandon([a.id, c.id], actor=ACTOR, reason="handled by hand") == [a.id]
    with pytest.raises(IllegalTransition):
        store.complete(c.id, "w")
    events = store.audit_events(action="item.retried")
    assert {e["item_id"] for e in events} == {a.id, b.id}


def test_paused_process_claims_nothing(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(2), actor=ACTOR)
    store.set_paused("invoices", True, actor=ACTOR)
    assert store.claim("invoices", "w") == []
    store.set_paused("invoices", False, actor=ACTOR)
    assert len(store.claim("invoices", "w")) == 1


def test_status_counts_oldest_and_sla(store: Store) -> None:
    store.upsert_process(make_spec(sla_minutes=30.0), actor=ACTOR)
    now = time.time()
    store.enqueue("invoices", [*items(4), NewItem("late", {}, deadline=now - 10)], actor=ACTOR)
    first = store.claim("invoices", "w")[0]  # "late": earliest deadline
    store.complete(first.id, "w")
    store.claim("invoices", "w")
    row = store.queue_status(risk_window_seconds=3600)[0]
    assert row.counts == {"new": 3, "in_progress": 1, "done": 1}
    assert row.oldest_waiting_at is not None and row.oldest_waiting_at <= time.time()
    assert (row.breached, row.at_risk) == (0, 4)  # the late one is done; 4 due within 1 h
    later = store.queue_status(now=now + 3 * 3600)[0]
    assert later.breached == 4


def test_every_attempt_ends_in_exactly_one_audit_event(store: Store) -> None:
    """A claim is a lease (state); the attempt it starts is audited when it ends,
    with who, which attempt and how long (so the claim's time is in the log too)."""
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(1), actor=ACTOR)
    item = store.claim("invoices", "w1")[0]
    store.fail_application(item.id, "w1", error_type="E", message="m")
    item = store.claim("invoices", "w2")[0]
    store.complete(item.id, "w2")
    events = list(reversed(store.audit_events(item_id=item.id)))
    assert [e["action"] for e in events] == ["items.enqueued", "item.retry_scheduled",
                                             "item.completed"]
    assert [e["actor"] for e in events[1:]] == ["worker:w1", "worker:w2"]
    assert [json.loads(e["details"])["attempt"] for e in events[1:]] == [1, 2]
    assert all(e["robot_seconds"] is not None and e["robot_seconds"] >= 0 for e in events[1:])


def test_every_store_implements_the_whole_interface() -> None:
    """No method of `Store` is left to raise NotImplementedError in any store."""
    from queues.postgres_store import PostgresStore
    from queues.sqlite_store import SqliteStore
    from queues.testing import InMemoryStore
    abstract = {name for name, value in vars(Store).items()
                if callable(value) and not name.startswith("_") and name != "close"}
    for cls in (InMemoryStore, SqliteStore, PostgresStore):
        missing = sorted(n for n in abstract if getattr(cls, n) is getattr(Store, n))
        assert not missing, f"{cls.__name__} lacks {missing}"


def test_a_claim_says_when_its_item_was_enqueued(store: Store) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(2), actor=ACTOR)
    for claimed in store.claim("invoices", "w", limit=2):
        assert claimed.enqueued_at == store.get_item(claimed.id).created_at
