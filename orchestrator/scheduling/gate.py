"""Whether a worker may claim a process's items right now.

Two things can say no. Working hours: outside its window (or on a holiday) a
process claims nothing; the check is arithmetic on the definition the worker
already holds, so it costs nothing per claim round. A queue trigger
(`queue: {min_items: K}`): an idle process starts only once K items wait, then
claims up to its concurrency and drains the queue before it waits for the next
K; counting "at least K" is one indexed `LIMIT K` query, and only while idle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from orchestrator.scheduling.calendar import ProcessCalendar
from orchestrator.scheduling.triggers import DEFAULT_TIMEZONE, queue_threshold
from queues import Store
from queues.models import ProcessInfo

log = structlog.get_logger("worker.gate")


def settings_timezone() -> str:
    """The settings' time zone, for processes whose definition names none."""
    from orchestrator.errors import RpaError
    from orchestrator.settings import load_settings
    try:
        return load_settings().timezone
    except (RpaError, ValueError, OSError) as err:
        # unreadable settings must not stop a worker: say so, and use Oslo's
        log.warning("gate.settings_unreadable", fallback=DEFAULT_TIMEZONE, error=str(err))
        return DEFAULT_TIMEZONE


@dataclass
class ProcessGate:
    """The claim gate of one process in one worker."""

    process: str
    queue_id: int
    calendar: ProcessCalendar | None = None
    min_items: int = 0
    draining: bool = False  # a queue trigger fired and the queue is not yet empty
    window_open: bool | None = None

    def open_at(self, at: datetime) -> bool:
        """Is the process's window open (always, without working hours or holidays)?"""
        is_open = self.calendar is None or self.calendar.is_open(at)
        changed = is_open != self.window_open and (self.window_open is not None or not is_open)
        if changed and self.calendar is not None:  # log transitions, and a closed start
            log.info("window.opened" if is_open else "window.closed", process=self.process,
                     next_open=None if is_open else _iso(self.calendar.next_open(at)))
        self.window_open = is_open
        return is_open

    async def allows(self, store: Store, running: int, at: datetime | None = None) -> bool:
        """May the worker claim now? (`running`: its items of this process in flight)."""
        at = at or datetime.now(UTC)
        if not self.open_at(at):
            return False
        if self.min_items <= 1 or self.draining or running:
            return True
        ready = await asyncio.to_thread(store.monitor.waiting_at_least, self.queue_id,
                                        self.min_items, at.timestamp())
        if ready:
            log.info("trigger.queue_ready", process=self.process, min_items=self.min_items)
            self.draining = True
        return ready

    def claimed(self, count: int, running: int) -> None:
        """After a claim: an empty claim with nothing in flight ends the drain."""
        if self.min_items > 1 and count == 0 and running == 0:
            self.draining = False


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def gate_for(info: ProcessInfo, default_tz: str = DEFAULT_TIMEZONE,
             previous: ProcessGate | None = None) -> ProcessGate:
    """The gate of a registered process (a `ProcessInfo`), keeping a drain in progress."""
    definition = info.spec.definition or {}
    gate = ProcessGate(process=info.spec.name, queue_id=info.queue_id,
                       calendar=ProcessCalendar.from_definition(definition, default_tz),
                       min_items=queue_threshold(definition))
    if previous is not None:
        gate.draining, gate.window_open = previous.draining, previous.window_open
    return gate
