"""Working hours and non-working days: when a process may claim work.

    timezone: Europe/Oslo              # default: the settings' time zone
    working_hours:
      - days: mon-fri                  # or a list: [mon, tue, wed, thu, fri]
        from: "07:00"
        to: "17:00"                    # "24:00" for the end of the day
      - days: [sat]
        from: "09:00"
        to: "13:00"
    holidays:                          # or just a list of extra dates
      calendar: norway                 # the default; `none` for no public holidays
      dates: [2026-12-24, 12-31]       # extra closed days; MM-DD repeats every year

A process with neither key is always open. With working hours, the Norwegian
public holidays are closed unless `holidays: {calendar: none}` says otherwise;
with holidays but no working hours, the process is open all day except on them.
Windows are wall-clock times in the process's zone, so 07:00 stays 07:00 across
daylight saving. Items already running when a window closes finish; nothing new
is claimed until it opens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.scheduling.triggers import DEFAULT_TIMEZONE, zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
YEARLY = re.compile(r"^(\d{2})-(\d{2})$")
END_OF_DAY = 24 * 60


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def norwegian_holidays(year: int) -> dict[date, str]:
    """The public holidays (helligdager and offentlige høytidsdager) of Norway."""
    easter = easter_sunday(year)
    movable = {-3: "Skjærtorsdag", -2: "Langfredag", 0: "1. påskedag", 1: "2. påskedag",
               39: "Kristi himmelfartsdag", 49: "1. pinsedag", 50: "2. pinsedag"}
    days = {easter + timedelta(days=offset): name for offset, name in movable.items()}
    fixed = {(1, 1): "1. nyttårsdag", (5, 1): "Offentlig høytidsdag",
             (5, 17): "Grunnlovsdag", (12, 25): "1. juledag", (12, 26): "2. juledag"}
    for (month, day), name in fixed.items():
        key = date(year, month, day)
        days[key] = f"{days[key]} / {name}" if key in days else name
    return dict(sorted(days.items()))


CALENDARS = {"norway": norwegian_holidays}


def _minutes(text: str) -> int:
    match = CLOCK.match(text.strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{text!r} is not a time of day: write e.g. 07:00 or 17:30")
    return int(match.group(1)) * 60 + int(match.group(2))


def _days(value: Any) -> list[str]:
    """`mon-fri`, `[mon, wed]`, `"sat,sun"` or `[monday]` as day names in week order."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: set[str] = set()
    for item in items:
        text = str(item).strip().lower()
        if "-" in text:
            lo, hi = (part.strip()[:3] for part in text.split("-", 1))
            if lo not in DAYS or hi not in DAYS:
                raise ValueError(f"{item!r}: write a day range like mon-fri")
            i, j = DAYS.index(lo), DAYS.index(hi)
            out.update(DAYS[(i + n) % 7] for n in range((j - i) % 7 + 1))
        elif text[:3] in DAYS:
            out.add(text[:3])
        else:
            raise ValueError(f"{item!r} is not a day: use mon, tue, wed, thu, fri, sat, sun")
    return [d for d in DAYS if d in out]


class Window(BaseModel):
    """Open from `from` to `to` (wall clock) on the given days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    days: list[str] = Field(default_factory=lambda: list(DAYS[:5]))
    start: str = Field(alias="from")
    end: str = Field(alias="to")

    @field_validator("days", mode="before")
    @classmethod
    def _day_names(cls, value: Any) -> list[str]:
        days = _days(value)
        if not days:
            raise ValueError("name at least one day, e.g. mon-fri")
        return days

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> str:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 07:00 as 420 (sexagesimal)
            value = f"{value // 60:02d}:{value % 60:02d}"
        _minutes(str(value))
        return str(value).strip()

    @model_validator(mode="after")
    def _order(self) -> Window:
        if _minutes(self.start) >= _minutes(self.end):
            raise ValueError(f"the window must end after it starts ({self.start}-{self.end}); "
                             "for a night shift write two windows, to 24:00 and from 00:00")
        return self


class Holidays(BaseModel):
    """Closed days: a public-holiday calendar and dates of one's own."""

    model_config = ConfigDict(extra="forbid")

    calendar: Literal["norway", "none"] = "norway"
    dates: list[str] = Field(default_factory=list, description="YYYY-MM-DD, or MM-DD yearly")

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"dates": value} if isinstance(value, list) else value

    @field_validator("dates", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> list[str]:
        out = []
        for item in value or []:
            text = item.isoformat() if isinstance(item, date) else str(item).strip()
            yearly = YEARLY.match(text)
            try:
                if yearly:
                    date(2000, int(yearly.group(1)), int(yearly.group(2)))
                else:
                    date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{item!r} is not a date: write 2026-12-24, or 12-24 for "
                                 "every year") from None
            out.append(text)
        return out


