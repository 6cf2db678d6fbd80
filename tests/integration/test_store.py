"""What only the SQL stores can be asked: rows tampered with by hand, a chain head
moved by another process (the store contract itself is in tests/contract/)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from queues import (
    LeaseLost,
    NewItem,
    Status,
    open_store,
)
from queues.schema import audit_chains, audit_events, work_items
from queues.sql_store import SqlStore
from tests.conftest import items, make_spec

ACTOR = "user:test"


def test_audit_chain_verifies_and_detects_tampering(store: SqlStore) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(5), actor=ACTOR)
    for c in store.claim("invoices", "w", limit=5):
        store.complete(c.id, "w")
    result = store.verify_audit()
    assert result.ok and result.events == 1 + 1 + 5  # process, the enqueue, completions
    with store.engine.begin() as conn:
        conn.execute(sa.update(audit_events).where(audit_events.c.id == 4)
                     .values(details='{"reference":"forged"}'))
    bad = store.verify_audit()
    assert not bad.ok and bad.findings[0].event_id == 4 and "altered" in bad.findings[0].problem


@pytest.mark.parametrize("how", ["remove-middle", "remove-last", "insert"])
def test_audit_detects_removed_and_inserted_rows(store: SqlStore, how: str) -> None:
    store.upsert_process(make_spec(), actor=ACTOR)
    for item in items(4):  # four enqueues: four events after the registration
        store.enqueue("invoices", [item], actor=ACTOR)
    with store.engine.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(audit_events.c.id))).scalar_one()
        if how == "remove-middle":
            conn.execute(sa.delete(audit_events).where(audit_events.c.id == 3))
        elif how == "remove-last":
            conn.execute(sa.delete(audit_events).where(audit_events.c.id == last))
        else:
            row = dict(conn.execute(sa.select(audit_events).where(audit_events.c.id == 2))
                       .mappings().one())
            conn.execute(sa.update(audit_events).where(audit_events.c.seq >= 3)
                         .values(seq=audit_events.c.seq + 1000))
            del row["id"]
            row.update(seq=3, details='{"reference":"smuggled"}')
            conn.execute(sa.insert(audit_events).values(**row))
            conn.execute(sa.update(audit_events).where(audit_events.c.seq >= 1000)
                         .values(seq=audit_events.c.seq - 999))
            conn.execute(sa.update(audit_chains).values(length=audit_chains.c.length + 1))
    result = store.verify_audit()
    assert not result.ok
    assert len(result.findings) == 1


def test_a_complete_whose_chain_moved_still_writes_item_and_event_together(
        store: SqlStore, db_url: str) -> None:
    """Another process appending to the same chain makes the cached head stale: the
    one-statement complete (PostgreSQL) must then write nothing, and the ordinary
    path finish the item with its event, the chain still whole."""
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(2), actor=ACTOR)
    twin = open_store(db_url, writer=store.writer)  # same chain, its own cached head
    assert isinstance(twin, SqlStore)
    try:
        first, second = store.claim("invoices", "w", limit=2)
        store.complete(first.id, "w", {"n": 1})  # our head is cached now
        twin.record_event(actor=ACTOR, action="test.moved_the_chain", details={})
        store.complete(second.id, "w", {"n": 2})
    finally:
        twin.close()
    assert store.get_item(second.id).status == Status.DONE
    done = store.audit_events(action="item.completed")
    assert sorted(e["item_id"] for e in done) == [first.id, second.id]
    assert store.verify_audit().ok


def test_complete_many_finishes_a_batch_with_each_items_attempt_and_event(
        store: SqlStore, db_url: str) -> None:
    """A batch claimed together and finished together (one statement on PostgreSQL):
    every item done with its own output, its attempt row and its event; a second
    batch whose chain head moved under it takes the ordinary path, just as whole."""
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(8), actor=ACTOR)
    first = store.claim("invoices", "w", limit=4)
    store.complete_many([(c.id, {"n": c.id}) for c in first], "w")
    twin = open_store(db_url, writer=store.writer)  # same chain, its own cached head
    assert isinstance(twin, SqlStore)
    try:
        second = store.claim("invoices", "w", limit=4)
        twin.record_event(actor=ACTOR, action="test.moved_the_chain", details={})
        store.complete_many([(c.id, {"n": c.id}) for c in second], "w")
    finally:
        twin.close()
    ids = [c.id for c in (*first, *second)]
    for item_id in ids:
        item = store.get_item(item_id)
        assert item.status == Status.DONE and item.output == {"n": item_id}
        (attempt,) = item.history
        assert (attempt.number, attempt.outcome, attempt.worker_id) == (1, "done", "w")
    done = store.audit_events(action="item.completed", limit=100)
    assert sorted(e["item_id"] for e in done) == sorted(ids)
    assert all(json.loads(e["details"]) == {"attempt": 1} for e in done)
    assert store.verify_audit().ok


def test_a_batch_with_an_item_no_longer_held_finishes_none_of_it(store: SqlStore) -> None:
    """One item of a batch re-claimed by another worker (its lease ran out): the whole
    batch is refused with the reason, and no item, attempt or event is written."""
    store.upsert_process(make_spec(), actor=ACTOR)
    store.enqueue("invoices", items(3), actor=ACTOR)
    claimed = store.claim("invoices", "w", limit=3)
    with store.engine.begin() as conn:
        conn.execute(sa.update(work_items).where(work_items.c.id == claimed[1].id)
                     .values(lease_owner="other"))
    with pytest.raises(LeaseLost, match=f"item {claimed[1].id}"):
        store.complete_many([(c.id, {"ok": True}) for c in claimed], "w")
    assert [store.get_item(c.id).status for c in claimed] == [Status.IN_PROGRESS] * 3
    assert not any(store.get_item(c.id).history for c in claimed)
    assert store.audit_events(action="item.completed") == []
    store.complete_many([(claimed[0].id, None), (claimed[2].id, None)], "w")  # still held
    assert store.verify_audit().ok


def test_single_item_enqueues_write_item_and_event_together(store: SqlStore,
                                                            db_url: str) -> None:
    """One item at a time takes the short path (one statement on PostgreSQL, the hot
    transaction on SQLite): each item has its event naming it, a repeated reference
    is reported as existing with no second event, a moved chain head falls back to
    the ordinary path, and the chain verifies."""
    store.upsert_process(make_spec(), actor=ACTOR)
    added = [store.enqueue("invoices", items(1, start=i), actor=ACTOR).added for i in range(5)]
    again = store.enqueue("invoices", items(1, start=2), actor=ACTOR)
    assert again.added == {} and again.existing == added[2]
    twin = open_store(db_url, writer=store.writer)  # same chain, its own cached head
    assert isinstance(twin, SqlStore)
    try:
        store.enqueue("invoices", items(1, start=5), actor=ACTOR)  # our head is cached
        twin.record_event(actor=ACTOR, action="test.moved_the_chain", details={})
        after = store.enqueue("invoices", items(1, start=6), actor=ACTOR).added
    finally:
        twin.close()
    events = store.audit_events(action="items.enqueued", limit=100)
    ids = sorted(e["item_id"] for e in events)
    expected = sorted([*(i for a in added for i in a.values()), *after.values()])
    assert len(ids) == 7 and set(expected) <= set(ids)
    assert all(json.loads(e["details"])["count"] == 1 for e in events)
    assert store.verify_audit().ok


@pytest.mark.parametrize("mixed", [False, True], ids=["shared", "mixed"])
def test_a_batch_stores_each_rows_own_values(store: SqlStore, mixed: bool) -> None:
    """A batch whose rows differ only in reference and payload goes as two arrays on
    PostgreSQL (`enqueue_shared`), any other as one array per column: both store
    every row as given, with None kept as NULL and the same created time."""
    store.upsert_process(make_spec(), actor=ACTOR)
    given = [NewItem(f"b{i}", {"n": i, "text": "æøå \u2603"},
                     priority=(i % 3 if mixed else 2),
                     deadline=(4_102_444_800.0 + i if mixed and i % 2 else None),
                     defer_until=(4_102_444_800.0 if mixed and i == 3 else None))
             for i in range(7)]
    added = store.enqueue("invoices", given, actor=ACTOR).added
    assert sorted(added) == sorted(i.reference for i in given)
    with store.engine.connect() as conn:
        rows = {r.reference: r for r in conn.execute(
            sa.select(work_items).where(work_items.c.id.in_(list(added.values()))))}
    for item in given:
        row = rows[item.reference]
        assert row.id == added[item.reference] and row.payload == item.payload
        assert (row.priority, row.deadline) == (item.priority, item.deadline)
        assert row.status == Status.NEW.value and row.attempts == 0
        assert (row.available_at >= 4_102_444_800.0) == (item.defer_until is not None)
    assert len({r.created_at for r in rows.values()}) == 1


@pytest.mark.postgres
def test_a_single_item_enqueue_wakes_an_idle_worker(pg_database: str) -> None:
    import threading

    from tests.conftest import truncate_all
    truncate_all(pg_database)
    producer, worker = open_store(pg_database, writer="p"), open_store(pg_database, writer="w")
    try:
        producer.upsert_process(make_spec(), actor=ACTOR)
        woke: list[bool] = []
        waiting = threading.Thread(target=lambda: woke.append(worker.wait_for_work(10.0)))
        worker.wait_for_work(0.01)  # LISTEN first
        waiting.start()
        producer.enqueue("invoices", items(1), actor=ACTOR)
        waiting.join(12)
        assert woke == [True]
    finally:
        producer.close()
        worker.close()
