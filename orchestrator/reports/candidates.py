"""Scoring processes that might be automated next.

Two separate answers, on purpose:

* ``freed_hours_per_year`` - an honest estimate of the hours a robot could
  take over: ``volume_per_month * 12 * minutes_per_item / 60 * rule_based_share``.
  Stability and digital input are *not* folded into it: they change the risk
  and the cost of building the robot, not the amount of work there is.
* ``score`` - a 0-100 *potential* for ranking, combining four things:

  ====================  ======  ================================================
  component             points  how
  ====================  ======  ================================================
  rule-based share      40      linear: ``40 * rule_based_share``
  volume (workload)     25      ``25 * min(1, log10(1 + h) / log10(1 + 160))``
                                where ``h`` = workload hours per month
                                (volume x minutes / 60); 160 h = one person full
                                time reaches full points, log scale so that going
                                from 2 to 20 hours counts as much as 20 to 160.
  target stability      20      high 20, medium 10, low 0 (a screen that changes
                                often breaks the robot)
  digital input         15      15 if the input arrives digitally, else 0 (paper
                                needs scanning/OCR first)
  ====================  ======  ================================================

  Workload hours, not item count, measure volume: 10 000 items of ten seconds are
  less work than 500 items of thirty minutes. The score is rounded half up to an
  integer; the components are kept unrounded for the method text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from orchestrator.reports.periods import ReportError

Stability = Literal["low", "medium", "high"]
STABILITY_POINTS: dict[str, Decimal] = {
    "low": Decimal(0),
    "medium": Decimal(10),
    "high": Decimal(20),
}
RULE_POINTS = Decimal(40)
VOLUME_POINTS = Decimal(25)
DIGITAL_POINTS = Decimal(15)
FULL_VOLUME_HOURS_PER_MONTH = 160


class CandidateError(ReportError, ValueError):
    """A candidate with figures outside their range."""


def _number(value: Decimal | int | float, name: str) -> Decimal:
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise CandidateError(f"{name} must be a finite number >= 0, not {value!r}")
    return number


@dataclass(frozen=True)
class Candidate:
    """A process someone proposes to automate, as estimated with its owner."""

    name: str
    volume_per_month: Decimal
    minutes_per_item: Decimal
    rule_based_share: Decimal
    target_stability: Stability
    digital_input: bool

    def __post_init__(self) -> None:
        for name in ("volume_per_month", "minutes_per_item", "rule_based_share"):
            object.__setattr__(self, name, _number(getattr(self, name), f"{self.name}: {name}"))
        if self.rule_based_share > 1:
            raise CandidateError(
                f"{self.name}: rule_based_share is a share 0..1, not {self.rule_based_share}"
            )
        if self.target_stability not in STABILITY_POINTS:
            raise CandidateError(
                f"{self.name}: target_stability must be low, medium or high, "
                f"not {self.target_stability!r}"
            )
        if not isinstance(self.digital_input, bool):
            raise CandidateError(f"{self.name}: digital_input must be true or false")

    @property
    def workload_hours_per_month(self) -> Decimal:
        return self.volume_per_month * self.minutes_per_item / 60


@dataclass(frozen=True)
class CandidateScore:
    """The estimate, the score and the points behind it."""

    candidate: Candidate
    freed_hours_per_year: Decimal
    score: int
    components: dict[str, Decimal] = field(default_factory=dict)


def estimate_freed_hours(candidate: Candidate) -> Decimal:
    """Hours per year a robot could take over: volume x 12 x minutes / 60 x rule share."""
    return candidate.workload_hours_per_month * 12 * candidate.rule_based_share


def _components(candidate: Candidate) -> dict[str, Decimal]:
    hours = float(candidate.workload_hours_per_month)
    volume = min(1.0, math.log10(1 + hours) / math.log10(1 + FULL_VOLUME_HOURS_PER_MONTH))
    return {
        "rule_based_share": RULE_POINTS * candidate.rule_based_share,
        "volume": VOLUME_POINTS * Decimal(str(round(volume, 6))),
        "target_stability": STABILITY_POINTS[candidate.target_stability],
        "digital_input": DIGITAL_POINTS if candidate.digital_input else Decimal(0),
    }


def potential_score(candidate: Candidate) -> int:
    """0-100 potential; see the module docstring for the weights."""
    total = sum(_components(candidate).values(), Decimal(0))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def score_candidate(candidate: Candidate) -> CandidateScore:
    """Estimate and score one candidate."""
    return CandidateScore(
        candidate,
        estimate_freed_hours(candidate),
        potential_score(candidate),
        _components(candidate),
    )


def rank_candidates(candidates: Iterable[Candidate]) -> list[CandidateScore]:
    """Best first: by score, then freed hours, then name (so the order is stable)."""
    scored = [score_candidate(c) for c in candidates]
    return sorted(scored, key=lambda s: (-s.score, -s.freed_hours_per_year, s.candidate.name))
