"""The review inbox on SQLite and PostgreSQL: tasks open with the exception, resolutions
are checked and audited, and the hours report subtracts what people recorded.

The figures are worked out by hand in each test's comments.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator.reports import service
from orchestrator.scheduling.review_clock import escalate, place_new
from orchestrator.services import review
from orchestrator.services.access import AccessDenied, Principal, Role, cli_principal
from queues import IllegalTransition, ItemFilter, PayloadInvalid, RetryPolicy, open_store
from queues.review_store import ReviewError, TaskConflict, TaskFilter, TaskNotFound
from queues.sql_store import SqlStore
from tests.conftest import items, make_spec
from tests.integration.test_reports import WORKER, Clock, at, claim

ADMIN = cli_principal("os:tester")
SCHEMA = {"type": "object", "required": ["n"],
          "properties": {"n": {"type": "integer", "minimum": 0}}}


@pytest.fixture
def clock(store: SqlStore) -> Clock:
    c = Clock(at("2026-03-10T09:00:00"))
    store.clock = c
    return c


@pytest.fixture
def march(store: SqlStore, clock: Clock) -> dict[str, int]:
    """invoices (Finance): 6 min per item, 2 min per business exception, 2 attempts.

    10:00  6 items claimed
    10:01  2 completed                          gross 2 x 6 = 12 min
    10:02  3 business exceptions (a, b, c)      estimate 3 x 2 = 6 min
    10:03  1 application error on its last attempt: dead (d), estimate 0
    => 4 review tasks; gross 12, review 6 (all estimated), net 6
    """
    store.upsert_process(make_spec(
        "invoices", manual_minutes_per_item=6.0, exception_minutes_per_item=2.0,
        input_schema=SCHEMA,
        definition={"review": {"group": "faktura-kontroll", "sla": "2d"}},
        retry=RetryPolicy(1, 0.0, 0.0, jitter=False)), actor="test")
    clock.now = at("2026-03-10T10:00:00")
    store.enqueue("invoices", items(6, "inv"), actor="test")
    ids = claim(store, "invoices", 6)
    clock.now = at("2026-03-10T10:01:00")
    for item_id in ids[:2]:
        store.complete(item_id, WORKER)
    clock.now = at("2026-03-10T10:02:00")
    for item_id in ids[2:5]:
        store.fail_business(item_id, WORKER, code="NO_PO", message="no purchase order")
    clock.now = at("2026-03-10T10:03:00")
    assert store.fail_application(ids[5], WORKER, error_type="Timeout", message="slow") == "dead"
    tasks = {t.item_id: t.id for t in store.review.find(TaskFilter(status=None))}
    return {"a": tasks[ids[2]], "b": tasks[ids[3]], "c": tasks[ids[4]], "d": tasks[ids[5]],
            "item_b": ids[3]}


def test_every_exception_and_dead_item_opens_one_task(store: SqlStore, march: dict[str, int]
                                                      ) -> None:
    tasks = store.review.find(TaskFilter(status=None))
    assert sorted(t.kind for t in tasks) == ["business_exception"] * 3 + ["dead"]
    assert all(t.owner == "Finance" and not t.placed for t in tasks)
    assert place_new(store) == 4 and place_new(store) == 0
    placed = store.review.get(march["a"])
    # Tuesday 10:02 + 2 working days = Thursday 10:02
    assert placed.review_group == "faktura-kontroll"
    assert placed.due_at == at("2026-03-12T10:02:00")
    assert store.review.get(march["a"]).estimate_minutes == 2.0
    assert store.review.get(march["d"]).estimate_minutes == 0.0


def test_resolutions_make_gross_review_and_net(store: SqlStore, clock: Clock,
                                               march: dict[str, int]) -> None:
    """a: done_by_hand 5 min; b: fixed_and_retried 1 min, then completes (+6 gross);
    c: open (2 min estimated); d (dead): done_by_hand 10 min (replaces an estimate of 0).

    gross  = 12 + 6                          = 18 min
    review = 6 - (2 + 2) + (5 + 1) + 10      = 18 min, of which estimated 6 - 4 = 2
    net    = 18 - 18                         = 0 min
    """
    clock.now = at("2026-03-11T09:00:00")
    review.claim(store, ADMIN, march["a"])
    review.resolve(store, ADMIN, march["a"], "done_by_hand", minutes="5")
    review.resolve(store, ADMIN, march["b"], "fixed_and_retried", minutes=1,
                   payload={"n": 42})
    review.resolve(store, ADMIN, march["d"], "done_by_hand", minutes=10)
    item = store.get_item(march["item_b"])
    assert item.status == "new" and item.payload == {"n": 42}
    clock.now = at("2026-03-11T09:05:00")
    assert claim(store, "invoices", 1) == [march["item_b"]]
    store.complete(march["item_b"], WORKER)

    total = service.hours_report(store, "2026-03", by="process").report.total
    assert total.gross_hours * 60 == Decimal(18)
    assert total.review_hours * 60 == Decimal(18)
    assert total.estimated_hours * 60 == Decimal(2)
    assert total.freed_minutes == Decimal(0)
    # the month before and after are untouched
    assert service.hours_report(store, "2026-04").report.total.review_hours == 0
    actions = [e["action"] for e in store.audit_events(limit=200)]
    assert actions.count("review.resolved") == 3 and "review.claimed" in actions


def test_done_by_hand_defaults_to_the_exception_minutes(store: SqlStore,
                                                        march: dict[str, int]) -> None:
    task = review.resolve(store, ADMIN, march["c"], "done_by_hand")
    assert task.minutes == 2.0 and task.resolved_by == "os:tester"


def test_bad_resolutions_change_nothing(store: SqlStore, march: dict[str, int]) -> None:
    before = store.get_item(march["item_b"])
    for outcome, kwargs, error in [
        ("fixed_and_retried", {"payload": {"n": -1}}, PayloadInvalid),  # fails the schema
        ("fixed_and_retried", {"payload": {"m": 1}}, PayloadInvalid),
        ("fixed_and_retried", {}, review.ReviewInputError),
        ("no_action", {}, review.ReviewInputError),  # a reason is required
        ("no_action", {"reason": "x\x00y"}, review.ReviewInputError),
        ("done_by_hand", {"minutes": "NaN"}, review.ReviewInputError),
        ("done_by_hand", {"minutes": "-3"}, review.ReviewInputError),
        ("done_by_hand", {"minutes": "1e9"}, review.ReviewInputError),
        ("shrug", {}, review.ReviewInputError),
    ]:
        with pytest.raises(error):
            review.resolve(store, ADMIN, march["b"], outcome, **kwargs)
    assert store.review.get(march["b"]).is_open
    after = store.get_item(march["item_b"])
    assert (after.status, after.payload, after.attempt_limit) == \
        (before.status, before.payload, before.attempt_limit)


def test_resolved_twice_or_claimed_by_another_is_refused(store: SqlStore,
                                                         march: dict[str, int]) -> None:
    kari = Principal("kari", Role.OPERATOR)
    ola = Principal("ola", Role.OPERATOR)
    review.claim(store, kari, march["a"])
    with pytest.raises(TaskConflict, match="claimed by kari"):
        review.resolve(store, ola, march["a"], "no_action", reason="duplicate")
    with pytest.raises(TaskConflict):
        review.claim(store, ola, march["a"])
    review.resolve(store, kari, march["a"], "no_action", reason="duplicate")
    with pytest.raises(TaskConflict, match="already resolved"):
        review.resolve(store, kari, march["a"], "done_by_hand", minutes=3)
    assert store.review.get(march["a"]).outcome == "no_action"
    with pytest.raises(TaskNotFound):
        review.claim(store, kari, 999_999)
    # an admin may free someone's claim; an operator may not
    review.claim(store, kari, march["c"])
    with pytest.raises(ReviewError):
        review.unclaim(store, ola, march["c"])
    assert review.unclaim(store, ADMIN, march["c"]).claimed_by is None


def test_owners_see_their_own_tasks_and_finance_none(store: SqlStore,
                                                     march: dict[str, int]) -> None:
    mine = Principal("siv", Role.OWNER, owner="Finance")
    other = Principal("per", Role.OWNER, owner="HR")
    assert len(review.list_tasks(store, mine)) == 4
    assert review.list_tasks(store, other) == []
    with pytest.raises(TaskNotFound):
        review.get_task(store, other, march["a"])
    with pytest.raises(AccessDenied):
        review.list_tasks(store, Principal("fin", Role.FINANCE))
    auditor = Principal("aud", Role.AUDITOR)
    assert len(review.list_tasks(store, auditor)) == 4
    with pytest.raises(AccessDenied):
        review.claim(store, auditor, march["a"])
    detail = review.get_task(store, auditor, march["a"])
    assert detail.item is not None and detail.item.payload == {"n": "•••"}


def test_an_item_done_meanwhile_cannot_be_retried_from_review(
        store: SqlStore, march: dict[str, int]) -> None:
    # an operator retried the item from the items list and it went through
    store.retry([march["item_b"]], actor="test")
    assert claim(store, "invoices", 1) == [march["item_b"]]
    store.complete(march["item_b"], WORKER)
    with pytest.raises(IllegalTransition, match="cannot be queued again"):
        review.resolve(store, ADMIN, march["b"], "fixed_and_retried", payload={"n": 1})
    assert store.review.get(march["b"]).is_open
    assert store.get_item(march["item_b"]).payload == {"n": 3}
    assert store.list_items(ItemFilter(process="invoices", statuses=("new",))) == []


def test_overdue_tasks_escalate_once_across_restarts(store: SqlStore, clock: Clock,
                                                     march: dict[str, int]) -> None:
    # opened Tuesday 10 March 10:02/10:03, 2 working days: due Thursday 12 March
    clock.now = at("2026-03-12T10:01:00")
    assert escalate(store) == []
    review.resolve(store, ADMIN, march["a"], "no_action", reason="handled")
    clock.now = at("2026-03-12T10:05:00")
    escalated = escalate(store)
    assert sorted(t.id for t in escalated) == sorted([march["b"], march["c"], march["d"]])
    assert all(t.owner == "Finance" and t.escalated_at == clock.now for t in escalated)
    again = open_store(store.engine.url.render_as_string(hide_password=False),
                       writer="another-node")
    try:
        again.clock = clock  # type: ignore[method-assign]
        assert escalate(again) == []  # a second node, or a restart, escalates nothing again
    finally:
        again.close()
    overdue = review.list_tasks(store, ADMIN, overdue=True)
    assert {t.id for t in overdue} == {march["b"], march["c"], march["d"]}
    events = [e for e in store.audit_events(limit=200) if e["action"] == "review.escalated"]
    assert len(events) == 3


def test_a_reviewers_reason_is_purged_with_the_items_errors(store: SqlStore,
                                                           march: dict[str, int]) -> None:
    review.resolve(store, ADMIN, march["a"], "no_action", reason="Kari Nordmann rang inn")
    assert store.review.get(march["a"]).reason == "Kari Nordmann rang inn"
    item_id = store.review.get(march["a"]).item_id
    assert store.retention.purge("invoices", [item_id], ["errors"], rule="test",
                                 actor="test") == 1
    assert store.review.get(march["a"]).reason is None
    assert store.review.get(march["a"]).minutes == 0  # the figures stay for the reports
