"""Automation candidates: honest freed-hours estimate, 0-100 potential, ranking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.reports.candidates import (
    Candidate,
    CandidateError,
    estimate_freed_hours,
    potential_score,
    rank_candidates,
    score_candidate,
)


def candidate(name: str = "invoices", **overrides: object) -> Candidate:
    values: dict[str, object] = {
        "volume_per_month": Decimal(1000),
        "minutes_per_item": Decimal(6),
        "rule_based_share": Decimal("0.8"),
        "target_stability": "high",
        "digital_input": True,
    }
    values.update(overrides)
    return Candidate(name, **values)  # type: ignore[arg-type]


def test_known_answer() -> None:
    # Freed: 1000 items x 12 months x 6 min / 60 x 0.8 = 960 hours a year.
    # Score: rule 40 x 0.8 = 32; workload 100 h/month -> 25 x log10(101)/log10(161)
    #   = 25 x 2.00432 / 2.20683 = 22.706; stability high 20; digital 15.
    #   32 + 22.706 + 20 + 15 = 89.706 -> 90.
    scored = score_candidate(candidate())
    assert scored.freed_hours_per_year == 960
    assert scored.score == 90
    assert scored.components["rule_based_share"] == 32
    assert abs(scored.components["volume"] - Decimal("22.706")) < Decimal("0.001")


def test_freed_estimate_ignores_stability_and_input() -> None:
    worse = candidate(target_stability="low", digital_input=False)
    assert estimate_freed_hours(worse) == estimate_freed_hours(candidate())
    # 32 + 22.706 + 0 + 0 = 54.7 -> 55
    assert potential_score(worse) == 55


def test_bounds() -> None:
    nothing = candidate(
        volume_per_month=0, rule_based_share=0, target_stability="low", digital_input=False
    )
    assert potential_score(nothing) == 0
    assert estimate_freed_hours(nothing) == 0
    best = candidate(volume_per_month=100_000, rule_based_share=1)
    assert potential_score(best) == 100


def test_ranking_by_score_then_hours_then_name() -> None:
    a = candidate("a-small", volume_per_month=50)
    b = candidate("b-big")
    c = candidate("c-big")  # same score and hours as b: name decides
    d = candidate("d-paper", digital_input=False)
    # b, c: 90 (above). a: 50 x 6 / 60 = 5 h/month -> 25 x log10(6)/log10(161) = 8.81,
    #   32 + 8.81 + 20 + 15 = 75.8 -> 76. d: 32 + 22.71 + 20 + 0 = 74.7 -> 75.
    ranked = rank_candidates([a, d, c, b])
    assert [s.candidate.name for s in ranked] == ["b-big", "c-big", "a-small", "d-paper"]
    assert [s.score for s in ranked] == [90, 90, 76, 75]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rule_based_share": Decimal("1.2")}, "share 0..1"),
        ({"rule_based_share": -0.1}, ">= 0"),
        ({"volume_per_month": float("inf")}, "finite"),
        ({"target_stability": "shaky"}, "low, medium or high"),
        ({"digital_input": "yes"}, "true or false"),
    ],
)
def test_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(CandidateError, match=message):
        candidate(**overrides)


@given(
    volume=st.integers(0, 10**6),
    minutes=st.decimals(min_value=0, max_value=600, places=1, allow_nan=False),
    share=st.decimals(min_value=0, max_value=1, places=2, allow_nan=False),
    stability=st.sampled_from(["low", "medium", "high"]),
    digital=st.booleans(),
)
def test_score_is_0_to_100_and_monotone_in_share(
    volume: int, minutes: Decimal, share: Decimal, stability: str, digital: bool
) -> None:
    c = candidate(
        volume_per_month=volume,
        minutes_per_item=minutes,
        rule_based_share=share,
        target_stability=stability,
        digital_input=digital,
    )
    score = potential_score(c)
    assert 0 <= score <= 100
    more = candidate(
        volume_per_month=volume,
        minutes_per_item=minutes,
        rule_based_share=1,
        target_stability=stability,
        digital_input=digital,
    )
    assert potential_score(more) >= score
    assert estimate_freed_hours(c) == Decimal(volume) * 12 * minutes / 60 * share
