"""What the CLI's flags accept: ids, limits and points in time, checked before any query.

Typer turns a range into exit 2 with a message naming the flag; the points in
time (`--since`, `--until`) accept two documented forms, a duration back from
now (`90s`, `15m`, `8h`, `2d`, `1w`) or an ISO date or date-time (`2026-11-01`,
`2026-11-01T14:30`, with or without a zone), and refuse anything else with a
hint. Kept apart from the commands so every command accepts the same.
"""

from __future__ import annotations

import math
import time

from orchestrator.durations import parse_duration, parse_instant
from orchestrator.errors import UsageError

MAX_ID = 2**63 - 1  # the largest id a database row can have
MAX_LIMIT = 1_000_000  # rows a listing prints at most
WHEN_HELP = "a duration back from now (90s, 15m, 8h, 2d, 1w) or a date (2026-11-01[T14:30])"


def parse_when(text: str | None, tz: str, flag: str) -> float | None:
    """Epoch seconds for `--since`/`--until`, or None when the flag is not given."""
    if text is None:
        return None
    if not text.strip() or "\x00" in text:
        raise UsageError(f"{flag}: give {WHEN_HELP}")
    try:
        ago = parse_duration(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(ago) or ago > 200 * 365 * 86400:
            raise UsageError(f"{flag}: {text!r} is further back than 200 years: give "
                             f"{WHEN_HELP}")
        return time.time() - ago
    try:
        return parse_instant(text, tz)
    except (ValueError, OverflowError):
        raise UsageError(f"{flag}: {text[:60]!r} is neither a duration nor a date: give "
                         f"{WHEN_HELP}") from None


def parse_window(since: str | None, until: str | None, tz: str
                 ) -> tuple[float | None, float | None]:
    """`--since` and `--until` together; the window must not end before it starts."""
    start, end = parse_when(since, tz, "--since"), parse_when(until, tz, "--until")
    if start is not None and end is not None and end <= start:
        raise UsageError("--until must be later than --since")
    return start, end
