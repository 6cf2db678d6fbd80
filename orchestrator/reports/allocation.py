"""Split platform costs over processes, exactly to the øre.

Finance books each process's share on its cost centre, so the shares must add
up to the invoice *exactly*; a report that is 3 øre off gets sent back. All
arithmetic is therefore integer or ``Fraction``; floats only ever appear as
input weights, and those are converted exactly (``Fraction(0.1)`` is the binary
value, not 1/10).

Rules, in the order they apply to a cost line:

* ``direct`` - the whole amount to the named process (active or not).
* ``robot_minutes`` / ``items_done`` - proportional to the driver. Robot time
  counts every attempt, failed ones included, because failed attempts use the
  licence too.
* ``equal`` - equal shares among *active* processes (any item done or any robot
  time in the period); an idle process does not pay for running the platform.
* A proportional line whose driver totals zero falls back to ``equal``; a line
  with no active process to carry it is reported as ``unallocated``, so that
  ``allocated + unallocated == total cost`` always holds.

Rounding is the largest-remainder method: everyone gets the floor of their
exact share, and the leftover øre go one each to the largest fractional parts,
ties broken by key in sorted order - never by input order, so the same data in
a different order gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from orchestrator.i18n import _
from orchestrator.reports.hours import ProcessUsage as ProcessUsage  # re-exported
from orchestrator.reports.money import format_nok
from orchestrator.reports.periods import ReportError

Driver = Literal["robot_minutes", "items_done", "equal", "direct"]
DRIVERS: tuple[Driver, ...] = ("robot_minutes", "items_done", "equal", "direct")
Basis = Literal["robot_minutes", "items_done", "equal", "direct", "equal-fallback", "unallocated"]
RollupKey = Literal["process", "owner", "cost_centre", "cost-centre"]
UNALLOCATED = "(unallocated)"


class AllocationError(ReportError, ValueError):
    """Weights or cost lines that cannot be split as asked."""


def _exact(weight: Decimal | int | float | Fraction, key: str) -> Fraction:
    if isinstance(weight, float) and not math.isfinite(weight):
        raise AllocationError(f"weight for {key!r} is {weight}; weights must be finite")
    if isinstance(weight, Decimal) and not weight.is_finite():
        raise AllocationError(f"weight for {key!r} is {weight}; weights must be finite")
    exact = Fraction(weight)
    if exact < 0:
        raise AllocationError(f"weight for {key!r} is negative ({weight}); weights must be >= 0")
    return exact


def largest_remainder(
    total_ore: int,
    weights: Mapping[str, Decimal | int | float | Fraction],
    *,
    fallback: Literal["error", "equal"] = "error",
) -> dict[str, int]:
    """Split ``total_ore`` over ``weights`` into non-negative ints that sum to it.

    Each part is within 1 øre of its exact proportional share, and a zero weight
    always gets 0. Leftover øre go to the largest fractional parts, ties broken
    by sorted key. All-zero weights raise ``AllocationError`` unless
    ``fallback="equal"`` (then equal shares); a total of 0 never raises. The
    result is keyed in sorted order.
    """
    if isinstance(total_ore, bool) or not isinstance(total_ore, int):
        raise AllocationError(f"the total must be an integer of øre, not {total_ore!r}")
    if total_ore < 0:
        raise AllocationError(f"the total {total_ore} is negative; only costs >= 0 are split")
    exact = {key: _exact(weight, key) for key, weight in weights.items()}
    keys = sorted(exact)
    weight_sum = sum(exact.values(), Fraction(0))
    if weight_sum == 0:
        if total_ore == 0:
            return dict.fromkeys(keys, 0)
        if not keys:
            raise AllocationError(f"cannot split {total_ore} øre over nobody (no weights)")
        if fallback != "equal":
            raise AllocationError(
                f"all weights are zero, so {total_ore} øre cannot be split proportionally "
                "(pass fallback='equal' for equal shares)"
            )
        exact, weight_sum = dict.fromkeys(keys, Fraction(1)), Fraction(len(keys))
    parts: dict[str, int] = {}
    remainders: dict[str, Fraction] = {}
    for key in keys:
        share = total_ore * exact[key] / weight_sum
        parts[key] = share.numerator // share.denominator
        remainders[key] = share - parts[key]
    leftover = total_ore - sum(parts.values())
    for key in sorted(keys, key=lambda k: (-remainders[k], k))[:leftover]:
        parts[key] += 1
    return parts


@dataclass(frozen=True)
class CostLine:
    """One amount to split, e.g. the platform licence for the report period.

    ``note`` explains how the amount was derived (pro-rating) and is repeated in
    the report's method text.
    """

    name: str
    amount_ore: int
    driver: Driver
    process: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise AllocationError(f"cost line {self.name!r}: unknown driver {self.driver!r}")
        if isinstance(self.amount_ore, bool) or not isinstance(self.amount_ore, int):
            raise AllocationError(f"cost line {self.name!r}: amount must be an int of øre")
        if self.amount_ore < 0:
            raise AllocationError(f"cost line {self.name!r}: amount {self.amount_ore} < 0")
        if (self.driver == "direct") != (self.process is not None):
            raise AllocationError(
                f"cost line {self.name!r}: a process is given exactly when the driver is direct"
            )


@dataclass(frozen=True)
class LineOutcome:
    """How one cost line was split; ``shares`` plus ``unallocated_ore`` == amount."""

    line: CostLine
    basis: Basis
    shares: Mapping[str, int]
    unallocated_ore: int = 0

    def explain(self) -> str:
        """One sentence for the method text."""
        amount = f"{self.line.name}: {format_nok(self.line.amount_ore)} NOK"
        n, process, driver = len(self.shares), self.line.process, self.line.driver
        text = {
            "robot_minutes": _("split by robot minutes (all attempts, failed ones included)"),
            "items_done": _("split by items done"),
            "equal": _("split equally among the {n} active processes").format(n=n),
            "direct": _("charged directly to {process}").format(process=process),
            "equal-fallback": _("driver {driver} totals zero in the period, so split equally "
                                "among the {n} active processes instead").format(
                                    driver=driver, n=n),
            "unallocated": _("no process was active in the period, so left unallocated"),
        }[self.basis]
        note = f" ({self.line.note})" if self.line.note else ""
        return f"{amount}{note} {text}."


@dataclass(frozen=True)
class CostRow:
    """Costs and benefits of one process, or of a group of processes."""

    key: str
    owner: str | None
    cost_centre: str | None
    processes: tuple[str, ...]
    items_done: int
    business_exceptions: int
    robot_seconds: Decimal
    freed_minutes: Decimal
    cost_by_line: Mapping[str, int] = field(default_factory=dict)
    cost_ore: int = 0
    value_ore: int = 0

    @property
    def freed_hours(self) -> Decimal:
        return self.freed_minutes / 60

    @property
    def robot_hours(self) -> Decimal:
        return self.robot_seconds / 3600

    @property
    def cost_per_freed_hour_ore(self) -> int | None:
        """Cost per freed hour, half-even to the øre; ``None`` when nothing was freed."""
        if self.freed_minutes == 0:
            return None
        return round(Fraction(self.cost_ore * 60) / Fraction(self.freed_minutes))

    @property
    def net_benefit_ore(self) -> int:
        """Value of the freed hours minus the cost; negative when the robot costs more."""
        return self.value_ore - self.cost_ore


def _merge(key: str, rows: list[CostRow], line_names: list[str]) -> CostRow:
    owners = {row.owner for row in rows}
    centres = {row.cost_centre for row in rows}
    return CostRow(
        key=key,
        owner=owners.pop() if len(owners) == 1 else None,
        cost_centre=centres.pop() if len(centres) == 1 else None,
        processes=tuple(sorted(p for row in rows for p in row.processes)),
        items_done=sum(row.items_done for row in rows),
        business_exceptions=sum(row.business_exceptions for row in rows),
        robot_seconds=sum((row.robot_seconds for row in rows), Decimal(0)),
        freed_minutes=sum((row.freed_minutes for row in rows), Decimal(0)),
        cost_by_line={n: sum(row.cost_by_line.get(n, 0) for row in rows) for n in line_names},
        cost_ore=sum(row.cost_ore for row in rows),
        value_ore=sum(row.value_ore for row in rows),
    )


@dataclass(frozen=True)
class AllocationResult:
    """Per-process costs plus the outcome of every line; rollups sum exactly."""

    lines: tuple[LineOutcome, ...]
    rows: tuple[CostRow, ...]
    hourly_rate_ore: int

    @property
    def line_names(self) -> list[str]:
        return [outcome.line.name for outcome in self.lines]

    @property
    def total_cost_ore(self) -> int:
        return sum(outcome.line.amount_ore for outcome in self.lines)

    @property
    def allocated_ore(self) -> int:
        return sum(row.cost_ore for row in self.rows)

    @property
    def unallocated_ore(self) -> int:
        return sum(outcome.unallocated_ore for outcome in self.lines)

    def by(self, key: RollupKey = "process") -> list[CostRow]:
        """Rows grouped by ``process``, ``owner`` or ``cost_centre``, sorted by key.

        Only allocated cost is in the groups; ``unallocated_row()`` holds the rest.
        """
        attribute = "cost_centre" if key == "cost-centre" else key
        if attribute not in ("process", "owner", "cost_centre"):
            raise AllocationError(f"cannot group by {key!r}; use process, owner or cost_centre")
        if attribute == "process":
            return list(self.rows)
        groups: dict[str, list[CostRow]] = {}
        for row in self.rows:
            groups.setdefault(str(getattr(row, attribute)), []).append(row)
        return [_merge(name, groups[name], self.line_names) for name in sorted(groups)]

    def unallocated_row(self) -> CostRow | None:
        """The cost no process could carry, as a row, or ``None`` when there is none."""
        if not self.unallocated_ore:
            return None
        by_line = {o.line.name: o.unallocated_ore for o in self.lines}
        zero = Decimal(0)
        return CostRow(UNALLOCATED, None, None, (), 0, 0, zero, zero, by_line, self.unallocated_ore)

    def total(self) -> CostRow:
        """The grand total: all processes plus the unallocated cost."""
        extra = [row for row in (self.unallocated_row(),) if row is not None]
        return _merge("Total", [*self.rows, *extra], self.line_names)

    def method(self) -> str:
        """How the figures were computed, in sentences, for the report's Method sheet."""
        rate = format_nok(self.hourly_rate_ore)
        parts = [outcome.explain() for outcome in self.lines] or [_("No cost lines apply.")]
        parts += [
            _("Active processes are those with an item done or robot time in the period."),
            _("Shares are exact fractions rounded to whole øre by the largest-remainder method: "
              "leftover øre go to the largest fractional parts, ties by process name."),
            _("Freed hours are valued at {rate} NOK per hour; the total value is rounded to "
              "the øre and split over processes by freed minutes the same way.").format(
                  rate=rate),
            _("Cost per freed hour = cost / freed hours; net benefit = value - cost."),
            _("Total cost {total} NOK = allocated {allocated} + unallocated {unallocated}."
              ).format(total=format_nok(self.total_cost_ore),
                       allocated=format_nok(self.allocated_ore),
                       unallocated=format_nok(self.unallocated_ore)),
        ]
        return "\n".join(parts)


