"""The circuit breaker: a process whose items keep failing with application errors
pauses itself, before it burns every item's attempts on a target that is down.

State lives on the process row (`breaker_*` columns) and changes only inside
the transactions that record outcomes, so every node sees one breaker:

    closed --N application errors in a row--> open (paused, audited, alerted)
    open --cool-down passed, a worker claims--> half_open (one probe item out)
    half_open --probe done or business error--> closed (resumed)
    half_open --probe application error--> open (a new cool-down)
    any --`rpa process resume`--> closed

"In a row" is judged without touching the success path, which stays one
statement per item: a failure asks whether any item of the queue finished well
since the first failure of the current run (`breaker_since`), through the
index on `updated_at`, which only covers that short window.

The settings come from the process file (`breaker: {after: 5, cool_down: 5m}`,
stored with its definition); a process registered before the breaker existed
gets the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queues.alert_store import NewAlert

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
DEFAULT_AFTER = 5
DEFAULT_COOL_DOWN = 300.0


@dataclass(frozen=True)
class BreakerSettings:
    enabled: bool = True
    after: int = DEFAULT_AFTER
    cool_down: float = DEFAULT_COOL_DOWN

    @classmethod
    def of(cls, definition: dict[str, Any] | None) -> BreakerSettings:
        """From a stored definition (already validated when it was registered)."""
        found = (definition or {}).get("breaker") or {}
        return cls(enabled=bool(found.get("enabled", True)),
                   after=int(found.get("after", DEFAULT_AFTER)),
                   cool_down=float(found.get("cool_down", DEFAULT_COOL_DOWN)))


def may_probe(state: str, opened_at: float | None, probe_at: float | None,
              cool_down: float, now: float) -> bool:
    """Has an open breaker cooled down (or a probe gone quiet for a cool-down)?"""
    if state == OPEN:
        return opened_at is None or now >= opened_at + cool_down
    if state == HALF_OPEN:  # its probe's worker died or found nothing: try again
        return probe_at is None or now >= probe_at + cool_down
    return False


def tripped_alert(process: str, failures: int, cool_down: float, opened_at: float
                  ) -> NewAlert:
    return NewAlert(
        rule="breaker_tripped", subject=f"breaker:{process}@{opened_at:.3f}", process=process,
        title=f"{process} paused itself after {failures} application errors in a row",
        text=(f"The last {failures} attempts of {process} failed with application errors, "
              f"so it paused itself: its items wait, with no attempts spent. In "
              f"{cool_down:g} s one item is tried as a probe; if it goes through the process "
              f"resumes by itself. Check the target system, or resume it now with "
              f"`rpa process resume {process}`."),
        details={"failures": failures, "cool_down_seconds": cool_down})
