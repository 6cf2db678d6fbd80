"""Money: exact øre in, Norwegian and plain text out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.reports.money import (
    MoneyError,
    format_nok,
    format_number,
    format_plain,
    ore_to_nok,
    plain_decimal,
    to_ore,
)
from orchestrator.reports.periods import ReportError


@pytest.mark.parametrize(
    ("value", "ore"),
    [
        ("1200000.00", 120_000_000),
        ("1 200 000.50", 120_000_050),
        ("1_200_000", 120_000_000),
        ("1\u00a0200", 120_000),
        (" 650 ", 65_000),
        ("0.5", 50),
        ("1.500", 150),  # extra zeros are still whole øre
        (12, 1_200),
        (Decimal("12.34"), 1_234),
        ("+7.01", 701),
    ],
)
def test_to_ore_accepts_whole_ore(value: str | int | Decimal, ore: int) -> None:
    assert to_ore(value) == ore


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.345", "more than 2 decimals"),
        (Decimal("0.001"), "more than 2 decimals"),
        ("1,5", "use '.'"),
        ("1,200.00", "use '.'"),
        ("12 34", "not an amount"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("-5", "negative"),
        (Decimal("NaN"), "finite"),
        (1.5, "text, an integer or a Decimal"),
        (True, "text, an integer or a Decimal"),
    ],
)
def test_to_ore_refuses(value: object, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason) as caught:
        to_ore(value)  # type: ignore[arg-type]
    assert isinstance(caught.value, ReportError)


def test_negative_only_when_allowed() -> None:
    assert to_ore("-1234.56", allow_negative=True) == -123_456


def test_format_nok() -> None:
    assert format_nok(1_234_567) == "12 345,67"
    assert format_nok(120_000_000) == "1 200 000,00"
    assert format_nok(5) == "0,05"
    assert format_nok(-5) == "-0,05"
    assert format_nok(0) == "0,00"
    assert format_nok(-123_456_789) == "-1 234 567,89"
    assert format_nok(123_456_789, places=0) == "1 234 568"  # half up for display
    assert format_nok(50, places=0) == "1"
    assert format_nok(1_234_567, sep="\u00a0") == "12\u00a0345,67"


def test_format_plain_is_exact_and_ungrouped() -> None:
    assert format_plain(1_234_567) == "12345.67"
    assert format_plain(-5) == "-0.05"
    assert format_plain(0) == "0.00"
    assert format_plain(10**20) == "1000000000000000000.00"


def test_numbers_for_hours() -> None:
    assert format_number(Decimal("1234.5")) == "1 234,50"
    assert format_number(Decimal("0.125")) == "0,13"
    assert format_number(Decimal("-0.001")) == "0,00"  # no "-0,00"
    assert plain_decimal(Decimal(1) / 3, 2) == "0.33"
    assert plain_decimal(Decimal("2E+3"), 1) == "2000.0"
    assert ore_to_nok(-123) == Decimal("-1.23")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_plain_and_display_forms_round_trip(ore: int) -> None:
    assert to_ore(format_plain(ore), allow_negative=True) == ore
    display = format_nok(ore).replace(",", ".")
    assert to_ore(display, allow_negative=True) == ore
    assert ore_to_nok(ore) * 100 == ore
