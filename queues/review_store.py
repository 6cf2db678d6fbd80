"""Review tasks: a person must look at every business exception and every dead item.

The store opens a task in the transaction that records the exception (so no
exception is ever left without one) and keeps what people do with it: claim,
unclaim, resolve. Which group a task goes to and when it is due depend on the
process file and its working-hours calendar, which the orchestrator knows and
the store does not, so a new task is *unplaced* until the orchestrator's
review service places it (`place`): nothing is lost in between, the task just
has no group yet.

A resolution records the minutes a person spent. Those minutes, not a guess
in a process file, are what the net freed-hours report subtracts. Every step
is audited in the same transaction; free-text reasons are not copied into the
audit log (they may name a person), only that one was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from queues.errors import QueueError

KINDS = ("business_exception", "dead")
OUTCOMES = ("fixed_and_retried", "done_by_hand", "no_action")
OPEN, RESOLVED = "open", "resolved"


class ReviewError(QueueError):
    """A review operation that cannot be done as asked."""


class TaskNotFound(ReviewError):
    """No review task has that id."""


class TaskConflict(ReviewError):
    """The task is resolved already, or claimed by someone else."""


@dataclass(frozen=True)
class ReviewTask:
    """One task as stored; times are epoch seconds."""

    id: int
    item_id: int
    process: str
    owner: str
    cost_centre: str
    kind: str
    code: str | None
    estimate_minutes: float
    opened_at: float
    review_group: str | None = None
    due_at: float | None = None
    placed: bool = False
    escalated_at: float | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    status: str = OPEN
    outcome: str | None = None
    minutes: float | None = None
    reason: str | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def overdue(self, now: float) -> bool:
        return self.is_open and self.due_at is not None and self.due_at <= now


@dataclass(frozen=True)
class TaskFilter:
    """What `ReviewStore.list` returns; `groups`/`processes` of None match everything."""

    status: str | None = OPEN
    groups: tuple[str, ...] | None = None
    processes: tuple[str, ...] | None = None
    claimed_by: str | None = None
    overdue_at: float | None = None  # only tasks due at or before this time
    item_id: int | None = None
    before_id: int | None = None  # keyset cursor: tasks with a smaller id
    limit: int = 100


@dataclass(frozen=True)
class Placement:
    """Where an unplaced task goes: its group (None: the owner's inbox) and due time."""

    task_id: int
    review_group: str | None
    due_at: float | None


@dataclass(frozen=True)
class Resolution:
    """How a person closed a task.

    ``payload`` is the corrected payload of a ``fixed_and_retried`` resolution
    (already validated against the process's schema by the caller and checked
    again by the store); the item is then queued again as a new attempt.
    """

    outcome: str
    minutes: float
    reason: str = ""
    payload: dict[str, Any] | None = None


class ReviewStore:
    """Abstract; the SQL and in-memory stores implement it."""

    def find(self, flt: TaskFilter) -> list[ReviewTask]:
        """Tasks matching `flt`, newest first."""
        raise NotImplementedError

    def get(self, task_id: int) -> ReviewTask:
        """One task; `TaskNotFound` if there is none."""
        raise NotImplementedError

    def unplaced(self, limit: int = 500) -> list[ReviewTask]:
        """Tasks not yet given a group and a due time, oldest first."""
        raise NotImplementedError

    def place(self, placements: Sequence[Placement]) -> int:
        """Give unplaced tasks their group and due time (audited); how many were placed."""
        raise NotImplementedError

    def claim(self, task_id: int, who: str, *, actor: str) -> ReviewTask:
        """`who` takes an open task; claiming one's own claim again changes nothing."""
        raise NotImplementedError

    def unclaim(self, task_id: int, who: str, *, actor: str, force: bool = False
                ) -> ReviewTask:
        """Give a claimed task back; only its holder may, unless `force` (an admin)."""
        raise NotImplementedError

    def resolve(self, task_id: int, who: str, resolution: Resolution, *, actor: str
                ) -> ReviewTask:
        """Close an open task not claimed by someone else; see `Resolution`."""
        raise NotImplementedError

    def escalate_overdue(self, now: float, *, actor: str) -> list[ReviewTask]:
        """Mark open tasks due before `now` as escalated (once each, audited)."""
        raise NotImplementedError


def conflict(task: ReviewTask, who: str, doing: str) -> TaskConflict | None:
    """Why `who` may not `doing` this task now, if they may not."""
    if not task.is_open:
        return TaskConflict(f"review task {task.id} is already resolved ({task.outcome}, by "
                            f"{task.resolved_by}); nothing was changed")
    if task.claimed_by is not None and task.claimed_by != who:
        return TaskConflict(f"review task {task.id} is claimed by {task.claimed_by}; ask them, "
                            f"or an admin can unclaim it, before you {doing} it")
    return None


def resolution_problem(resolution: Resolution) -> str | None:
    """What is wrong with a resolution on its own (before any task is read)."""
    if resolution.outcome not in OUTCOMES:
        return (f"unknown outcome {resolution.outcome!r}; use one of "
                f"{', '.join(OUTCOMES)}")
    minutes = resolution.minutes
    if not isinstance(minutes, int | float) or minutes != minutes or minutes < 0 \
            or minutes > 10_000:
        return f"minutes must be a number from 0 to 10000, not {minutes!r}"
    if resolution.outcome == "no_action" and not resolution.reason.strip():
        return "a no_action resolution needs a reason"
    if resolution.outcome == "fixed_and_retried" and resolution.payload is None:
        return "a fixed_and_retried resolution needs the corrected payload"
    if resolution.outcome != "fixed_and_retried" and resolution.payload is not None:
        return "only a fixed_and_retried resolution carries a payload"
    return None
