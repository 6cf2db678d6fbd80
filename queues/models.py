"""Plain values that cross the store's boundary: what goes in, what comes out.

They are dataclasses, not ORM objects, so the dispatch loop never holds a
database session and a fake store can hand out the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queues.retry import RetryPolicy
from queues.states import Priority


@dataclass(frozen=True)
class ProcessSpec:
    """What the store keeps of a process: identity, economics, retry policy."""

    name: str
    owner: str
    cost_centre: str
    bot: str
    manual_minutes_per_item: float
    description: str = ""
    exception_minutes_per_item: float = 0.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 300.0
    concurrency: int = 1
    default_priority: int = Priority.NORMAL
    sla_minutes: float | None = None
    input_schema: dict[str, Any] | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # defaults to the process name

    @property
    def queue_name(self) -> str:
        return self.queue or self.name


@dataclass(frozen=True)
class ProcessInfo:
    """A registered process as stored, with its queue and pause state."""

    id: int
    spec: ProcessSpec
    queue_id: int
    paused: bool
    created_at: float
    updated_at: float
    breaker: str = "closed"  # closed, open (paused by it) or half_open (a probe is out)


@dataclass(frozen=True)
class NewItem:
    """A work item to add. `reference` makes adding it again harmless."""

    reference: str
    payload: dict[str, Any]
    priority: int | None = None
    deadline: float | None = None
    defer_until: float | None = None


@dataclass(frozen=True)
class EnqueueResult:
    """Which references were added and which were already there (with their ids)."""

    added: dict[str, int]
    existing: dict[str, int]


@dataclass(frozen=True)
class EnqueueCount:
    """What a streamed enqueue did: counts, and the ids only when asked for."""

    added: int
    existing: int
    ids: dict[str, int] | None = None  # reference -> id of every added item
    existing_ids: dict[str, int] | None = None


@dataclass(frozen=True)
class ClaimedItem:
    """An item a worker now holds a lease on."""

    id: int
    queue: str
    process: str
    reference: str
    payload: dict[str, Any]
    priority: int
    attempt: int
    attempt_limit: int
    deadline: float | None
    lease_expires_at: float
    enqueued_at: float | None = None  # when the item was added (epoch seconds)


@dataclass(frozen=True)
class Attempt:
    """One try at an item, as recorded."""

    number: int
    worker_id: str
    started_at: float
    ended_at: float
    outcome: str
    error_type: str | None
    error_code: str | None
    error_message: str | None
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class ItemView:
    """A work item for listings and `items show`."""

    id: int
    queue: str
    process: str
    reference: str
    status: str
    priority: int
    attempts: int
    attempt_limit: int
    payload: dict[str, Any]
    output: dict[str, Any] | None
    error_type: str | None
    error_code: str | None
    error_message: str | None
    deadline: float | None
    available_at: float
    lease_owner: str | None
    lease_expires_at: float | None
    created_at: float
    updated_at: float
    finished_at: float | None
    history: tuple[Attempt, ...] = ()
    purged: tuple[str, ...] = ()  # what retention or an erasure removed (see tombstones)


@dataclass(frozen=True)
class QueueStatus:
    """One row of `rpa status`."""

    queue: str
    process: str
    paused: bool
    counts: dict[str, int]
    oldest_waiting_at: float | None
    at_risk: int
    breached: int

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


@dataclass(frozen=True)
class ItemFilter:
    """What `list_items` should return."""

    process: str | None = None
    statuses: tuple[str, ...] = ()
    since: float | None = None
    error_code: str | None = None
    limit: int = 50
    until: float | None = None
    reference: str | None = None  # exact; a hashed process's digest is found too
    processes: tuple[str, ...] | None = None  # any of these (an owner's); () matches none
    before: tuple[float, int] | None = None  # keyset cursor: older than (updated_at, id)
