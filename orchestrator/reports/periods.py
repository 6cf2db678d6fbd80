"""Report periods: half-open intervals of local time, parsed from short texts.

A report always covers ``[start, end)``: the end is exclusive so that consecutive
periods tile without gaps or double counting (an item done at midnight on
1 October belongs to October, never to September *and* October).

Boundaries are local midnights in the municipality's time zone (Europe/Oslo by
default), not UTC midnights: "March" means what the case workers call March, and
a month that contains a DST change is 743 or 745 hours long, not 744. The
length that matters for pro-rating and FTE is therefore counted in *calendar
days* (``Period.days``), which is what a budget year is divided into.

The root error of the reports package, ``ReportError``, lives here because every
other report module already depends on periods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo

from orchestrator.errors import ReportError

DEFAULT_TZ = ZoneInfo("Europe/Oslo")

ACCEPTED_FORMS: tuple[str, ...] = (
    "2026 (a year)",
    "2026-H1 (a half year)",
    "2026-Q3 (a quarter)",
    "2026-10 (a month)",
    "2026-W05 (an ISO week)",
    "2026-10-01 (a day)",
    "2026-10-01..2026-12-31 (dates, end inclusive)",
    "this-year",
    "last-year",
    "this-quarter",
    "last-quarter",
    "this-month",
    "last-month",
)


__all__ = ["Period", "PeriodError", "ReportError", "parse_period"]


class PeriodError(ReportError, ValueError):
    """A period text that cannot be read, or a period that makes no sense."""


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    """The instant local midnight starts ``day`` in ``tz``.

    In zones whose DST change happens at midnight, that wall-clock time does not
    exist; the round trip through UTC moves it to the first instant that does.
    """
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _month_start(year: int, month: int, tz: tzinfo) -> datetime:
    """Local midnight on the first of ``month`` (13 means January next year)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return _local_midnight(date(year, month, 1), tz)


@dataclass(frozen=True)
class Period:
    """``[start, end)`` with time-zone-aware bounds and a human label.

    The label is the canonical text of the period (``2026-Q3``), so it can be
    printed in a report and parsed back. Relative forms such as ``last-month``
    are resolved to the canonical label when parsed.
    """

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise PeriodError(f"period {self.label!r}: {name} {value} has no time zone")
        if not self.start < self.end:
            raise PeriodError(f"period {self.label!r}: start {self.start} is not before {self.end}")

    @property
    def tz(self) -> tzinfo:
        """The time zone of ``start``; local boundaries are computed in it."""
        assert self.start.tzinfo is not None  # guaranteed by __post_init__
        return self.start.tzinfo

    @property
    def days(self) -> Fraction:
        """Length in local calendar days, exactly.

        Wall-clock difference in the period's zone, so a month with a DST change
        still counts 31 days (not 30.958...). Fractional only when a bound is not
        at a local midnight.
        """
        delta = self.end.astimezone(self.tz).replace(tzinfo=None) - self.start.astimezone(
            self.tz
        ).replace(tzinfo=None)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return Fraction(micros, 86_400 * 1_000_000)

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in ``[start, end)``."""
        return self.start <= moment < self.end

    def intersection(self, other: Period) -> Period | None:
        """The overlap of two periods, in this period's zone; ``None`` if disjoint."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        if start >= end:
            return None
        if (start, end) == (self.start, self.end):
            return self
        if (start, end) == (other.start, other.end):
            return other
        return Period(
            start.astimezone(self.tz), end.astimezone(self.tz), f"{self.label}&{other.label}"
        )

    def months(self) -> list[Period]:
        """Calendar-month pieces covering the period, labelled ``YYYY-MM``.

        For charts over time. The first and last piece are clipped to the
        period, so the pieces tile it exactly.
        """
        local = self.start.astimezone(self.tz)
        year, month = local.year, local.month
        pieces: list[Period] = []
        cursor = self.start
        while cursor < self.end:
            following = _month_start(year, month + 1, self.tz)
            pieces.append(Period(cursor, min(following, self.end), f"{year:04d}-{month:02d}"))
            cursor = following
            year, month = following.year, following.month
        return pieces

    def to_epoch(self) -> tuple[float, float]:
        """``(start, end)`` as UTC epoch seconds, for SQL on epoch columns."""
        return (self.start.timestamp(), self.end.timestamp())


def _days(first: date, last_inclusive: date, tz: tzinfo, label: str) -> Period:
    return Period(
        _local_midnight(first, tz), _local_midnight(last_inclusive + timedelta(days=1), tz), label
    )


