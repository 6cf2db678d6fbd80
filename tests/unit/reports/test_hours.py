"""Freed-hours rollup: grouping, FTE pro-rated to the period, totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.reports.hours import ProcessUsage, UsageFiguresError, hours_rollup
from orchestrator.reports.periods import parse_period

ROWS = [
    ("invoice-approval", "Finance", "1200", 1000, 50, Decimal(6000)),
    ("applicant-registration", "HR", "1400", 500, 10, Decimal(2000)),
    ("idle-bot", "HR", "1400", 0, 0, Decimal(0)),
]
Q3 = parse_period("2026-Q3")  # 92 days


def q(value: Decimal, places: str = "0.0001") -> Decimal:
    return value.quantize(Decimal(places))


def test_known_answer_by_owner() -> None:
    # Finance: 6000 min = 100 h. One FTE in 92 days = 1695 x 92 / 365.2425 = 426.95 h,
    #   so FTE = 100 x 365.2425 / (1695 x 92) = 36 524.25 / 155 940 = 0.23422;
    #   FTE-years = 100 / 1695 = 0.05900.
    # HR: 2000 min = 33.333 h -> FTE 0.07807, FTE-years 0.01967.
    report = hours_rollup(ROWS, "owner", Q3)
    finance, hr = report.rows
    assert (finance.key, hr.key) == ("Finance", "HR")
    assert finance.freed_hours == 100
    assert q(finance.fte) == Decimal("0.2342")
    assert q(finance.fte_years) == Decimal("0.0590")
    assert q(hr.freed_hours) == Decimal("33.3333")
    assert q(hr.fte) == Decimal("0.0781")
    assert hr.processes == ("applicant-registration", "idle-bot")
    assert (hr.items_done, hr.business_exceptions) == (500, 10)
    total = report.total
    assert total.key == "Total"
    assert total.freed_minutes == 8000
    assert q(total.freed_hours) == Decimal("133.3333")
    assert q(total.fte) == q(finance.fte + hr.fte)
    assert total.items_done == 1500


def test_group_by_process_and_cost_centre() -> None:
    by_process = hours_rollup(ROWS, "process", Q3)
    # largest first, ties by key
    assert [r.key for r in by_process.rows] == [
        "invoice-approval",
        "applicant-registration",
        "idle-bot",
    ]
    by_centre = hours_rollup(ROWS, "cost-centre", Q3)
    assert [r.key for r in by_centre.rows] == ["1200", "1400"]
    assert hours_rollup(ROWS, "cost_centre", Q3).rows == by_centre.rows


def test_a_full_year_of_fte_hours() -> None:
    # 1695 h in 2026 (365 days): FTE-years is exactly 1; FTE for the period is
    # 365.2425 / 365 = 1.00066, because the norm is per average Gregorian year.
    report = hours_rollup(
        [("p", "o", "c", 1, 0, Decimal(1695 * 60))], "process", parse_period("2026")
    )
    assert report.total.fte_years == 1
    assert q(report.total.fte, "0.00001") == Decimal("1.00066")


def test_usage_rows_and_custom_fte_norm() -> None:
    usage = [ProcessUsage("p", "o", "c", 10, 0, Decimal(99), Decimal(1500))]
    report = hours_rollup(usage, "owner", parse_period("2026-W05"), fte_hours_per_year=1500)
    # 25 h in a 7-day week with a 1500 h norm: 25 x 365.2425 / (1500 x 7)
    #   = 9131.0625 / 10500 = 0.869625 exactly
    assert report.total.fte == Decimal("0.869625")
    assert report.total.fte_years == Decimal(25) / 1500
    assert "1500" in report.method()
    assert "2026-W05" in report.method()


def test_other_row_shapes_are_validated_and_exact() -> None:
    @dataclass
    class SqlRow:  # what an ORM might hand over: attributes, float minutes
        process: str = "p"
        owner: str = "o"
        cost_centre: str = "c"
        items_done: int = 3
        business_exceptions: int = 0
        freed_minutes: float = 0.1

    report = hours_rollup([SqlRow(), ("q", "o", "c", 1, 0, 0.2)], "owner", Q3)  # type: ignore[list-item]
    assert report.total.freed_minutes == Decimal(
        "0.3"
    )  # 0.1 + 0.2 exactly, not 0.30000000000000004
    with pytest.raises(UsageFiguresError, match="counts"):
        hours_rollup([SqlRow(items_done=-1)], "owner", Q3)  # type: ignore[list-item]


def test_empty_input_gives_a_zero_total() -> None:
    report = hours_rollup([], "owner", Q3)
    assert report.rows == ()
    assert report.total.freed_hours == 0
    assert report.total.fte == 0


def test_bad_input() -> None:
    with pytest.raises(UsageFiguresError, match="group"):
        hours_rollup(ROWS, "colour", Q3)  # type: ignore[arg-type]
    with pytest.raises(UsageFiguresError, match="fte_hours_per_year"):
        hours_rollup(ROWS, "owner", Q3, fte_hours_per_year=0)
    with pytest.raises(UsageFiguresError, match="6 fields"):
        hours_rollup([("a", "b")], "owner", Q3)  # type: ignore[list-item]
    with pytest.raises(UsageFiguresError, match=">= 0"):
        hours_rollup([("a", "b", "c", 1, 0, Decimal(-1))], "owner", Q3)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3", "p4"]),
            st.sampled_from(["Finance", "HR"]),
            st.sampled_from(["1200", "1400"]),
            st.integers(0, 10_000),
            st.integers(0, 100),
            st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
        ),
        max_size=10,
    ),
    st.sampled_from(["process", "owner", "cost-centre"]),
)
def test_groups_add_up_to_the_total(
    rows: list[tuple[str, str, str, int, int, Decimal]], group_by: str
) -> None:
    report = hours_rollup(rows, group_by, Q3)  # type: ignore[arg-type]
    assert sum((r.freed_minutes for r in report.rows), Decimal(0)) == report.total.freed_minutes
    assert sum(r.items_done for r in report.rows) == report.total.items_done
    fte_sum = sum((r.fte for r in report.rows), Decimal(0))
    assert abs(fte_sum - report.total.fte) < Decimal("1e-20")
    hours = [r.freed_hours for r in report.rows]
    assert hours == sorted(hours, reverse=True)
