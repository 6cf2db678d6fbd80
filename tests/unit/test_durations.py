"""Durations and instants as people write them: `parse_duration`, `parse_instant`, `format_age`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.durations import format_age, format_time, parse_duration, parse_instant


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


# -- parse_duration ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10.0), ("2m", 120.0), ("2d", 172_800.0), ("8h", 28_800.0), ("1w", 604_800.0),
    ("1.5h", 5_400.0), ("0.5m", 30.0), ("90", 90.0), (" 15 M ", 900.0), ("2D", 172_800.0),
    ("0s", 0.0),
])
def test_parse_duration_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_bare_number_uses_default_unit() -> None:
    assert parse_duration("90", default_unit="m") == 5_400.0
    assert parse_duration(2, default_unit="h") == 7_200.0
    assert parse_duration(45) == 45.0
    assert parse_duration(1.5) == 1.5
    # an explicit unit wins over the default
    assert parse_duration("30s", default_unit="m") == 30.0


@pytest.mark.parametrize("text", ["soon", "", "-5s", "5x", "1h30m", "s", "1,5h", "two days"])
def test_parse_duration_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration") as err:
        parse_duration(text)
    assert repr(text) in str(err.value)
    assert "90s, 15m, 8h, 2d or 1w" in str(err.value)  # says how to write one


# -- parse_instant -------------------------------------------------------------------------------
def test_naive_date_is_midnight_in_oslo_winter() -> None:
    # CET is UTC+1 in January
    assert parse_instant("2026-01-15") == utc(2026, 1, 14, 23, 0)


def test_naive_date_is_midnight_in_oslo_summer() -> None:
    # CEST is UTC+2 in July
    assert parse_instant("2026-07-01") == utc(2026, 6, 30, 22, 0)


def test_naive_datetime_is_oslo_local_time() -> None:
    assert parse_instant("2026-12-01T14:30") == utc(2026, 12, 1, 13, 30)
    assert parse_instant("2026-07-01T14:30:15") == utc(2026, 7, 1, 12, 30, 15)
    assert parse_instant("2026-12-01 14:30") == utc(2026, 12, 1, 13, 30)
    assert parse_instant("  2026-12-01  ") == parse_instant("2026-12-01")


def test_dst_days_are_23_and_25_hours_long_in_oslo() -> None:
    # Europe/Oslo springs forward on 2026-03-29 and falls back on 2026-10-25.
    assert parse_instant("2026-03-30") - parse_instant("2026-03-29") == 23 * 3600
    assert parse_instant("2026-10-26") - parse_instant("2026-10-25") == 25 * 3600
    assert parse_instant("2026-03-29T03:00") == utc(2026, 3, 29, 1, 0)   # first CEST hour
    assert parse_instant("2026-03-29T01:59") == utc(2026, 3, 29, 0, 59)  # last CET minute


def test_dst_ambiguous_hour_takes_the_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25; without a fold the first (CEST, UTC+2) is meant.
    assert parse_instant("2026-10-25T02:30") == utc(2026, 10, 25, 0, 30)


def test_aware_values_keep_their_offset() -> None:
    assert parse_instant("2026-12-01T12:00:00+00:00") == utc(2026, 12, 1, 12, 0)
    assert parse_instant("2026-12-01T12:00:00Z") == utc(2026, 12, 1, 12, 0)
    assert parse_instant("2026-07-01T12:00:00-05:00") == utc(2026, 7, 1, 17, 0)


def test_naive_values_use_the_given_timezone() -> None:
    assert parse_instant("2026-12-01", tz="UTC") == utc(2026, 12, 1)
    assert parse_instant("2026-12-01T09:00", tz="America/New_York") == utc(2026, 12, 1, 14, 0)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01", "2026-02-30", "01.12.2026", ""])
def test_parse_instant_rejects_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date or time") as err:
        parse_instant(text)
    assert "2026-12-01" in str(err.value)  # gives an example of what works


# -- format_age ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (-5, "0s"), (0, "0s"), (42, "42s"), (59.9, "59s"),
    (60, "1m 00s"), (7 * 60 + 5, "7m 05s"), (3599, "59m 59s"),
    (3600, "1h 00m"), (3 * 3600 + 5 * 60, "3h 05m"), (86_399, "23h 59m"),
    (86_400, "1d 00h"), (2 * 86_400 + 4 * 3600 + 59, "2d 04h"), (400 * 86_400, "400d 00h"),
])
def test_format_age(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_format_age_fits_a_table_cell() -> None:
    for seconds in range(0, 100 * 86_400, 4_321):
        assert len(format_age(seconds)) <= 7


def test_format_time_is_local_to_the_zone() -> None:
    assert format_time(None) == "-"
    assert format_time(utc(2026, 7, 1, 12, 0)) == "2026-07-01 14:00:00"
    assert format_time(utc(2026, 12, 1, 12, 0)) == "2026-12-01 13:00:00"
    assert format_time(utc(2026, 12, 1, 12, 0), "UTC") == "2026-12-01 12:00:00"
    # round trip with parse_instant
    assert format_time(parse_instant("2026-10-25T02:30")) == "2026-10-25 02:30:00"