def _months(year: int, first_month: int, count: int, tz: tzinfo, label: str) -> Period:
    return Period(
        _month_start(year, first_month, tz), _month_start(year, first_month + count, tz), label
    )


def _year(m: re.Match[str], tz: tzinfo) -> Period:
    return _months(int(m[1]), 1, 12, tz, m[1])


def _half(m: re.Match[str], tz: tzinfo) -> Period:
    return _months(int(m[1]), 1 + 6 * (int(m[2]) - 1), 6, tz, f"{m[1]}-H{m[2]}")


def _quarter(m: re.Match[str], tz: tzinfo) -> Period:
    return _months(int(m[1]), 1 + 3 * (int(m[2]) - 1), 3, tz, f"{m[1]}-Q{m[2]}")


def _month(m: re.Match[str], tz: tzinfo) -> Period:
    if not 1 <= int(m[2]) <= 12:
        raise PeriodError(f"month {m[2]} is not 01..12")
    return _months(int(m[1]), int(m[2]), 1, tz, f"{m[1]}-{m[2]}")


def _week(m: re.Match[str], tz: tzinfo) -> Period:
    try:
        monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise PeriodError(f"{m[1]} has no ISO week {m[2]}") from None
    return _days(monday, monday + timedelta(days=6), tz, f"{m[1]}-W{m[2]}")


def _day(m: re.Match[str], tz: tzinfo) -> Period:
    day = date.fromisoformat(m[0])
    return _days(day, day, tz, day.isoformat())


def _range(m: re.Match[str], tz: tzinfo) -> Period:
    first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
    if last < first:
        raise PeriodError(f"the range ends ({last}) before it starts ({first})")
    return _days(first, last, tz, f"{first.isoformat()}..{last.isoformat()}")


_DATE = r"\d{4}-\d{2}-\d{2}"
_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], tzinfo], Period]], ...] = (
    (re.compile(r"(\d{4})"), _year),
    (re.compile(r"(\d{4})-H([12])"), _half),
    (re.compile(r"(\d{4})-Q([1-4])"), _quarter),
    (re.compile(r"(\d{4})-(\d{2})"), _month),
    (re.compile(r"(\d{4})-W(\d{2})"), _week),
    (re.compile(_DATE), _day),
    (re.compile(rf"({_DATE})\s*\.\.\s*({_DATE})"), _range),
)


def _relative(word: str, today: date) -> str | None:
    """Resolve ``this-*``/``last-*`` to a canonical absolute text, or ``None``."""
    quarter = (today.month - 1) // 3  # 0-based
    month_index = today.year * 12 + today.month - 1
    last_month = divmod(month_index - 1, 12)
    last_quarter = divmod(today.year * 4 + quarter - 1, 4)
    table = {
        "this-year": f"{today.year:04d}",
        "last-year": f"{today.year - 1:04d}",
        "this-quarter": f"{today.year:04d}-Q{quarter + 1}",
        "last-quarter": f"{last_quarter[0]:04d}-Q{last_quarter[1] + 1}",
        "this-month": f"{today.year:04d}-{today.month:02d}",
        "last-month": f"{last_month[0]:04d}-{last_month[1] + 1:02d}",
    }
    return table.get(word)


def parse_period(text: str, tz: ZoneInfo = DEFAULT_TZ, today: date | None = None) -> Period:
    """Read a period text such as ``2026-Q3`` or ``2026-10-01..2026-12-31``.

    ``today`` (default: today in ``tz``) anchors the relative forms; tests pass
    it explicitly. Case and surrounding blanks are ignored. Anything else raises
    ``PeriodError`` whose message lists every accepted form, because the person
    reading it is usually at a command line guessing the syntax.
    """
    cleaned = text.strip() if isinstance(text, str) else ""
    try:
        if not cleaned:
            raise PeriodError("the text is empty")
        lowered = cleaned.lower()
        if lowered.startswith(("this-", "last-")):
            resolved = _relative(lowered, today or datetime.now(tz).date())
            if resolved is None:
                raise PeriodError(f"{lowered!r} is not a known relative period")
            cleaned = resolved
        upper = cleaned.upper()
        for pattern, build in _PATTERNS:
            match = pattern.fullmatch(upper)
            if match:
                return build(match, tz)
        raise PeriodError("it matches none of the accepted forms")
    except (ValueError, OverflowError) as exc:  # PeriodError is a ValueError too
        raise PeriodError(
            f"cannot read period {text!r}: {exc}. Accepted forms: {', '.join(ACCEPTED_FORMS)}"
        ) from None
