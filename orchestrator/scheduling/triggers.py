"""Triggers in a process file: cron expressions, intervals and queue thresholds.

    triggers:
      - cron: "*/5 7-16 * * mon-fri"   # standard crontab: minute hour day month weekday
        misfire_grace: 5m               # a fire may start this late, else it is missed
        coalesce: true                  # fires missed while down run once (default)
        timezone: Europe/Oslo           # default: the process's, else the settings'
      - interval: 10m                   # elapsed time, aligned to 2000-01-01 00:00 local
      - queue: {min_items: 20}          # claim only once at least 20 items wait

Cron times are wall-clock times in the trigger's zone. Weekday numbers follow
crontab (0 and 7 are Sunday), not APScheduler 3's own numbering (0 is Monday),
which would silently move "1-5" to Tuesday-Saturday. Across daylight saving:
a time in the skipped hour fires once, at the jump; a fixed-hour time in the
repeated hour fires once, not twice (as Vixie cron does), while an every-hour
schedule fires in both real hours. Intervals count elapsed time, so `1h` stays
3600 s apart through both changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.durations import bounded_duration, parse_duration

DEFAULT_TIMEZONE = "Europe/Oslo"
DEFAULT_MISFIRE_GRACE = 60.0
INTERVAL_ANCHOR = (2000, 1, 1)
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name, with an error that says what to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: write e.g. Europe/Oslo or UTC") from None


def optional_duration(value: Any) -> float | None:
    """A field validator: '30s', '10m', '2h' or a number of seconds; None stays None."""
    return None if value is None else parse_duration(value)


def optional_zone(value: str | None) -> str | None:
    """A field validator: an IANA time zone name (checked), or None."""
    if value is not None:
        zone(value)
    return value


def crontab_weekdays(field: str) -> str:
    """A crontab weekday field in APScheduler 3's terms: numbers become day names."""
    if not any(ch.isdigit() for ch in field):
        return field  # `*`, names and name ranges mean the same to both
    days: list[str] = []
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            lo, hi = (int(x) for x in span.split("-", 1))
        else:
            lo = int(span)
            hi = 6 if step_text else lo
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi and step >= 1):
            raise ValueError(f"weekday field {field!r}: use 0-7 (0 and 7 are Sunday) or names")
        days.extend(CRON_DAYS[d] for d in range(lo, hi + 1, step))
    return ",".join(dict.fromkeys(days))


class CronSchedule(CronTrigger):
    """A crontab trigger that fires a fixed wall-clock time once per day, DST or not."""

    __slots__ = ()

    @classmethod
    def parse(cls, expr: str, tz: tzinfo) -> CronSchedule:
        fields = expr.split()
        if len(fields) != 5:
            raise ValueError(f"cron {expr!r}: need 5 fields (minute hour day month weekday), "
                             f"got {len(fields)}")
        named = dict(zip(CRON_FIELDS, fields, strict=True))
        named["day_of_week"] = crontab_weekdays(named["day_of_week"])
        try:
            return cls(**named, timezone=tz)
        except ValueError as err:  # say which field, which APScheduler does not
            for name, value in named.items():
                try:
                    CronTrigger(**{name: value}, timezone=tz)
                except ValueError as field_err:
                    label = name.replace("_", " ")
                    raise ValueError(f"cron {expr!r}: the {label} field {value!r}: "
                                     f"{field_err}") from None
            raise ValueError(f"cron {expr!r}: {err}") from None

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        found = super().get_next_fire_time(previous_fire_time, now)
        while found is not None:
            found = datetime.fromtimestamp(found.timestamp(), self.timezone)
            if not self._second_pass(found):
                return found
            found = super().get_next_fire_time(found, found)
        return None

    def _second_pass(self, when: datetime) -> bool:
        """The repeated hour's second occurrence, for a schedule with fixed hours."""
        if str(self.fields[5]) == "*" or when.fold == 0:
            return False
        return when.replace(fold=0).utcoffset() != when.utcoffset()


class QueueThreshold(BaseModel):
    """Claim a process's items only once this many wait (then drain the queue)."""

    model_config = ConfigDict(extra="forbid")

    min_items: int = Field(ge=1, le=1_000_000)


