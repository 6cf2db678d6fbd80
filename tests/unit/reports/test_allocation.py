"""Cost allocation: exact largest-remainder splits, drivers, fallbacks, rollups."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.reports.allocation import (
    AllocationError,
    AllocationResult,
    CostLine,
    allocate,
    largest_remainder,
)
from orchestrator.reports.allocation import ProcessUsage as ReExported
from orchestrator.reports.hours import ProcessUsage, UsageFiguresError
from orchestrator.reports.periods import ReportError

# ---------------------------------------------------------------- largest_remainder


def test_three_equal_weights_tie_goes_to_the_first_key_in_sorted_order() -> None:
    # 100 / 3 = 33 1/3 each: floors 33 + 33 + 33 = 99, one øre left, all three
    # remainders are 1/3, so the tie goes to the smallest key, "a".
    assert largest_remainder(100, {"c": 1, "b": 1, "a": 1}) == {"a": 34, "b": 33, "c": 33}
    assert largest_remainder(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}


def test_leftover_goes_to_the_largest_remainder() -> None:
    # 7 over 1:2 -> 2 1/3 and 4 2/3; floors 2 + 4 = 6; the øre goes to b (2/3 > 1/3).
    assert largest_remainder(7, {"a": 1, "b": 2}) == {"a": 2, "b": 5}
    # 1000 over 2:3:5 splits exactly.
    assert largest_remainder(1000, {"x": 2, "y": 3, "z": 5}) == {"x": 200, "y": 300, "z": 500}
    # Decimal weights are exact: 10 over 0.5/0.3/0.2 = 5/3/2.
    weights = {"p": Decimal("0.5"), "q": Decimal("0.3"), "r": Decimal("0.2")}
    assert largest_remainder(10, weights) == {"p": 5, "q": 3, "r": 2}


def test_zero_weight_gets_nothing_and_zero_total_never_fails() -> None:
    assert largest_remainder(5, {"a": 0, "b": 3}) == {"a": 0, "b": 5}
    assert largest_remainder(0, {"a": 0, "b": 0}) == {"a": 0, "b": 0}
    assert largest_remainder(0, {}) == {}


def test_all_zero_weights_raise_unless_equal_fallback() -> None:
    with pytest.raises(AllocationError, match="all weights are zero"):
        largest_remainder(10, {"a": 0, "b": 0})
    # equal fallback: 10 / 3 = 3 1/3 each; the extra øre goes to "a" (sorted key).
    assert largest_remainder(10, {"b": 0, "a": 0, "c": 0}, fallback="equal") == {
        "a": 4,
        "b": 3,
        "c": 3,
    }


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (10, {"a": -1, "b": 2}, "negative"),
        (10, {"a": float("nan")}, "finite"),
        (10, {"a": Decimal("Infinity")}, "finite"),
        (-1, {"a": 1}, "negative"),
        (10, {}, "nobody"),
        (1.5, {"a": 1}, "integer"),
    ],
)
def test_bad_splits(total: object, weights: dict[str, object], message: str) -> None:
    with pytest.raises(AllocationError, match=message) as caught:
        largest_remainder(total, weights)  # type: ignore[arg-type]
    assert isinstance(caught.value, ReportError)


weights_strategy = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4),
    st.one_of(
        st.integers(0, 10**9),
        st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
).filter(lambda w: any(v > 0 for v in w.values()))


@given(total=st.integers(0, 10**12), weights=weights_strategy, seed=st.integers(0, 2**16))
def test_largest_remainder_properties(
    total: int, weights: dict[str, int | Decimal | float], seed: int
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts.values()) == total
    assert all(part >= 0 for part in parts.values())
    weight_sum = sum(Fraction(w) for w in weights.values())
    for key, part in parts.items():
        exact = total * Fraction(weights[key]) / weight_sum
        assert abs(part - exact) < 1  # proportional within one øre
        if weights[key] == 0:
            assert part == 0
    shuffled = list(weights.items())
    random.Random(seed).shuffle(shuffled)
    assert largest_remainder(total, dict(shuffled)) == parts  # input order never matters


# ------------------------------------------------------------------------ allocate


def usage() -> list[ProcessUsage]:
    return [
        ProcessUsage(
            "invoice-approval", "Finance", "1200", 1000, 50, Decimal(30000), Decimal(6000)
        ),
        ProcessUsage(
            "applicant-registration", "HR", "1400", 500, 10, Decimal(10000), Decimal(2000)
        ),
        ProcessUsage("idle-bot", "HR", "1400", 0, 0, Decimal(0), Decimal(0)),
    ]


LINES = [
    CostLine("Licence", 100_000_000, "robot_minutes"),
    CostLine("Operations", 30_000_001, "equal"),
    CostLine("Extra", 5_000_000, "direct", "invoice-approval"),
]


def test_known_answer() -> None:
    # Licence 1 000 000,00 by robot time 30 000 s : 10 000 s -> 75 000 000 / 25 000 000 øre.
    # Operations 300 000,01 equally over the 2 active processes (idle-bot did nothing):
    #   15 000 000.5 each; the odd øre goes to "applicant-registration" (sorted first).
    # Extra 50 000,00 directly to invoice-approval.
    # invoice-approval: 75 000 000 + 15 000 000 + 5 000 000 = 95 000 000
    # applicant-registration: 25 000 000 + 15 000 001 = 40 000 001; idle-bot: 0.
    # Value at 650,00/h: 8000 min = 133 1/3 h -> 8 666 666.67 øre -> 8 666 667 (half even);
    #   split 6000:2000 -> 6 500 000.25 / 2 166 666.75 -> the øre goes to applicant (0.75).
    result = allocate(LINES, usage(), hourly_rate_ore=65_000)
    rows = {row.key: row for row in result.by("process")}
    invoice, applicant, idle = (
        rows["invoice-approval"],
        rows["applicant-registration"],
        rows["idle-bot"],
    )
    assert invoice.cost_by_line == {
        "Licence": 75_000_000,
        "Operations": 15_000_000,
        "Extra": 5_000_000,
    }
    assert invoice.cost_ore == 95_000_000
    assert applicant.cost_by_line == {"Licence": 25_000_000, "Operations": 15_000_001, "Extra": 0}
    assert applicant.cost_ore == 40_000_001
    assert idle.cost_ore == 0
    assert (invoice.value_ore, applicant.value_ore, idle.value_ore) == (6_500_000, 2_166_667, 0)
    # 95 000 000 øre / 100 h = 950 000 øre per hour;
    # 40 000 001 / 33 1/3 h = 1 200 000.03 -> 1 200 000.
    assert invoice.cost_per_freed_hour_ore == 950_000
    assert applicant.cost_per_freed_hour_ore == 1_200_000
    assert idle.cost_per_freed_hour_ore is None
    assert invoice.net_benefit_ore == 6_500_000 - 95_000_000
    assert invoice.freed_hours == 100
    assert applicant.robot_hours * 3600 == 10000
    assert result.total_cost_ore == result.allocated_ore == 135_000_001
    assert result.unallocated_ore == 0
    assert [o.basis for o in result.lines] == ["robot_minutes", "equal", "direct"]


def test_rollups_by_owner_and_cost_centre_sum_exactly() -> None:
    result = allocate(LINES, usage(), hourly_rate_ore=65_000)
    by_owner = {row.key: row for row in result.by("owner")}
    assert list(by_owner) == ["Finance", "HR"]
    assert by_owner["HR"].processes == ("applicant-registration", "idle-bot")
    assert by_owner["HR"].cost_ore == 40_000_001
    assert by_owner["HR"].value_ore == 2_166_667
    assert by_owner["HR"].cost_centre == "1400"
    assert by_owner["HR"].cost_by_line["Operations"] == 15_000_001
    by_centre = result.by("cost-centre")
    assert [row.key for row in by_centre] == ["1200", "1400"]
    assert result.by("cost_centre") == by_centre
    for rows in (result.by("process"), by_owner.values(), by_centre):
        assert sum(row.cost_ore for row in rows) == result.total_cost_ore
    total = result.total()
    assert total.cost_ore == 135_000_001
    assert total.value_ore == 8_666_667
    assert total.cost_by_line == {
        "Licence": 100_000_000,
        "Operations": 30_000_001,
        "Extra": 5_000_000,
    }
    # the rollup's cost per hour comes from the sums, not from averaging ratios
    assert total.cost_per_freed_hour_ore == round(Fraction(135_000_001 * 60, 8000))
    with pytest.raises(AllocationError, match="cannot group"):
        result.by("colour")  # type: ignore[arg-type]


def test_zero_driver_falls_back_to_equal_among_active() -> None:
    # Items were done but the SQL saw no robot seconds: the licence is split equally.
    rows = [
        ProcessUsage("a", "O", "1", 3, 0, Decimal(0), Decimal(10)),
        ProcessUsage("b", "O", "1", 1, 0, Decimal(0), Decimal(10)),
        ProcessUsage("c", "O", "1", 0, 0, Decimal(0), Decimal(0)),
    ]
    result = allocate([CostLine("Licence", 101, "robot_minutes")], rows)
    assert result.lines[0].basis == "equal-fallback"
    assert dict(result.lines[0].shares) == {"a": 51, "b": 50}  # 50.5 each, "a" first
    assert "totals zero" in result.method()
    # by items done instead: 3:1 of 101 = 75.75 / 25.25 -> 76 / 25
    by_items = allocate([CostLine("Licence", 101, "items_done")], rows)
    assert dict(by_items.lines[0].shares) == {"a": 76, "b": 25, "c": 0}


def test_nothing_active_leaves_the_cost_unallocated_but_reconciled() -> None:
    idle = [ProcessUsage("a", "O", "1", 0, 0, Decimal(0), Decimal(0))]
    lines = [
        CostLine("Licence", 1000, "robot_minutes"),
        CostLine("Ops", 500, "equal"),
        CostLine("Direct", 70, "direct", "a"),
    ]
    result = allocate(lines, idle)
    assert [o.basis for o in result.lines] == ["unallocated", "unallocated", "direct"]
    assert result.unallocated_ore == 1500
    assert result.allocated_ore == 70
    assert result.allocated_ore + result.unallocated_ore == result.total_cost_ore == 1570
    unallocated = result.unallocated_row()
    assert unallocated is not None
    assert unallocated.key == "(unallocated)"
    assert unallocated.cost_by_line == {"Licence": 1000, "Ops": 500, "Direct": 0}
    assert result.total().cost_ore == 1570
    assert allocate([], idle).unallocated_row() is None


def test_direct_line_to_unknown_process_names_line_and_known_processes() -> None:
    line = CostLine("OCR licence", 100, "direct", "invoice-approvals")
    with pytest.raises(AllocationError) as caught:
        allocate([line], usage())
    message = str(caught.value)
    assert "'OCR licence'" in message
    assert "'invoice-approvals'" in message
    assert "applicant-registration, idle-bot, invoice-approval" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x", "amount_ore": -1, "driver": "equal"}, "< 0"),
        ({"name": "x", "amount_ore": 1, "driver": "weight"}, "unknown driver"),
        ({"name": "x", "amount_ore": 1, "driver": "direct"}, "exactly when"),
        ({"name": "x", "amount_ore": 1, "driver": "equal", "process": "a"}, "exactly when"),
        ({"name": "x", "amount_ore": 1.5, "driver": "equal"}, "int of øre"),
    ],
)
def test_cost_line_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        CostLine(**kwargs)  # type: ignore[arg-type]


def test_input_validation() -> None:
    assert ReExported is ProcessUsage
    with pytest.raises(UsageFiguresError, match="counts"):
        ProcessUsage("a", "O", "1", -1, 0, Decimal(0), Decimal(0))
    with pytest.raises(UsageFiguresError, match="freed_minutes"):
        ProcessUsage("a", "O", "1", 0, 0, Decimal(0), Decimal(-1))
    assert ProcessUsage("a", "O", "1", 0, 0, 1.5, 2).robot_seconds == Decimal("1.5")  # type: ignore[arg-type]
    twice = [usage()[0], usage()[0]]
    with pytest.raises(AllocationError, match="twice"):
        allocate([], twice)
    with pytest.raises(AllocationError, match="unique"):
        allocate([CostLine("x", 1, "equal"), CostLine("x", 2, "equal")], usage())
    with pytest.raises(AllocationError, match="hourly rate"):
        allocate([], usage(), hourly_rate_ore=-1)


names = st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
usage_strategy = st.lists(
    st.builds(
        ProcessUsage,
        process=names,
        owner=st.sampled_from(["Finance", "HR", "School"]),
        cost_centre=st.sampled_from(["1200", "1400"]),
        items_done=st.integers(0, 5000),
        business_exceptions=st.integers(0, 100),
        robot_seconds=st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False),
        freed_minutes=st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
    ),
    max_size=6,
    unique_by=lambda u: u.process,
)
lines_strategy = st.lists(
    st.tuples(
        st.integers(0, 10**10), st.sampled_from(["robot_minutes", "items_done", "equal", "direct"])
    ),
    max_size=5,
)


@settings(max_examples=150)
@given(
    rows=usage_strategy,
    raw_lines=lines_strategy,
    rate=st.integers(0, 200_000),
    seed=st.integers(0, 999),
)
def test_allocate_properties(
    rows: list[ProcessUsage], raw_lines: list[tuple[int, str]], rate: int, seed: int
) -> None:
    lines = []
    for index, (amount, driver) in enumerate(raw_lines):
        if driver == "direct":
            if not rows:
                continue
            lines.append(
                CostLine(f"line {index}", amount, "direct", rows[index % len(rows)].process)
            )
        else:
            lines.append(CostLine(f"line {index}", amount, driver))  # type: ignore[arg-type]
    result = allocate(lines, rows, hourly_rate_ore=rate)
    total = sum(line.amount_ore for line in lines)
    assert result.allocated_ore + result.unallocated_ore == total
    assert result.total().cost_ore == total
    for outcome in result.lines:
        assert sum(outcome.shares.values()) + outcome.unallocated_ore == outcome.line.amount_ore
        assert all(share >= 0 for share in outcome.shares.values())
    for key in ("process", "owner", "cost_centre"):
        grouped = result.by(key)  # type: ignore[arg-type]
        assert sum(row.cost_ore for row in grouped) == result.allocated_ore
        assert sum(row.value_ore for row in grouped) == result.total().value_ore
    # value of freed hours: the total is the correctly rounded product
    minutes = sum((Fraction(r.freed_minutes) for r in rows), Fraction(0))
    assert result.total().value_ore == round(minutes * rate / 60)
    # neither row order nor line order changes any process's figures
    shuffled_rows, shuffled_lines = rows[:], lines[:]
    random.Random(seed).shuffle(shuffled_rows)
    random.Random(seed + 1).shuffle(shuffled_lines)
    again = allocate(shuffled_lines, shuffled_rows, hourly_rate_ore=rate)
    assert _by_process(again) == _by_process(result)


def _by_process(result: AllocationResult) -> dict[str, tuple[dict[str, int], int, int]]:
    return {row.key: (dict(row.cost_by_line), row.cost_ore, row.value_ore) for row in result.rows}