@dataclass(frozen=True)
class ProcessCalendar:
    """When one process is open, in its time zone; built from its stored definition."""

    tz: tzinfo
    windows: tuple[Window, ...] = ()
    holiday_calendar: str = "none"
    dates: frozenset[str] = frozenset()

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any],
                        default_tz: str = DEFAULT_TIMEZONE) -> ProcessCalendar | None:
        """None when the process names no working hours and no holidays: always open."""
        raw_windows, raw_holidays = definition.get("working_hours"), definition.get("holidays")
        if not raw_windows and raw_holidays is None:
            return None
        windows = tuple(Window.model_validate(w) for w in raw_windows or [])
        holidays = Holidays.model_validate(raw_holidays if raw_holidays is not None else {})
        return cls(tz=zone(definition.get("timezone") or default_tz), windows=windows,
                   holiday_calendar=holidays.calendar, dates=frozenset(holidays.dates))

    def holiday(self, day: date) -> str | None:
        """The name of the holiday `day` is, if it is one."""
        if day.isoformat() in self.dates or day.strftime("%m-%d") in self.dates:
            return "closed (process holidays)"
        table = CALENDARS.get(self.holiday_calendar)
        return table(day.year).get(day) if table else None

    def _spans(self, day: date) -> list[tuple[int, int]]:
        """Open spans of a day in minutes after midnight, sorted and merged."""
        if self.holiday(day):
            return []
        if not self.windows:
            return [(0, END_OF_DAY)]
        name = DAYS[day.weekday()]
        spans = sorted((_minutes(w.start), _minutes(w.end)) for w in self.windows
                       if name in w.days)
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return merged

    def spans(self, day: date) -> list[tuple[int, int]]:
        """The open spans of a day, minutes after midnight (none on a closed day)."""
        return self._spans(day)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(lo <= minute < hi for lo, hi in self._spans(local.date()))

    def _at(self, day: date, minute: int) -> datetime:
        if minute >= END_OF_DAY:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)

    def next_open(self, at: datetime, horizon_days: int = 400) -> datetime | None:
        """`at` if open, else when the next window opens (None if never within a year)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.tz)
        for offset in range(horizon_days):
            day = local.date() + timedelta(days=offset)
            for lo, _ in self._spans(day):
                start = self._at(day, lo)
                if start.timestamp() > at.timestamp():  # not `>`: it compares wall times
                    return start
        return None

    def next_close(self, at: datetime) -> datetime | None:
        """When the window open at `at` closes (None if closed now)."""
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for lo, hi in self._spans(local.date()):
            if lo <= minute < hi:
                return self._at(local.date(), hi)
        return None


def calendar_of(process: Any, default_tz: str = DEFAULT_TIMEZONE) -> ProcessCalendar | None:
    """The calendar of a ProcessConfig, ProcessSpec, ProcessInfo or definition mapping."""
    if isinstance(process, ProcessCalendar):
        return process
    definition = getattr(getattr(process, "spec", process), "definition", None)
    if definition is None:
        definition = (process.model_dump(mode="json", by_alias=True, exclude_none=True)
                      if isinstance(process, BaseModel) else process)
    return ProcessCalendar.from_definition(definition, default_tz)


def is_open(process: Any, at: datetime, default_tz: str = DEFAULT_TIMEZONE) -> bool:
    """May `process` claim work at `at`? Always, when it names no hours or holidays."""
    cal = calendar_of(process, default_tz)
    return cal is None or cal.is_open(at)


def next_open(process: Any, at: datetime, default_tz: str = DEFAULT_TIMEZONE
              ) -> datetime | None:
    """When `process` may next claim work: `at` itself when it is open."""
    cal = calendar_of(process, default_tz)
    return at if cal is None else cal.next_open(at)


def holidays_between(first: date, last: date, calendar: str = "norway"
                     ) -> Iterable[tuple[date, str]]:
    """The public holidays from `first` to `last`, for listings and tests."""
    table = CALENDARS[calendar]
    for year in range(first.year, last.year + 1):
        yield from ((d, n) for d, n in table(year).items() if first <= d <= last)
