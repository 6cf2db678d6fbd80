"""One fire of a time trigger: run the process's feeder and record what it produced.

A fire without a feeder still matters: it is recorded (`schedule.fired` in the
audit log and a row in the fires table) and it wakes idle workers. With a
feeder, the items it returns are validated against the process's input schema
and enqueued with the fire row, in one transaction. A feeder that raises, times
out or returns invalid items makes a `failed` fire (recorded, with the error,
and not retried: the next fire polls again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from orchestrator.scheduling.feeders import FEEDER_TIMEOUT, FeederContext, run_feeder
from orchestrator.scheduling.triggers import (
    DEFAULT_TIMEZONE,
    TimedTrigger,
    timed_triggers,
    zone,
)
from queues import NewItem, QueueError, Store
from queues.fire_store import FireResult
from queues.leadership import Fence
from queues.validation import validate_items

log = structlog.get_logger("scheduler.fire")


class Dispatcher:
    """Fires scheduled times; a time being fired by this node is not started twice."""

    def __init__(self, store: Store, node: str, *, metrics: Any = None,
                 feeder_timeout: float = FEEDER_TIMEOUT, default_tz: str = DEFAULT_TIMEZONE,
                 fence: Callable[[], Fence | None] = lambda: None):
        self.store = store
        self.fence = fence  # the leader's current term: see queues.postgres_leadership
        self.node = node
        self.default_tz = default_tz
        self.metrics = metrics
        self.feeder_timeout = feeder_timeout
        self._inflight: set[tuple[str, float]] = set()

    async def fire(self, trigger: TimedTrigger, when: datetime) -> FireResult | None:
        """Fire `trigger` for its scheduled time `when`; None if that time fired already."""
        key = (trigger.process, when.timestamp())
        if key in self._inflight:
            return None
        self._inflight.add(key)
        try:
            return await self._fire(trigger, when)
        except (QueueError, OSError) as err:  # the database: not recorded,
            # so a later catch-up (within the misfire grace) fires it again
            log.error("schedule.fire_not_recorded", process=trigger.process,
                      scheduled_at=when.isoformat(), error=str(err))
            return None
        finally:
            self._inflight.discard(key)

    async def _fire(self, trigger: TimedTrigger, when: datetime) -> FireResult | None:
        fires, ts = self.store.fires, when.timestamp()
        if await asyncio.to_thread(fires.already_fired, trigger.process, ts):
            return None
        info = await asyncio.to_thread(self.store.get_process, trigger.process)
        current = timed_triggers(trigger.process, info.spec.definition, self.default_tz)
        if trigger.key not in {t.key for t in current}:  # edited since: the next sync drops it
            log.info("schedule.stale_trigger", process=trigger.process, trigger=trigger.key)
            return None
        feeder = info.spec.definition.get("feeder")
        items: list[NewItem] = []
        status, error = "fired", None
        if feeder:
            since = await asyncio.to_thread(fires.last_fire, trigger.key)
            ctx = FeederContext(
                process=trigger.process, config=dict(info.spec.definition.get("bot_config", {})),
                scheduled_at=when.astimezone(zone(trigger.timezone)),
                since=None if since is None else datetime.fromtimestamp(since, UTC))
            try:
                items = await run_feeder(feeder, ctx, self.feeder_timeout)
                validate_items(info.spec.input_schema, items)
            except Exception as err:  # the feeder is user code: any failure fails the fire
                status, items = "failed", []
                error = f"{type(err).__name__}: {err}"[:2000] if str(err) else type(err).__name__
        result = await asyncio.to_thread(
            fires.record_fire, process=trigger.process, trigger_key=trigger.key,
            scheduled_at=ts, node=self.node, items=items, status=status, error=error,
            trigger=trigger.spec.describe(), fence=self.fence())
        if not result.recorded:
            if result.status == "fenced":
                log.warning("schedule.fenced", process=trigger.process,
                            scheduled_at=when.isoformat(),
                            reason="this node's leader term has ended: nothing recorded")
            return None
        event = log.error if status == "failed" else log.info
        event(f"schedule.{status}", process=trigger.process, trigger=trigger.spec.describe(),
              scheduled_at=when.isoformat(), added=result.added, existing=result.existing,
              **({"error": error} if error else {}))
        if self.metrics is not None:
            self.metrics.fired(trigger.process, status)
        return result

    async def record_missed(self, trigger: TimedTrigger, times: list[datetime]) -> int:
        """Record fire times later than their grace: a `missed` row and event each.

        Fenced like fires, so an old leader cannot mark as missed a time its successor
        is about to fire. Returns how many were recorded (not recorded before)."""
        recorded = 0
        for when in times:
            try:
                result = await asyncio.to_thread(
                    self.store.fires.record_fire, process=trigger.process,
                    trigger_key=trigger.key, scheduled_at=when.timestamp(), node=self.node,
                    status="missed", trigger=trigger.spec.describe(), fence=self.fence())
            except (QueueError, OSError) as err:
                log.error("schedule.missed_not_recorded", process=trigger.process,
                          scheduled_at=when.isoformat(), error=str(err))
                break
            if result.status == "fenced":
                break
            if result.recorded:
                recorded += 1
                if self.metrics is not None:
                    self.metrics.fired(trigger.process, "missed")
        if recorded:
            from orchestrator.alerts.raising import missed_alert
            alert = missed_alert(trigger.process, trigger.spec.describe(),
                                 [w.astimezone(zone(trigger.timezone)) for w in times])
            try:
                await asyncio.to_thread(self.store.alerts.raise_alert, alert,
                                        actor=f"scheduler:{self.node}")
            except (QueueError, OSError) as err:
                log.error("schedule.missed_alert_failed", process=trigger.process,
                          error=str(err))
        return recorded
