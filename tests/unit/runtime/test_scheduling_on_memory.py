"""Dispatcher, claim gate and scheduler service over the fake store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from orchestrator.scheduling.dispatch import Dispatcher
from orchestrator.scheduling.gate import gate_for
from orchestrator.scheduling.service import SchedulerService
from orchestrator.scheduling.triggers import timed_triggers
from queues import ItemFilter, NewItem
from queues.testing import InMemoryStore
from tests.conftest import items, make_spec

HERE = __name__


def two_items(ctx: Any) -> list[NewItem]:
    """A feeder: two items named after the fire's time."""
    stamp = int(ctx.scheduled_at.timestamp())
    return [NewItem(reference=f"{stamp}-{n}", payload={"n": n}) for n in range(2)]


def broken(ctx: Any) -> list[NewItem]:
    raise ConnectionError("the case system is down")


def register(store: InMemoryStore, *, feeder: str | None, every: str = "1s",
             grace: str = "30s") -> Any:
    definition: dict[str, Any] = {"triggers": [
        {"interval": every, "coalesce": False, "misfire_grace": grace}]}
    if feeder:
        definition["feeder"] = feeder
    store.upsert_process(make_spec("inbox", definition=definition), actor="test")
    (trigger,) = timed_triggers("inbox", definition, "Europe/Oslo")
    return trigger


def test_a_fire_enqueues_its_feeders_items_once() -> None:
    store = InMemoryStore()
    trigger = register(store, feeder=f"{HERE}:two_items")
    when = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    dispatcher = Dispatcher(store, "node-a")

    first = asyncio.run(dispatcher.fire(trigger, when))
    again = asyncio.run(dispatcher.fire(trigger, when))

    assert first is not None and (first.recorded, first.status, first.added) == (True, "fired", 2)
    assert again is None  # that time fired already
    assert len(store.list_items(ItemFilter(limit=0))) == 2
    fired = store.audit_events(action="schedule.fired")
    assert len(fired) == 1 and fired[0]["actor"] == "scheduler:node-a"
    assert store.fires.last_fire(trigger.key) == when.timestamp()


def test_a_failing_feeder_makes_a_failed_fire_with_no_items() -> None:
    store = InMemoryStore()
    trigger = register(store, feeder=f"{HERE}:broken")
    result = asyncio.run(Dispatcher(store, "n").fire(trigger, datetime.now(UTC)))
    assert result is not None and result.status == "failed" and result.added == 0
    (event,) = store.audit_events(action="schedule.failed")
    # the message stays with the fire (`rpa schedule`); the audit log keeps its type only,
    # since a feeder's message can quote the data it read
    assert "the case system is down" not in str(event["details"])
    assert '"error_type":' in str(event["details"])
    (fire,) = store.fires.recent_fires([trigger.process])[trigger.process]
    assert "the case system is down" in fire["error"]
    assert store.list_items(ItemFilter(limit=0)) == []


def test_a_queue_trigger_opens_the_gate_at_k_waiting_items_and_drains() -> None:
    store = InMemoryStore()
    store.upsert_process(make_spec("batch", definition={"triggers": [
        {"queue": {"min_items": 3}}]}), actor="test")
    gate = gate_for(store.get_process("batch"), "Europe/Oslo")
    store.enqueue("batch", items(2), actor="test")
    assert not asyncio.run(gate.allows(store, running=0))
    store.enqueue("batch", items(1, start=2), actor="test")
    assert asyncio.run(gate.allows(store, running=0)) and gate.draining
    gate.claimed(0, running=0)  # an empty claim with nothing in flight ends the drain
    assert not gate.draining


def test_the_leader_fires_an_interval_trigger_and_steps_down_on_stop() -> None:
    store = InMemoryStore()
    register(store, feeder=f"{HERE}:two_items")

    async def lead_for(seconds: float) -> SchedulerService:
        stop = asyncio.Event()
        service = SchedulerService(store, node_id="n1", node_name="n1", elect_every=0.1,
                                   default_tz="Europe/Oslo")
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(seconds)
        assert service.is_leader
        stop.set()
        await task
        return service

    service = asyncio.run(lead_for(2.6))
    assert not service.is_leader
    fires = store.fires.recent_fires(["inbox"], limit=100)["inbox"]
    times = sorted(f["scheduled_at"] for f in fires)
    assert len(times) >= 2 and times == [times[0] + i for i in range(len(times))]
    assert len(store.list_items(ItemFilter(limit=0))) == 2 * len(times)


def test_a_new_leader_catches_up_a_trigger_that_never_fired() -> None:
    """Jobs live in memory, so a leader that took over after a fire time was due finds it
    in the fires table's absence: due since the process was registered, within grace."""
    store = InMemoryStore(clock=lambda: time.time() - 5)  # registered 5 s ago
    register(store, feeder=f"{HERE}:two_items", every="2s", grace="1m")
    store.clock = time.time

    async def lead_briefly() -> None:
        stop = asyncio.Event()
        service = SchedulerService(store, node_id="n2", node_name="n2", elect_every=0.1,
                                   default_tz="Europe/Oslo")
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(0.5)  # less than the interval: only the catch-up can fire
        stop.set()
        await task

    asyncio.run(lead_briefly())
    fires = store.fires.recent_fires(["inbox"], limit=100)["inbox"]
    assert len(fires) >= 2  # the times of the 5 s before the leader started
