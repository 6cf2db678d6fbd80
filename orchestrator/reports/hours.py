"""Freed hours and FTE per process, owner or cost centre.

Freed minutes are credited when an item is done (the audit log stores the
process's minutes-per-item at that moment), so these figures answer "how much
case-worker time did the robots give back in this period".

Two FTE figures, because owners ask two different questions:

* ``fte`` - *average staffing freed during the period*:
  ``hours / (fte_hours_per_year * period_days / 365.2425)``. One person works
  ``fte_hours_per_year`` hours in an average Gregorian year (365.2425 days), so a
  quarter of 92 days holds ``1695 * 92 / 365.2425 = 426.95`` hours of one FTE.
  This makes a quarter's figure comparable with a year's. Calendar days are
  used, not working days, because the FTE norm already nets out holidays.
* ``fte_years`` - the *amount of work*: ``hours / fte_hours_per_year``, i.e. how
  many person-years the freed hours add up to, whatever the period length.

Everything is ``Decimal``; rounding happens only when a figure is displayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from orchestrator.i18n import _
from orchestrator.reports.periods import Period, ReportError

DEFAULT_FTE_HOURS_PER_YEAR = Decimal(1695)
DAYS_PER_YEAR = Decimal("365.2425")
GroupBy = Literal["process", "owner", "cost-centre", "cost_centre", "unit", "department",
                  "sector"]
# levels of the organisation tree: rows arrive with `owner` already rolled up to the level
ORG_LEVELS = ("unit", "department", "sector")


class SupportsHours(Protocol):
    """Anything with the fields the rollup reads; ``ProcessUsage`` is one."""

    @property
    def process(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def cost_centre(self) -> str: ...
    @property
    def items_done(self) -> int: ...
    @property
    def business_exceptions(self) -> int: ...
    @property
    def freed_minutes(self) -> Decimal: ...


class UsageFiguresError(ReportError, ValueError):
    """A usage row with impossible figures (negative counts or minutes)."""


def _non_negative(value: Decimal | int | float, what: str) -> Decimal:
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise UsageFiguresError(f"{what} must be a finite number >= 0, not {value!r}")
    return number


@dataclass(frozen=True)
class ProcessUsage:
    """What one process did in the period, as the audit-log SQL aggregates it.

    The one input row of both the hours rollup and the cost allocation. Pass a
    row for every defined process, idle ones included (zeros): a ``direct`` cost
    line may name an idle process. ``robot_seconds`` and ``freed_minutes``
    given as int or float are stored as ``Decimal``.
    """

    process: str
    owner: str
    cost_centre: str
    items_done: int
    business_exceptions: int
    robot_seconds: Decimal
    freed_minutes: Decimal
    # net freed capacity: gross credits, minus review (recorded, or estimated where
    # no resolution exists yet); None: the row has no review figures (gross = freed)
    gross_minutes: Decimal | None = None
    review_minutes: Decimal | None = None
    estimated_minutes: Decimal | None = None

    def __post_init__(self) -> None:
        if self.items_done < 0 or self.business_exceptions < 0:
            raise UsageFiguresError(f"process {self.process!r}: counts must be >= 0")
        for name in ("robot_seconds", "freed_minutes"):
            value = _non_negative(getattr(self, name), f"process {self.process!r}: {name}")
            object.__setattr__(self, name, value)

    @property
    def gross(self) -> Decimal:
        return self.freed_minutes if self.gross_minutes is None else self.gross_minutes

    @property
    def review(self) -> Decimal:
        return Decimal(0) if self.review_minutes is None else self.review_minutes

    @property
    def estimated(self) -> Decimal:
        return Decimal(0) if self.estimated_minutes is None else self.estimated_minutes

    @property
    def net(self) -> Decimal:
        """Gross minus review; negative when people spent more than the robot freed."""
        return self.freed_minutes if self.gross_minutes is None else self.gross - self.review

    @property
    def active(self) -> bool:
        """Active processes carry ``equal`` cost lines: any item done or any robot time."""
        return self.items_done > 0 or self.robot_seconds > 0


@dataclass(frozen=True)
class HoursRow:
    """One group in the rollup (or the total, with ``key == "Total"``)."""

    key: str
    processes: tuple[str, ...]
    items_done: int
    business_exceptions: int
    freed_minutes: Decimal  # net: gross - review
    freed_hours: Decimal
    fte: Decimal
    fte_years: Decimal
    gross_hours: Decimal = Decimal(0)
    review_hours: Decimal = Decimal(0)
    estimated_hours: Decimal = Decimal(0)  # the part of review_hours still estimated


@dataclass(frozen=True)
class HoursReport:
    """Rows sorted by freed hours (largest first, then key), plus the total."""

    period: Period
    group_by: GroupBy
    fte_hours_per_year: Decimal
    rows: tuple[HoursRow, ...]
    total: HoursRow

    def method(self) -> str:
        """How the figures were computed, for the report's Method sheet."""
        fte = self.fte_hours_per_year
        return "\n".join(
            [
                _("Period {period}: {days} calendar days, from {start} to {end} (exclusive)."
                  ).format(period=self.period.label, days=self.period.days,
                           start=self.period.start.isoformat(),
                           end=self.period.end.isoformat()),
                _("Gross freed minutes are credited when an item is done, using the minutes "
                  "per item configured for the process. Review is the time people spent on "
                  "the robots' business exceptions and dead items: the minutes recorded when "
                  "a review task is resolved, or, where none is resolved yet, the process's "
                  "configured exception minutes (estimated). Net = gross - review; nothing "
                  "else is subtracted. Freed hours = net minutes / 60."),
                _("FTE (period) = freed hours / ({fte} hours x {days} days / {year}): the "
                  "staffing freed on average during the period.").format(
                      fte=fte, days=self.period.days, year=DAYS_PER_YEAR),
                _("FTE-years = freed hours / {fte}: the freed work counted in person-years."
                  ).format(fte=fte),
                _("Figures are exact decimals; only the display is rounded."),
            ]
        )


