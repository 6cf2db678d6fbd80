"""Period parsing: local-midnight boundaries (DST-correct), ISO weeks, ranges, errors."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.reports.periods import Period, PeriodError, ReportError, parse_period

OSLO = ZoneInfo("Europe/Oslo")


def hours(period: Period) -> float:
    return (period.end.timestamp() - period.start.timestamp()) / 3600


def test_year_is_local_midnight_to_local_midnight() -> None:
    p = parse_period("2026")
    assert p.label == "2026"
    assert p.start == datetime(2026, 1, 1, tzinfo=OSLO)
    assert p.end == datetime(2027, 1, 1, tzinfo=OSLO)
    assert p.start.utcoffset() == timedelta(hours=1)  # CET in winter
    assert p.days == 365


def test_to_epoch_is_utc_seconds() -> None:
    # 2026-01-01T00:00Z is 1 767 225 600 (20 454 days x 86 400 s); Oslo midnight
    # is one hour earlier in UTC: 1 767 222 000.
    start, end = parse_period("2026").to_epoch()
    assert start == 1_767_222_000.0
    assert end - start == 365 * 86_400  # both ends in CET, so no DST hour in between


def test_march_has_the_spring_forward_hour_missing() -> None:
    # DST starts 2026-03-29 02:00 -> 03:00 in Oslo: March is 31 days but 743 hours.
    p = parse_period("2026-03")
    assert p.start.isoformat() == "2026-03-01T00:00:00+01:00"
    assert p.end.isoformat() == "2026-04-01T00:00:00+02:00"
    assert hours(p) == 31 * 24 - 1
    assert p.days == 31  # calendar days, which pro-rating and FTE use


def test_october_has_the_fall_back_hour_extra() -> None:
    # DST ends 2026-10-25 03:00 -> 02:00: October is 745 hours.
    p = parse_period("2026-10")
    assert p.start.isoformat() == "2026-10-01T00:00:00+02:00"
    assert p.end.isoformat() == "2026-11-01T00:00:00+01:00"
    assert hours(p) == 31 * 24 + 1
    assert p.days == 31


@pytest.mark.parametrize(
    ("text", "first", "end", "label", "days"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1), "2026-Q1", 90),
        ("2026-q3", date(2026, 7, 1), date(2026, 10, 1), "2026-Q3", 92),
        ("2026-H1", date(2026, 1, 1), date(2026, 7, 1), "2026-H1", 181),
        ("2026-H2", date(2026, 7, 1), date(2027, 1, 1), "2026-H2", 184),
        ("2024-02", date(2024, 2, 1), date(2024, 3, 1), "2024-02", 29),  # leap year
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "2026-12", 31),
        ("2026-10-05", date(2026, 10, 5), date(2026, 10, 6), "2026-10-05", 1),
        (
            " 2026-10-01..2026-12-31 ",
            date(2026, 10, 1),
            date(2027, 1, 1),
            "2026-10-01..2026-12-31",
            92,
        ),
        (
            "2026-10-01 .. 2026-10-01",
            date(2026, 10, 1),
            date(2026, 10, 2),
            "2026-10-01..2026-10-01",
            1,
        ),
    ],
)
def test_absolute_forms(text: str, first: date, end: date, label: str, days: int) -> None:
    p = parse_period(text)
    assert (p.start, p.end) == (
        datetime.combine(first, datetime.min.time(), OSLO),
        datetime.combine(end, datetime.min.time(), OSLO),
    )
    assert p.label == label
    assert p.days == days


def test_iso_weeks() -> None:
    # 1 January 2026 is a Thursday, so ISO week 1 starts Monday 29 December 2025.
    w1 = parse_period("2026-W01")
    assert w1.start == datetime(2025, 12, 29, tzinfo=OSLO)
    assert w1.end == datetime(2026, 1, 5, tzinfo=OSLO)
    assert w1.label == "2026-W01"
    # 2026 has 53 ISO weeks (it starts on a Thursday); 2025 does not.
    assert parse_period("2026-w53").start == datetime(2026, 12, 28, tzinfo=OSLO)
    with pytest.raises(PeriodError, match="2025 has no ISO week 53"):
        parse_period("2025-W53")
    # The week with the autumn DST change is 7 days but 169 hours.
    dst_week = parse_period("2026-W43")  # Monday 19 October .. Monday 26 October
    assert dst_week.start == datetime(2026, 10, 19, tzinfo=OSLO)
    assert hours(dst_week) == 7 * 24 + 1
    assert dst_week.days == 7


def test_relative_forms_resolve_to_canonical_labels() -> None:
    today = date(2026, 1, 15)
    assert parse_period("last-month", today=today).label == "2025-12"
    assert parse_period("this-month", today=today).label == "2026-01"
    assert parse_period("this-year", today=today).label == "2026"
    assert parse_period("last-year", today=today).label == "2025"
    assert parse_period("this-quarter", today=today).label == "2026-Q1"
    assert parse_period("last-quarter", today=today).label == "2025-Q4"
    assert parse_period("LAST-MONTH", today=date(2026, 3, 31)).label == "2026-02"


def test_other_time_zone() -> None:
    p = parse_period("2026-07", tz=ZoneInfo("UTC"))
    assert p.start == datetime(2026, 7, 1, tzinfo=UTC)
    assert p.to_epoch()[0] == datetime(2026, 7, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "2026-13",
        "2026-00",
        "2026-Q5",
        "2026-H3",
        "26",
        "2026/10",
        "next-month",
        "2026-02-30",
        "2026-12-31..2026-01-01",
        "2026-W00",
        "Q3-2026",
        "0000",
    ],
)
def test_bad_input_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text)
    message = str(caught.value)
    assert repr(text) in message
    for form in ("2026-Q3", "2026-W05", "2026-10-01..2026-12-31", "last-month", "this-year"):
        assert form in message
    assert isinstance(caught.value, ReportError)
    assert isinstance(caught.value, ValueError)


def test_range_ending_before_start_says_so() -> None:
    with pytest.raises(PeriodError, match="ends"):
        parse_period("2026-12-31..2026-01-01")


def test_period_requires_aware_ordered_bounds() -> None:
    with pytest.raises(PeriodError, match="time zone"):
        Period(datetime(2026, 1, 1), datetime(2026, 2, 1), "naive")
    start = datetime(2026, 1, 1, tzinfo=OSLO)
    with pytest.raises(PeriodError, match="not before"):
        Period(start, start, "empty")


def test_months_of_a_quarter_and_of_a_straddling_week() -> None:
    assert [m.label for m in parse_period("2026-Q2").months()] == ["2026-04", "2026-05", "2026-06"]
    # 2026-W05 is Monday 26 January .. Sunday 1 February: two clipped pieces.
    pieces = parse_period("2026-W05").months()
    assert [(m.label, m.days) for m in pieces] == [("2026-01", 6), ("2026-02", 1)]
    assert pieces[0].start == datetime(2026, 1, 26, tzinfo=OSLO)
    assert pieces[-1].end == datetime(2026, 2, 2, tzinfo=OSLO)


def test_intersection() -> None:
    year, q3 = parse_period("2026"), parse_period("2026-Q3")
    assert year.intersection(q3) == q3
    straddle = parse_period("2025-12-01..2026-01-31")
    overlap = year.intersection(straddle)
    assert overlap is not None
    assert overlap.days == 31
    assert parse_period("2025").intersection(q3) is None


def test_days_is_fractional_only_off_midnight() -> None:
    start = datetime(2026, 1, 1, tzinfo=OSLO)
    assert Period(start, start + timedelta(hours=36), "x").days == Fraction(3, 2)


@given(
    year=st.integers(min_value=1971, max_value=2100),
    form=st.sampled_from(["{y}", "{y}-Q{q}", "{y}-H{h}", "{y}-{m:02d}", "{y}-W{w:02d}"]),
    q=st.integers(1, 4),
    h=st.integers(1, 2),
    m=st.integers(1, 12),
    w=st.integers(1, 52),
)
def test_months_tile_the_period_and_labels_round_trip(
    year: int, form: str, q: int, h: int, m: int, w: int
) -> None:
    period = parse_period(form.format(y=year, q=q, h=h, m=m, w=w))
    assert parse_period(period.label) == period
    months = period.months()
    assert months[0].start == period.start
    assert months[-1].end == period.end
    for before, after in itertools.pairwise(months):
        assert before.end == after.start
        assert after.start.astimezone(OSLO).day == 1
        assert after.start.astimezone(OSLO).hour == 0
    assert sum((piece.days for piece in months), Fraction(0)) == period.days
