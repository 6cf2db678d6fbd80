"""Review due times in working hours, and escalation on a controllable clock.

The dates are real Norwegian ones: Whit Monday (2. pinsedag) is 25 May 2026,
so a task opened on Friday 22 May has a long weekend before it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.scheduling.review_clock import (
    ReviewClockError,
    WorkingTime,
    due_at,
    escalate,
    office_calendar,
    place_new,
    review_calendar,
)
from queues import NewItem
from queues.testing import InMemoryStore
from tests.conftest import make_spec

OSLO = ZoneInfo("Europe/Oslo")


def oslo(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=OSLO)


@pytest.mark.parametrize(("opened", "sla", "due"), [
    # Friday before Whit Monday: Tuesday is day 1, Wednesday day 2
    (oslo(2026, 5, 22, 10, 0), "2d", oslo(2026, 5, 27, 10, 0)),
    # an ordinary Monday
    (oslo(2026, 6, 1, 9, 30), "1d", oslo(2026, 6, 2, 9, 30)),
    # opened on Saturday: counting starts at Monday's opening
    (oslo(2026, 6, 6, 12, 0), "1d", oslo(2026, 6, 9, 8, 0)),
    # working hours: 1 h left on Friday, Monday is a holiday, 3 h on Tuesday
    (oslo(2026, 5, 22, 15, 0), "4h", oslo(2026, 5, 26, 11, 0)),
    # opened after closing time: the next morning's hours count
    (oslo(2026, 6, 2, 18, 0), "90m", oslo(2026, 6, 3, 9, 30)),
    # Christmas: 24 Dec 2026 is a Thursday (a working day), 25 and 26 are holidays
    (oslo(2026, 12, 24, 10, 0), "1d", oslo(2026, 12, 28, 10, 0)),
])
def test_due_times_count_only_working_time(opened: datetime, sla: str, due: datetime) -> None:
    assert due_at(office_calendar(), opened, WorkingTime.parse(sla)) == due


def test_a_process_calendar_is_used_when_it_has_working_hours() -> None:
    cal = review_calendar({"working_hours": [{"days": "mon-sat", "from": "07:00",
                                              "to": "19:00"}]})
    # Saturday is a working day here; Whit Monday still closed
    assert due_at(cal, oslo(2026, 5, 22, 18, 0), WorkingTime.parse("2h")) == \
        oslo(2026, 5, 23, 8, 0)


@pytest.mark.parametrize("bad", ["", "0d", "-1d", "2", "1.5d", "2 weeks", "nan", "1e9h",
                                 "9999d", "2d\x00", True, None, 3.5])
def test_a_bad_sla_says_how_to_write_it(bad: object) -> None:
    with pytest.raises(ReviewClockError):
        WorkingTime.parse(bad)


def test_escalation_happens_once_when_the_due_time_passes_over_a_holiday_weekend() -> None:
    now = [oslo(2026, 5, 22, 10, 0).timestamp()]
    store = InMemoryStore(clock=lambda: now[0])
    spec = make_spec(definition={"review": {"group": "faktura-kontroll", "sla": "2d"}})
    store.upsert_process(spec, actor="t")
    store.enqueue("invoices", [NewItem("r1", {"n": 1})], actor="t")
    claimed = store.claim("invoices", "w1")[0]
    store.fail_business(claimed.id, "w1", code="NO_PO", message="no purchase order")
    assert place_new(store) == 1
    task = store.review.get(1)
    assert task.review_group == "faktura-kontroll"
    assert task.due_at == oslo(2026, 5, 27, 10, 0).timestamp()
    for moment in (oslo(2026, 5, 25, 12, 0), oslo(2026, 5, 27, 9, 59)):
        now[0] = moment.timestamp()
        assert escalate(store) == []
    now[0] = oslo(2026, 5, 27, 10, 1).timestamp()
    [escalated] = escalate(store)
    assert escalated.escalated_at == now[0] and escalated.owner == "Finance"
    assert escalate(store) == []  # once only
    actions = [e["action"] for e in store.db.events]
    assert actions.count("review.escalated") == 1 and "review.opened" in actions


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True),
                 st.none(), st.booleans()))
def test_any_sla_text_is_a_working_time_or_a_clear_error(value: object) -> None:
    try:
        parsed = WorkingTime.parse(value)
    except ReviewClockError as err:
        assert "working" in str(err) or "zero" in str(err) or "at most" in str(err)
        return
    assert parsed.amount > 0 and parsed.unit in ("d", "m")
    assert WorkingTime.parse(str(parsed)) == parsed  # what is stored reads back the same


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True), st.none()))
def test_any_minutes_a_person_types_are_a_number_or_a_clear_error(value: object) -> None:
    from orchestrator.services.review import ReviewInputError, parse_minutes
    try:
        minutes = parse_minutes(value)
    except ReviewInputError as err:
        assert "minutes" in str(err)
        return
    assert minutes is None or (0 <= minutes <= 10_000 and minutes == minutes)
