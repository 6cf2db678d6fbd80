"""The work-item state machine, as data.

Every store checks its transitions against this table, so the SQLite store,
the PostgreSQL store and the in-memory fake cannot drift apart on what is legal.

    new ──claim──▶ in_progress ──complete──▶ done
     ▲                 │ ├─fail_business──▶ business_failed
     │                 │ └─fail_application / lease expiry ─▶ retry_scheduled ─claim─▶ in_progress
     │                 │                    (attempts exhausted) ─▶ dead
     └─operator retry──┴── business_failed | dead | abandoned
    new | retry_scheduled | business_failed | dead ──abandon──▶ abandoned
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a work item stands."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BUSINESS_FAILED = "business_failed"
    RETRY_SCHEDULED = "retry_scheduled"
    DEAD = "dead"
    ABANDONED = "abandoned"


class Outcome(StrEnum):
    """How one attempt ended."""

    DONE = "done"
    BUSINESS_ERROR = "business_error"
    APPLICATION_ERROR = "application_error"
    LOST = "lost"          # the worker's lease expired: it died or hung
    RELEASED = "released"  # the worker gave the item back unfinished (shutdown)


CLAIMABLE: frozenset[Status] = frozenset({Status.NEW, Status.RETRY_SCHEDULED})
FINAL: frozenset[Status] = frozenset({Status.DONE, Status.BUSINESS_FAILED, Status.DEAD,
                                      Status.ABANDONED})
RETRYABLE_BY_OPERATOR: frozenset[Status] = frozenset(
    {Status.BUSINESS_FAILED, Status.DEAD, Status.ABANDONED}
)
ABANDONABLE: frozenset[Status] = frozenset(
    {Status.NEW, Status.RETRY_SCHEDULED, Status.BUSINESS_FAILED, Status.DEAD}
)

# operation -> states it may start from
ALLOWED_FROM: dict[str, frozenset[Status]] = {
    "claim": CLAIMABLE,
    "complete": frozenset({Status.IN_PROGRESS}),
    "fail_business": frozenset({Status.IN_PROGRESS}),
    "fail_application": frozenset({Status.IN_PROGRESS}),
    "release": frozenset({Status.IN_PROGRESS}),
    "expire_lease": frozenset({Status.IN_PROGRESS}),
    "retry": RETRYABLE_BY_OPERATOR,
    "abandon": ABANDONABLE,
}


class Priority:
    """Named priorities; stored as integers so that higher sorts first."""

    HIGH = 2
    NORMAL = 1
    LOW = 0
    BY_NAME: dict[str, int] = {"high": HIGH, "normal": NORMAL, "low": LOW}
    NAME_OF: dict[int, str] = {v: k for k, v in BY_NAME.items()}

    @classmethod
    def parse(cls, value: str | int | None, default: int = NORMAL) -> int:
        """Accept `high`/`normal`/`low` or an integer; `None` gives the default."""
        if value is None or value == "":
            return default
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in cls.BY_NAME:
            return cls.BY_NAME[text]
        try:
            return int(text)
        except ValueError:
            raise ValueError(
                f"priority {value!r} is not one of high, normal, low or an integer"
            ) from None
