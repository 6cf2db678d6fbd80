"""The circuit breaker on SQLite and PostgreSQL: N application errors in a row pause
the process, no attempt is spent while it is open, a probe after the cool-down
resumes it or keeps it paused, and `resume` closes it."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator.process_config import ProcessConfig
from queues import NewItem
from queues.schema import audit_events, processes, work_items
from queues.sql_store import SqlStore


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def register(store: SqlStore, **fields: object) -> None:
    config = ProcessConfig.model_validate({
        "name": "erp", "owner": "Finance", "cost_centre": "1200", "bot": "noop",
        "manual_minutes_per_item": 3, "retry": {"max_attempts": 6, "backoff": 0},
        "breaker": {"after": 3, "cool_down": "1m"}, **fields})
    store.upsert_process(config.to_spec(), actor="test")


def with_items(store: SqlStore, count: int = 10, **fields: object) -> Clock:
    """The process registered (breaker after 3) with `count` new items, on a test clock."""
    store.clock = clock = Clock()
    register(store, **fields)
    store.enqueue("erp", [NewItem(f"r{i}", {"n": i}) for i in range(count)], actor="test")
    return clock


def fail_in_a_row(store: SqlStore, clock: Clock, times: int = 3) -> None:
    """`times` application errors in a row, a second apart (3 trips the breaker)."""
    for _ in range(times):
        clock.now += 1
        fail_next(store)


def fail_next(store: SqlStore, worker: str = "w1") -> int:
    (item,) = store.claim("erp", worker)
    store.fail_application(item.id, worker, error_type="TimeoutError", message="no answer")
    return item.id


def state(store: SqlStore) -> tuple[bool, str, int]:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(processes.c.paused, processes.c.breaker_state,
                                     processes.c.breaker_failures)).one()
    return bool(row.paused), row.breaker_state, row.breaker_failures


def actions(store: SqlStore) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_events.c.action).where(
            audit_events.c.action.like("process.breaker%")).order_by(audit_events.c.id))
            .scalars())


def attempts_spent(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.sum(work_items.c.attempts))).scalar() or 0)


def test_errors_in_a_row_pause_the_process_and_spend_no_more_attempts(store: SqlStore) -> None:
    clock = with_items(store)
    fail_in_a_row(store, clock)
    assert state(store) == (True, "open", 3)
    assert actions(store) == ["process.breaker_opened"]
    spent = attempts_spent(store)
    store.snapshots.clear()
    assert store.claim("erp", "w2", limit=5) == []  # other workers claim nothing
    assert attempts_spent(store) == spent == 3
    (alert,) = store.alerts.list_alerts()
    assert alert.rule == "breaker_tripped" and alert.process == "erp"
    assert "rpa process resume erp" in alert.text


def test_a_success_between_failures_starts_the_count_again(store: SqlStore) -> None:
    clock = with_items(store)
    for outcome in ("fail", "fail", "done", "fail", "fail", "business", "fail", "fail"):
        clock.now += 1
        if outcome == "fail":
            fail_next(store)
            continue
        (item,) = store.claim("erp", "w1")
        if outcome == "done":
            store.complete(item.id, "w1")
        else:
            store.fail_business(item.id, "w1", code="RULE", message="a rule said no")
    assert state(store) == (False, "closed", 2)
    assert actions(store) == []


def test_a_probe_after_the_cool_down_resumes_or_keeps_the_pause(store: SqlStore) -> None:
    clock = with_items(store)
    fail_in_a_row(store, clock)
    clock.now += 30
    assert store.claim("erp", "w1") == []  # still cooling down
    clock.now += 31
    (probe,) = store.claim("erp", "w1", limit=5)  # one item only, however many asked
    assert state(store)[1] == "half_open"
    assert store.claim("erp", "w2", limit=5) == []  # one probe at a time
    store.fail_application(probe.id, "w1", error_type="TimeoutError", message="still down")
    assert state(store)[:2] == (True, "open")
    clock.now += 30
    assert store.claim("erp", "w1") == []  # a new cool-down
    clock.now += 31
    (probe,) = store.claim("erp", "w1")
    store.complete(probe.id, "w1")
    assert state(store) == (False, "closed", 0)
    assert actions(store) == ["process.breaker_opened", "process.breaker_probe",
                              "process.breaker_probe_failed", "process.breaker_probe",
                              "process.breaker_closed"]
    assert len(store.claim("erp", "w1", limit=5)) == 5  # claiming as usual again


def test_resume_closes_the_breaker(store: SqlStore) -> None:
    clock = with_items(store, 5)
    fail_in_a_row(store, clock)
    store.set_paused("erp", False, actor="operator")
    assert state(store) == (False, "closed", 0)
    assert store.claim("erp", "w1")


def test_a_breaker_switched_off_never_pauses(store: SqlStore) -> None:
    clock = with_items(store, 8, breaker={"enabled": False})
    fail_in_a_row(store, clock, 8)
    assert state(store)[:2] == (False, "closed")
