"""The leader's chores: a checkpoint each period, one round at a time, failures contained."""

from __future__ import annotations

import asyncio

from orchestrator.scheduling.housekeeping import Chore, Housekeeping, default_chores
from queues import ChainKey
from queues.testing import InMemoryStore


async def rounds(house: Housekeeping, clock: list[float], times: list[float]) -> None:
    for t in times:
        clock[0] = t
        await house.run_due()
        assert house._running is not None
        await house._running


def test_a_checkpoint_each_period_and_none_in_between() -> None:
    store = InMemoryStore(writer="leader", audit_key=ChainKey(b"k" * 32))
    store.record_event(actor="t", action="x.y", details={})
    clock = [0.0]
    house = Housekeeping(default_chores(store, "scheduler:n"), clock=lambda: clock[0])
    asyncio.run(rounds(house, clock, [0.0, 10.0, 3599.0, 3600.0]))
    assert [c.id for c in store.db.checkpoints] == [1, 2]
    assert store.verify_audit().ok


def test_without_a_key_the_chore_stops_and_a_failing_one_is_retried() -> None:
    calls: list[float] = []

    def flaky() -> None:
        calls.append(clock[0])
        raise RuntimeError("database away")

    clock = [0.0]
    keyless = default_chores(InMemoryStore(writer="leader"), "scheduler:n")
    house = Housekeeping([*keyless, Chore("flaky", 60, flaky)], clock=lambda: clock[0])
    asyncio.run(rounds(house, clock, [0.0, 60.0, 120.0]))
    assert keyless[0].disabled and "key" in keyless[0].disabled
    assert calls == [0.0, 60.0, 120.0]