def _split_line(line: CostLine, usage: Mapping[str, ProcessUsage]) -> LineOutcome:
    if line.driver == "direct":
        if line.process not in usage:
            known = ", ".join(sorted(usage)) or "(none)"
            raise AllocationError(
                f"cost line {line.name!r} is charged directly to process {line.process!r}, "
                f"which is not in the report; known processes: {known}"
            )
        return LineOutcome(line, "direct", {str(line.process): line.amount_ore})
    active = {name: 1 for name, use in usage.items() if use.active}
    if line.driver in ("robot_minutes", "items_done"):
        attribute = "robot_seconds" if line.driver == "robot_minutes" else "items_done"
        weights = {name: getattr(use, attribute) for name, use in usage.items()}
        if any(weights.values()):
            return LineOutcome(line, line.driver, largest_remainder(line.amount_ore, weights))
    basis: Basis = "equal" if line.driver == "equal" else "equal-fallback"
    if not active:
        return LineOutcome(line, "unallocated", {}, line.amount_ore)
    return LineOutcome(line, basis, largest_remainder(line.amount_ore, active))


def allocate(
    cost_lines: Iterable[CostLine],
    usage: Iterable[ProcessUsage],
    *,
    hourly_rate_ore: int = 0,
) -> AllocationResult:
    """Split every cost line over the processes and value their freed hours.

    ``hourly_rate_ore`` is the value of one freed hour (``hourly_rate`` in
    costs.yaml); left at 0, values and net benefits are 0 minus cost.
    """
    lines = list(cost_lines)
    by_process: dict[str, ProcessUsage] = {}
    for use in usage:
        if use.process in by_process:
            raise AllocationError(f"process {use.process!r} appears twice in the usage rows")
        by_process[use.process] = use
    names = [line.name for line in lines]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AllocationError(f"cost line names must be unique; repeated: {', '.join(duplicates)}")
    if hourly_rate_ore < 0:
        raise AllocationError(f"the hourly rate {hourly_rate_ore} is negative")
    outcomes = tuple(_split_line(line, by_process) for line in lines)
    freed = {name: use.freed_minutes for name, use in by_process.items()}
    total_value = round(sum(map(Fraction, freed.values()), Fraction(0)) * hourly_rate_ore / 60)
    values = largest_remainder(total_value, freed)
    rows = []
    for name in sorted(by_process):
        use = by_process[name]
        by_line = {o.line.name: o.shares.get(name, 0) for o in outcomes}
        rows.append(
            CostRow(
                name,
                use.owner,
                use.cost_centre,
                (name,),
                use.items_done,
                use.business_exceptions,
                use.robot_seconds,
                use.freed_minutes,
                by_line,
                sum(by_line.values()),
                values.get(name, 0),
            )
        )
    return AllocationResult(outcomes, tuple(rows), hourly_rate_ore)
