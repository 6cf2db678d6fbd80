"""When a review task is due, and the housekeeping that places and escalates tasks.

A process file says who looks at its exceptions and how long they may take:

    review:
      group: faktura-kontroll     # a group of config/organisation.yaml
      sla: 2d                     # 2 working days; 4h / 90m are working hours

The time runs in working hours on the process's calendar (its
`working_hours:` and `holidays:`); a process without one is reviewed in
office hours, Monday to Friday 08:00-16:00 with the Norwegian public holidays
closed, because people, not robots, do the review. `2d` is due at the same
time of day two working days later (Friday 10:00 -> Tuesday 10:00, or
Wednesday when Monday is a holiday); hours count only open time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.scheduling.calendar import ProcessCalendar, Window
from orchestrator.scheduling.triggers import DEFAULT_TIMEZONE, zone
from queues import Store
from queues.review_store import Placement, ReviewTask

SLA = re.compile(r"^\s*(\d{1,4}(?:\.\d{1,2})?)\s*(d|h|m)\s*$")
DEFAULT_SLA = "2d"
HORIZON_DAYS = 800  # a working-day walk gives up after this many calendar days


class ReviewClockError(ValueError):
    """An SLA that is not a working-time duration."""


@dataclass(frozen=True)
class WorkingTime:
    """An SLA as working days, or working minutes."""

    amount: float
    unit: str  # "d" (working days) or "m" (working minutes)

    @classmethod
    def parse(cls, text: Any) -> WorkingTime:
        found = SLA.match(str(text)) if isinstance(text, str | int) else None
        if found is None or isinstance(text, bool):
            raise ReviewClockError(f"{text!r} is not a working time: write it like 2d (working "
                                   "days), 4h or 90m (working hours or minutes)")
        amount, unit = float(found.group(1)), found.group(2)
        if amount <= 0:
            raise ReviewClockError(f"{text!r}: the time allowed must be more than zero")
        if unit == "d":
            if amount != int(amount) or amount > 365:
                raise ReviewClockError(f"{text!r}: give whole working days, at most 365")
            return cls(amount, "d")
        minutes = amount * 60 if unit == "h" else amount
        if minutes > 365 * 24 * 60:
            raise ReviewClockError(f"{text!r}: at most a year of working hours")
        return cls(minutes, "m")

    def __str__(self) -> str:
        if self.unit == "d":
            return f"{int(self.amount)}d"
        return f"{self.amount / 60:g}h" if self.amount % 60 == 0 else f"{self.amount:g}m"


def office_calendar(timezone: str = DEFAULT_TIMEZONE) -> ProcessCalendar:
    """Monday to Friday 08:00-16:00, Norwegian public holidays closed."""
    window = Window.model_validate({"days": "mon-fri", "from": "08:00", "to": "16:00"})
    return ProcessCalendar(tz=zone(timezone), windows=(window,), holiday_calendar="norway")


def review_calendar(definition: Mapping[str, Any], default_tz: str = DEFAULT_TIMEZONE
                    ) -> ProcessCalendar:
    """The process's own calendar if it has working hours, else office hours."""
    own = ProcessCalendar.from_definition(definition, default_tz)
    if own is not None and own.windows:
        return own
    tz = definition.get("timezone") or default_tz
    office = office_calendar(tz)
    if own is not None:  # holidays but no hours: keep its holidays, add office hours
        return ProcessCalendar(tz=office.tz, windows=office.windows,
                               holiday_calendar=own.holiday_calendar, dates=own.dates)
    return office


def due_at(cal: ProcessCalendar, opened: datetime, sla: WorkingTime) -> datetime:
    """When a task opened at `opened` is due, counting only working time."""
    start = cal.next_open(opened, horizon_days=HORIZON_DAYS)
    if start is None:
        raise ReviewClockError("the review calendar is never open: check working_hours")
    if sla.unit == "m":
        return _add_minutes(cal, start, sla.amount)
    local = start.astimezone(cal.tz)
    clock = local.hour * 60 + local.minute + local.second / 60
    day, counted = local.date(), 0
    for _ in range(HORIZON_DAYS):
        day += timedelta(days=1)
        spans = cal.spans(day)
        if not spans:
            continue
        counted += 1
        if counted == int(sla.amount):
            first, last = spans[0][0], spans[-1][1]
            minute = min(max(clock, first), last)
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=cal.tz)
            return (midnight + timedelta(minutes=minute)).astimezone(cal.tz)
    raise ReviewClockError("no working day within the horizon: check working_hours")


def _add_minutes(cal: ProcessCalendar, start: datetime, minutes: float) -> datetime:
    left, at = minutes * 60, start
    for _ in range(HORIZON_DAYS * 4):
        close = cal.next_close(at)
        if close is None:  # `at` is a closing instant; move on to the next opening
            reopened = cal.next_open(at + timedelta(seconds=1), horizon_days=HORIZON_DAYS)
            if reopened is None:
                break
            at = reopened
            continue
        room = close.timestamp() - at.timestamp()
        if left <= room:
            return datetime.fromtimestamp(at.timestamp() + left, cal.tz)
        left -= room
        reopened = cal.next_open(close, horizon_days=HORIZON_DAYS)
        if reopened is None:
            break
        at = reopened
    raise ReviewClockError("the review calendar closes for good before the task is due")


def review_settings(definition: Mapping[str, Any]) -> tuple[str | None, WorkingTime]:
    """The group and time allowed a process definition gives its review tasks."""
    section = definition.get("review") or {}
    return section.get("group"), WorkingTime.parse(section.get("sla") or DEFAULT_SLA)


def placements(tasks: list[ReviewTask], definitions: Mapping[str, Mapping[str, Any]],
               default_tz: str = DEFAULT_TIMEZONE) -> list[Placement]:
    """Group and due time of each new task, from its process's current definition."""
    out = []
    for task in tasks:
        definition = definitions.get(task.process, {})
        group, sla = review_settings(definition)
        cal = review_calendar(definition, default_tz)
        opened = datetime.fromtimestamp(task.opened_at, cal.tz)
        out.append(Placement(task.id, group, due_at(cal, opened, sla).timestamp()))
    return out


def place_new(store: Store, default_tz: str = DEFAULT_TIMEZONE) -> int:
    """Give every unplaced task its group and due time; how many were placed."""
    total = 0
    while True:
        tasks = store.review.unplaced(500)
        if not tasks:
            return total
        definitions = {p.spec.name: p.spec.definition for p in store.list_processes()}
        placed = store.review.place(placements(tasks, definitions, default_tz))
        total += placed
        if placed == 0:
            return total


def escalate(store: Store, now: float | None = None) -> list[ReviewTask]:
    """Place new tasks, then escalate the overdue ones to their process owners (once each)."""
    place_new(store)
    return store.review.escalate_overdue(store.clock() if now is None else now,
                                         actor="system")
