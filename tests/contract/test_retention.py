"""Retention and erasure, the same on every store: due, purge, tombstones, erase."""

from __future__ import annotations

import time

import pytest

from queues import NewItem, Store
from tests.conftest import make_spec

ACTOR = "user:test"
PAYLOAD = {"nin": "01017012345", "name": "Kari Nordmann"}


def finished_items(store: Store) -> dict[str, int]:
    """One item done, one business-failed (with evidence), one still waiting."""
    store.upsert_process(make_spec(), actor=ACTOR)
    added = store.enqueue("invoices", [NewItem(ref, dict(PAYLOAD)) for ref in ("a", "b", "c")],
                          actor=ACTOR).added
    ids = {ref: added[ref] for ref in ("a", "b", "c")}
    for claimed in store.claim("invoices", "w", limit=2):
        if claimed.id == ids["a"]:
            store.complete(claimed.id, "w", {"approved_by": "Kari Nordmann"})
        else:
            store.fail_business(claimed.id, "w", code="NIN_INVALID",
                                message="Kari Nordmann's number is wrong",
                                evidence={"screenshot": "/tmp/x/a1-screenshot.png"})
    return ids


def test_what_is_due_is_purged_with_a_tombstone_and_one_event(store: Store) -> None:
    ids = finished_items(store)
    assert store.retention.due("invoices", "payload", before=0) == []  # not due yet
    due = store.retention.due("invoices", "payload", before=time.time() + 1)
    assert sorted(c.item_id for c in due) == sorted([ids["a"], ids["b"]])  # not the waiting c
    evidence = store.retention.due("invoices", "evidence", before=time.time() + 1)
    assert [c.evidence for c in evidence if c.item_id == ids["b"]] == [
        ({"screenshot": "/tmp/x/a1-screenshot.png"},)]

    purged = store.retention.purge("invoices", [c.item_id for c in due],
                                   ["payload", "output", "errors"], rule="retention 90d",
                                   actor=ACTOR)
    assert purged == 2
    a, b = store.get_item(ids["a"]), store.get_item(ids["b"])
    assert (a.payload, a.output) == ({}, None)
    assert b.error_message is None and all(t.error_message is None for t in b.history)
    assert b.error_code == "NIN_INVALID"  # codes stay: they are how reports count
    assert a.purged == ("errors", "output", "payload")
    (tomb,) = store.retention.tombstones(ids["a"])
    assert tomb.fields == ("errors", "output", "payload") and tomb.rule == "retention 90d"
    assert store.get_item(ids["c"]).payload == PAYLOAD
    # done once: nothing left due, and a second purge finds nothing to do
    assert store.retention.due("invoices", "payload", before=time.time() + 1) == []
    assert store.retention.purge("invoices", [ids["a"]], ["payload"], rule="x",
                                 actor=ACTOR) == 0
    (event,) = store.audit_events(action="items.purged")
    assert '"count":2' in str(event["details"]) and "Kari" not in str(event["details"])
    assert store.verify_audit().ok


def test_erasure_abandons_what_waits_refuses_what_runs_and_names_the_unknown(
        store: Store) -> None:
    ids = finished_items(store)
    ids["d"] = store.enqueue("invoices", [NewItem("d", dict(PAYLOAD))], actor=ACTOR).added["d"]
    (working,) = store.claim("invoices", "w2")
    waiting = ids["d"] if working.id == ids["c"] else ids["c"]
    result = store.retention.erase([ids["a"], waiting, working.id, 999_999],
                                   reason="request 2026-41", actor=ACTOR)
    assert result.erased == sorted([ids["a"], waiting])
    assert result.in_progress == [working.id] and result.unknown == [999_999]
    gone = store.get_item(waiting)
    assert gone.status == "abandoned" and gone.payload == {} and len(gone.purged) == 4
    assert store.retention.tombstones(waiting)[0].rule == "erasure: request 2026-41"
    assert store.get_item(working.id).payload == PAYLOAD
    (event,) = store.audit_events(action="items.erased")
    assert "request 2026-41" in str(event["details"])
    assert store.verify_audit().ok


def test_unknown_data_is_refused(store: Store) -> None:
    finished_items(store)
    with pytest.raises(ValueError):
        store.retention.due("invoices", "everything", before=1)
    with pytest.raises(ValueError):
        store.retention.purge("invoices", [1], ["payload", "audit"], rule="x", actor=ACTOR)