HoursTuple = tuple[str, str, str, int, int, Decimal | int]


def _coerce(row: SupportsHours | HoursTuple) -> ProcessUsage:
    """Validate every row as a ``ProcessUsage`` (floats become exact decimals)."""
    if isinstance(row, ProcessUsage):
        return row
    if isinstance(row, tuple):  # also SQLAlchemy's Row, which is a tuple
        if len(row) != 6:
            raise UsageFiguresError(f"an hours row has 6 fields, got {len(row)}: {row!r}")
        process, owner, centre, done, exceptions, minutes = row
    else:
        process, owner, centre = row.process, row.owner, row.cost_centre
        done, exceptions, minutes = row.items_done, row.business_exceptions, row.freed_minutes
    return ProcessUsage(process, owner, centre, done, exceptions, Decimal(0), minutes)  # type: ignore[arg-type]


def hours_rollup(
    rows: Iterable[SupportsHours | HoursTuple],
    group_by: GroupBy,
    period: Period,
    *,
    fte_hours_per_year: Decimal | int = DEFAULT_FTE_HOURS_PER_YEAR,
) -> HoursReport:
    """Group freed hours by ``process``, ``owner`` or ``cost-centre`` and add FTE.

    ``rows`` are ``ProcessUsage`` (or anything with the same fields) or plain
    6-tuples ``(process, owner, cost_centre, items_done, business_exceptions,
    freed_minutes)``.
    """
    if group_by not in ("process", "owner", "cost-centre", "cost_centre", *ORG_LEVELS):
        raise UsageFiguresError(f"cannot group hours by {group_by!r}; use process, owner, "
                                "cost-centre, unit, department or sector")
    fte_hours = Decimal(fte_hours_per_year)
    if not fte_hours > 0:
        raise UsageFiguresError(f"fte_hours_per_year must be > 0, not {fte_hours_per_year!r}")
    days = period.days
    # hours available to one FTE during the period, kept as an exact ratio
    fte_numerator, fte_denominator = fte_hours * days.numerator, DAYS_PER_YEAR * days.denominator

    def build(key: str, members: list[ProcessUsage]) -> HoursRow:
        minutes = sum((m.net for m in members), Decimal(0))
        hours = minutes / 60
        return HoursRow(
            key=key,
            processes=tuple(sorted({m.process for m in members})),
            items_done=sum(m.items_done for m in members),
            business_exceptions=sum(m.business_exceptions for m in members),
            freed_minutes=minutes,
            freed_hours=hours,
            fte=minutes * fte_denominator / (60 * fte_numerator),
            fte_years=minutes / (60 * fte_hours),
            gross_hours=sum((m.gross for m in members), Decimal(0)) / 60,
            review_hours=sum((m.review for m in members), Decimal(0)) / 60,
            estimated_hours=sum((m.estimated for m in members), Decimal(0)) / 60,
        )

    attribute = "cost_centre" if group_by in ("cost-centre", "cost_centre") else "owner" \
        if group_by in ORG_LEVELS else group_by
    inputs = [_coerce(row) for row in rows]
    groups: dict[str, list[ProcessUsage]] = {}
    for item in inputs:
        groups.setdefault(getattr(item, attribute), []).append(item)
    built = [build(key, members) for key, members in groups.items()]
    built.sort(key=lambda row: (-row.freed_minutes, row.key))
    return HoursReport(period, group_by, fte_hours, tuple(built), build("Total", inputs))
