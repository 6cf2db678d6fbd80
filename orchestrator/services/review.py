"""The review inbox: who sees which tasks, and claiming and resolving them.

One set of rules for the CLI, the console and the API. A task is seen and
worked by an admin or operator, by the owner of its process (escalations go
there), and by the members of its review group (named in the organisation
file), whatever their role; an auditor reads. New tasks are placed (group and
due time) before every read, so a person never waits for the scheduler's next
round to see an exception that just happened.

Resolving:

* `fixed_and_retried`: the corrected payload is checked against the process's
  schema and the item is queued again as a new attempt, in one transaction;
* `done_by_hand`: the minutes a person spent (default: the process's
  `exception_minutes_per_item`);
* `no_action`: a reason is required.

The minutes of every resolution are what the net freed-hours report
subtracts; `fixed_and_retried` and `no_action` record 0 unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.organisation import Organisation
from orchestrator.scheduling.review_clock import place_new
from orchestrator.services import organisation
from orchestrator.services.access import AccessDenied, Permission, Principal
from orchestrator.services.items import shown
from queues import ItemNotFound, ItemView, Store
from queues.review_store import (
    OUTCOMES,
    Resolution,
    ReviewTask,
    TaskFilter,
    TaskNotFound,
)

MAX_PAGE = 500


class ReviewInputError(UsageError):
    """A resolution or filter a person gave that cannot be used."""


def _members(tree: Organisation | None, group: str | None) -> tuple[str, ...]:
    if tree is None or group is None or group not in tree.review_groups:
        return ()
    return tree.review_groups[group].members


def may_see(asker: Principal, task: ReviewTask, tree: Organisation | None) -> bool:
    if asker.name in _members(tree, task.review_group):
        return True
    return asker.may(Permission.VIEW_REVIEW) and asker.sees(task.owner)


def may_work(asker: Principal, task: ReviewTask, tree: Organisation | None) -> bool:
    if asker.name in _members(tree, task.review_group):
        return True
    return asker.may(Permission.WORK_REVIEW) and asker.sees(task.owner)


def refresh(store: Store) -> None:
    """Place new tasks now (the scheduler does it too, every 30 s)."""
    place_new(store)


def list_tasks(store: Store, asker: Principal, *, status: str | None = "open",
               group: str | None = None, process: str | None = None, mine: bool = False,
               overdue: bool = False, limit: int = 100, before: int | None = None
               ) -> list[ReviewTask]:
    """The tasks the asker may see, newest first (`before`: a task id, for the next page)."""
    if status not in (None, "open", "resolved"):
        raise ReviewInputError(f"status must be open, resolved or all, not {status!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise ReviewInputError(f"limit must be from 1 to {MAX_PAGE}")
    refresh(store)
    tree = organisation.current(store)
    _may_look(asker, tree)
    flt = TaskFilter(status=status, groups=None if group is None else (group,),
                     processes=None if process is None else (process,),
                     claimed_by=asker.name if mine else None,
                     overdue_at=store.clock() if overdue else None,
                     before_id=before, limit=limit if not asker.scoped else MAX_PAGE * 4)
    found = [t for t in store.review.find(flt) if may_see(asker, t, tree)]
    return found[:limit]


def may_work_some(store: Store, asker: Principal) -> None:
    """AccessDenied unless the asker may work on review tasks at all (checked before a
    request body is read)."""
    tree = organisation.current(store)
    if asker.may(Permission.WORK_REVIEW) or (
            tree is not None and any(asker.name in g.members
                                     for g in tree.review_groups.values())):
        return
    raise AccessDenied(f"the {asker.role.value} role may not work on review tasks")


def _may_look(asker: Principal, tree: Organisation | None) -> None:
    """A role without the inbox may still look if they are a member of a review group."""
    if asker.may(Permission.VIEW_REVIEW):
        return
    if tree is not None and any(asker.name in g.members for g in tree.review_groups.values()):
        return
    raise AccessDenied(f"the {asker.role.value} role may not see review tasks")


@dataclass(frozen=True)
class TaskDetail:
    """A task with its item, as the asker may see it (payload masked without the grant)."""

    task: ReviewTask
    item: ItemView | None
    may_work: bool
    overdue: bool


def get_task(store: Store, asker: Principal, task_id: int) -> TaskDetail:
    refresh(store)
    task = _visible(store, asker, task_id)
    tree = organisation.current(store)
    try:
        item: ItemView | None = shown(store.get_item(task.item_id), asker)
    except ItemNotFound:
        item = None
    return TaskDetail(task, item, may_work(asker, task, tree), task.overdue(store.clock()))


def _visible(store: Store, asker: Principal, task_id: int) -> ReviewTask:
    """The task, or TaskNotFound also for one the asker may not see (nothing leaks)."""
    tree = organisation.current(store)
    _may_look(asker, tree)
    task = store.review.get(task_id)
    if not may_see(asker, task, tree):
        raise TaskNotFound(f"no review task {task_id}: see `rpa review list`")
    return task


def _workable(store: Store, asker: Principal, task_id: int) -> ReviewTask:
    task = _visible(store, asker, task_id)
    if not may_work(asker, task, organisation.current(store)):
        raise AccessDenied(f"the {asker.role.value} role may not work on review tasks")
    return task


def claim(store: Store, asker: Principal, task_id: int) -> ReviewTask:
    _workable(store, asker, task_id)
    return store.review.claim(task_id, asker.name, actor=asker.actor)


def unclaim(store: Store, asker: Principal, task_id: int) -> ReviewTask:
    _workable(store, asker, task_id)
    force = asker.may(Permission.MANAGE_ACCOUNTS)  # an admin may free someone's task
    return store.review.unclaim(task_id, asker.name, actor=asker.actor, force=force)


def parse_minutes(value: Any) -> float | None:
    """Minutes as a person typed them: a finite number from 0 to 10,000, or None."""
    if value is None or value == "":
        return None
    try:
        minutes = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise ReviewInputError(f"minutes must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(minutes) or not 0 <= minutes <= 10_000:
        raise ReviewInputError(f"minutes must be from 0 to 10000, not {str(value)[:40]!r}")
    return minutes


def resolve(store: Store, asker: Principal, task_id: int, outcome: str, *,
            minutes: Any = None, reason: str = "", payload: dict[str, Any] | None = None
            ) -> ReviewTask:
    """Close a task as `outcome` (see the module docstring for each one's rules)."""
    if outcome not in OUTCOMES:
        raise ReviewInputError(f"unknown outcome {str(outcome)[:40]!r}: use one of "
                               f"{', '.join(OUTCOMES)}")
    reason = (reason or "").strip()
    if len(reason) > 2000 or "\x00" in reason:
        raise ReviewInputError("the reason must be at most 2,000 characters, with no NUL")
    if outcome == "no_action" and not reason:
        raise ReviewInputError("no_action needs a reason: say why nothing is to be done")
    if outcome == "fixed_and_retried" and not isinstance(payload, dict):
        raise ReviewInputError("fixed_and_retried needs the corrected payload, a JSON object")
    if outcome != "fixed_and_retried" and payload is not None:
        raise ReviewInputError("only fixed_and_retried takes a corrected payload")
    task = _workable(store, asker, task_id)
    spent = parse_minutes(minutes)
    if spent is None:
        spent = _default_minutes(store, task) if outcome == "done_by_hand" else 0.0
    return store.review.resolve(task_id, asker.name,
                                Resolution(outcome, spent, reason, payload),
                                actor=asker.actor)


def _default_minutes(store: Store, task: ReviewTask) -> float:
    """The process's configured exception minutes, as it is now."""
    try:
        return float(store.get_process(task.process).spec.exception_minutes_per_item)
    except Exception:  # a process removed since: the estimate the task was opened with
        return task.estimate_minutes


def as_dict(task: ReviewTask, now: float) -> dict[str, Any]:
    """JSON for the CLI and the API (the reason is shown: the asker may see the task)."""
    return {
        "id": task.id, "item_id": task.item_id, "process": task.process, "owner": task.owner,
        "kind": task.kind, "code": task.code, "group": task.review_group,
        "status": task.status, "opened_at": task.opened_at, "due_at": task.due_at,
        "overdue": task.overdue(now), "escalated_at": task.escalated_at,
        "claimed_by": task.claimed_by, "outcome": task.outcome, "minutes": task.minutes,
        "estimate_minutes": task.estimate_minutes, "reason": task.reason,
        "resolved_by": task.resolved_by, "resolved_at": task.resolved_at,
    }
