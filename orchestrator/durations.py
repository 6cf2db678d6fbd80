"""Durations and points in time as people write them: `90s`, `15m`, `8h`, `2d`, ISO dates."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str | float | int, default_unit: str = "s") -> float:
    """Seconds in `90s`, `15m`, `1.5h`, `2d`, `1w`; a bare number uses `default_unit`."""
    if isinstance(text, bool):  # YAML reads `yes` as True: not a duration
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 15m, 8h, 2d or 1w")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text!r} is not a duration: give a finite number >= 0, "
                             "or e.g. 90s, 15m, 8h, 2d or 1w")
        return float(text) * _UNITS[default_unit]
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 15m, 8h, 2d or 1w")
    number, unit = match.groups()
    seconds = float(number) * _UNITS[(unit or default_unit).lower()]
    if not math.isfinite(seconds):
        raise ValueError(f"{text[:40]!r} is not a duration a clock can reach")
    return seconds


def bounded_duration(value: str | float | int, low: float, high: float,
                     *, low_open: bool = False) -> float:
    """parse_duration, refused outside [low, high] (or (low, high]); the error states the bound."""
    seconds = parse_duration(value)
    if seconds < low or (low_open and seconds == low) or seconds > high:
        lower = f"more than {_say(low)}" if low_open else f"at least {_say(low)}"
        raise ValueError(f"must be {lower} and at most {_say(high)}, got {_say(seconds)}")
    return seconds


def _say(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def parse_instant(text: str, tz: str = "Europe/Oslo") -> float:
    """Epoch seconds for an ISO date or date-time; naive values are in `tz`."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), time(0))
        else:
            value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time: write e.g. 2026-12-01 or 2026-12-01T14:30"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.timestamp()


def format_age(seconds: float | None) -> str:
    """`42s`, `7m`, `3h 05m`, `2d 04h`: short enough for a table cell."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def format_time(epoch: float | None, tz: str = "Europe/Oslo") -> str:
    """A local time for people: `2026-11-23 21:04:05`."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