class TriggerSpec(BaseModel):
    """One entry of `triggers:`: exactly one of cron, interval or queue."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, description="crontab: minute hour day month weekday")
    interval: float | None = Field(default=None, description="e.g. 30s, 10m, 2h")
    queue: QueueThreshold | None = None
    misfire_grace: float | None = Field(default=None, description="default 1m")
    coalesce: bool | None = Field(default=None, description="default true")
    timezone: str | None = None

    _duration = field_validator("interval", mode="before")(optional_duration)

    @field_validator("misfire_grace", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> float | None:
        # a negative grace would make every fire "missed": the trigger would never run
        return None if value is None else bounded_duration(value, 0, 7 * 86400)
    _zone = field_validator("timezone")(optional_zone)

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerSpec:
        kinds = [k for k in ("cron", "interval", "queue") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of cron:, interval: or queue: per trigger")
        if self.queue is not None:
            extra = {k for k in ("misfire_grace", "coalesce", "timezone")
                     if getattr(self, k) is not None}
            if extra:
                raise ValueError(f"a queue trigger takes only min_items, not {sorted(extra)}")
        if self.interval is not None and self.interval < 1:
            raise ValueError("interval must be at least 1s")
        if self.cron is not None:
            cron = CronSchedule.parse(self.cron, zone(self.timezone or DEFAULT_TIMEZONE))
            if cron.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
                raise ValueError(f"cron {self.cron!r} never fires (no such date)")
        return self

    @property
    def coalesces(self) -> bool:
        return self.coalesce is not False

    @property
    def kind(self) -> str:
        return "cron" if self.cron else "interval" if self.interval else "queue"

    def describe(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        if self.interval:
            return f"every {format_seconds(self.interval)}"
        assert self.queue is not None
        return f"queue >= {self.queue.min_items}"


def format_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def build_trigger(spec: TriggerSpec, tz: tzinfo) -> BaseTrigger:
    """The APScheduler trigger of a time trigger (cron or interval)."""
    if spec.cron:
        return CronSchedule.parse(spec.cron, tz)
    if spec.interval:
        anchor = datetime(*INTERVAL_ANCHOR, tzinfo=tz)
        return IntervalTrigger(seconds=spec.interval, start_date=anchor, timezone=tz)
    raise ValueError("a queue trigger has no fire times")


@dataclass(frozen=True)
class TimedTrigger:
    """A cron or interval trigger of one process, ready for the scheduler."""

    key: str  # the APScheduler job id and the fires table's trigger_key
    process: str
    spec: TriggerSpec
    timezone: str
    trigger: BaseTrigger

    @property
    def grace(self) -> float:
        return DEFAULT_MISFIRE_GRACE if self.spec.misfire_grace is None else self.spec.misfire_grace

    def next_after(self, when: datetime) -> datetime | None:
        """The first fire time strictly after `when`."""
        return self.trigger.get_next_fire_time(None, when + timedelta(microseconds=1))

    def times_between(self, after: datetime, until: datetime, limit: int = 1000
                      ) -> Iterator[datetime]:
        """Fire times in (after, until], oldest first, at most `limit`."""
        found = self.next_after(after)
        for _ in range(limit):  # timestamps: aware datetimes of one zone compare wall times
            if found is None or found.timestamp() > until.timestamp():
                return
            yield found
            found = self.trigger.get_next_fire_time(found, found)


def trigger_specs(definition: Mapping[str, Any]) -> list[TriggerSpec]:
    """The validated `triggers:` of a stored process definition."""
    return [TriggerSpec.model_validate(t) for t in definition.get("triggers") or []]


def timed_triggers(process: str, definition: Mapping[str, Any],
                   default_tz: str = DEFAULT_TIMEZONE) -> list[TimedTrigger]:
    """A process's cron and interval triggers, each keyed by what it says."""
    out = []
    for index, spec in enumerate(trigger_specs(definition)):
        if spec.queue is not None:
            continue
        tz_name = spec.timezone or definition.get("timezone") or default_tz
        text = json.dumps([spec.model_dump(mode="json"), tz_name], sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        out.append(TimedTrigger(key=f"{process}#{index}:{digest}", process=process, spec=spec,
                                timezone=tz_name, trigger=build_trigger(spec, zone(tz_name))))
    return out


def queue_threshold(definition: Mapping[str, Any]) -> int:
    """The smallest `queue: {min_items}` of a process, 0 when it has none."""
    found = [s.queue.min_items for s in trigger_specs(definition) if s.queue is not None]
    return min(found) if found else 0
