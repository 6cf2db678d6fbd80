"""Chores the scheduler leader does on a clock: once per cluster, never on every node.

Why the leader: a checkpoint of the audit log (and, later, a purge) must run
once per period for the whole installation, and the leader is already unique
(the PostgreSQL lease, or the SQLite file lock). A chore runs in a
thread, so a slow one never delays the election loop's beat; its failure is
logged and retried at its next period, and never ends the service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from queues import AuditKeyMissing, AuditTampered, Store

log = structlog.get_logger("scheduler")

CHECKPOINT_EVERY = 3600.0  # seconds: what a deletion could hide before a seal notices it
REVIEW_EVERY = 30.0  # seconds: how late a new review task may get its group and due time


@dataclass
class Chore:
    """Something to do every `every` seconds while this node leads."""

    name: str
    every: float
    run: Callable[[], Any]
    last: float = field(default=float("-inf"))
    disabled: str | None = None  # why it will not run again (a missing key, say)


class Housekeeping:
    """The leader's chores; `run_due` is called from each election round."""

    def __init__(self, chores: list[Chore], clock: Callable[[], float] = time.monotonic):
        self.chores = chores
        self.clock = clock
        self._running: asyncio.Task[None] | None = None

    async def run_due(self) -> None:
        """Run the chores whose period has passed, one after another, in a thread."""
        if self._running is not None and not self._running.done():
            return  # the previous round is still at work: never two at once
        due = [c for c in self.chores
               if c.disabled is None and self.clock() - c.last >= c.every]
        if due:
            self._running = asyncio.create_task(self._run(due))

    async def _run(self, chores: list[Chore]) -> None:
        for chore in chores:
            chore.last = self.clock()
            try:
                result = await asyncio.to_thread(chore.run)
            except AuditKeyMissing as err:
                chore.disabled = str(err)
                log.warning("housekeeping.disabled", chore=chore.name, reason=str(err))
            except AuditTampered as err:
                log.error("audit.tampered", chore=chore.name, error=str(err))
            except Exception as err:  # a chore's failure must not end the leader
                log.exception("housekeeping.failed", chore=chore.name, error=str(err))
            else:
                log.info("housekeeping.done", chore=chore.name, result=result)

    async def stop(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)


def default_chores(store: Store, actor: str) -> list[Chore]:
    """An hourly checkpoint of the audit log; review tasks placed, escalated and alerted."""
    from orchestrator.scheduling.review_clock import escalate, place_new

    def checkpoint() -> dict[str, int]:
        sealed = store.checkpoint_audit(actor=actor)
        return {"checkpoint": sealed.id, "chains": len(sealed.chains)}

    def review() -> dict[str, int]:
        from orchestrator.alerts.raising import review_overdue_alert
        placed = place_new(store)
        escalated = escalate(store)
        for task in escalated:  # one alert per task, however often this runs
            store.alerts.raise_alert(review_overdue_alert(task), actor=actor)
        return {"placed": placed, "escalated": len(escalated)}
    return [Chore("audit-checkpoint", CHECKPOINT_EVERY, checkpoint),
            Chore("review-tasks", REVIEW_EVERY, review)]
