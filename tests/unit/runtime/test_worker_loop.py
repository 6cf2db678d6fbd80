"""The dispatch loop over the fake store: outcomes, concurrency, hooks, stopping."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from orchestrator.worker.hooks import WorkerHook
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem, ItemFilter, QueueNotFound
from queues.testing import InMemoryStore
from tests.conftest import items, make_spec
from tests.unit.runtime.conftest import make_worker, scripted


def statuses(store: InMemoryStore) -> dict[str, str]:
    return {i.reference: i.status for i in store.list_items(ItemFilter(limit=0))}


class Recorder(WorkerHook):
    """Every moment a hook sees, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def started(self, worker: Any) -> None:
        self.seen.append("started")

    def claimed(self, worker: Any, item: ClaimedItem) -> None:
        self.seen.append(f"claimed {item.reference}")

    def finished(self, worker: Any, item: ClaimedItem, outcome: Outcome) -> None:
        self.seen.append(f"finished {item.reference} {outcome.kind}")

    async def tick(self, worker: Any) -> None:
        self.seen.append("tick")

    async def stopping(self, worker: Any) -> None:
        self.seen.append("stopping")


def test_a_worker_does_every_item_and_tells_its_hooks(store: InMemoryStore) -> None:
    store.enqueue("invoices", items(5), actor="test")
    hook = Recorder()
    report = asyncio.run(make_worker(store, scripted(), hooks=[hook]).run())

    assert report.done == 5 and set(statuses(store).values()) == {"done"}
    assert hook.seen[0] == "started" and hook.seen[-1] == "stopping"
    for i in range(5):
        assert hook.seen.index(f"claimed r{i}") < hook.seen.index(f"finished r{i} done")
    assert "tick" in hook.seen
    assert store.verify_audit().ok


def test_outcomes_reach_the_store_as_the_state_machine_says(store: InMemoryStore) -> None:
    store.enqueue("invoices", items(3), actor="test")

    def script(item: ClaimedItem) -> Outcome:
        return {"r0": Outcome("done"),
                "r1": Outcome("business", code="VAT_MISMATCH", message="VAT is wrong"),
                "r2": Outcome("application", error_type="TimeoutError", message="slow"),
                }[item.reference]

    report = asyncio.run(make_worker(store, scripted(script)).run())
    assert statuses(store) == {"r0": "done", "r1": "business_failed", "r2": "dead"}
    assert (report.done, report.business, report.application) == (1, 1, 3)  # 3 attempts
    failed = store.get_item(store.list_items(ItemFilter(statuses=("business_failed",)))[0].id)
    assert (failed.error_code, failed.attempts) == ("VAT_MISMATCH", 1)


def test_a_process_never_runs_more_items_at_once_than_its_concurrency(
        store: InMemoryStore) -> None:
    store.upsert_process(make_spec("solo", concurrency=1), actor="test")
    store.enqueue("solo", items(4), actor="test")
    slots = scripted(delay=0.02)
    asyncio.run(make_worker(store, slots, slots=3, processes=["solo"]).run())
    assert slots.most_at_once == 1
    assert set(statuses(store).values()) == {"done"}


def test_free_slots_run_items_side_by_side(store: InMemoryStore) -> None:
    store.upsert_process(make_spec("wide", concurrency=4), actor="test")
    store.enqueue("wide", items(8), actor="test")
    slots = scripted(delay=0.05)
    asyncio.run(make_worker(store, slots, slots=4, processes=["wide"]).run())
    assert slots.most_at_once == 4


def test_a_failing_hook_is_logged_and_the_work_goes_on(store: InMemoryStore) -> None:
    class Broken(WorkerHook):
        async def tick(self, worker: Any) -> None:
            raise OSError("the registry is down")

    store.enqueue("invoices", items(3), actor="test")
    with capture_logs() as logs:
        report = asyncio.run(make_worker(store, scripted(), hooks=[Broken()]).run())
    assert report.done == 3
    failed = [e for e in logs if e["event"] == "worker.hook_failed"]
    assert failed and failed[0]["hook"] == "Broken" and failed[0]["moment"] == "tick"


def test_a_stop_lets_items_finish_within_grace_and_gives_the_rest_back(
        store: InMemoryStore) -> None:
    store.enqueue("invoices", items(2), actor="test")
    slots = scripted(delay=5.0)  # longer than the grace

    async def run_and_stop() -> Any:
        worker = make_worker(store, slots, until_empty=False, grace_seconds=0.1)
        task = asyncio.create_task(worker.run())
        while slots.running < 2:
            await asyncio.sleep(0.01)
        worker.request_stop()
        return await task

    report = asyncio.run(run_and_stop())
    assert report.released == 2 and report.done == 0
    for item in store.list_items(ItemFilter(limit=0)):
        # given back without spending an attempt: claimable again, its limit raised by one
        assert item.status == "new" and item.attempt_limit == item.attempts + 3


def test_an_unknown_process_is_refused_before_any_work(store: InMemoryStore) -> None:
    with pytest.raises(QueueNotFound, match="no-such"):
        asyncio.run(make_worker(store, scripted(), processes=["no-such"]).run())


def test_until_empty_leaves_items_of_a_closed_window_and_says_so(
        store: InMemoryStore) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    closed = {"holidays": {"dates": [(today + timedelta(days=d)).isoformat()
                                     for d in (-1, 0, 1)]}, "timezone": "Europe/Oslo"}
    store.upsert_process(make_spec("night", definition=closed), actor="test")
    store.enqueue("night", items(2), actor="test")
    with capture_logs() as logs:
        report = asyncio.run(make_worker(store, scripted(), processes=["night"]).run())
    assert report.done == 0 and set(statuses(store).values()) == {"new"}
    assert any(e["event"] == "worker.items_left_waiting" and e["process"] == "night"
               for e in logs)


def test_a_process_whose_bot_cannot_load_is_skipped_and_the_others_served(
        store: InMemoryStore) -> None:
    store.upsert_process(make_spec("orphan", bot="no-such-bot"), actor="test")
    store.enqueue("invoices", items(3), actor="test")
    store.enqueue("orphan", items(2, prefix="o"), actor="test")
    with capture_logs() as logs:
        report = asyncio.run(make_worker(store, scripted()).run())
    assert report.done == 3
    assert statuses(store) == {"r0": "done", "r1": "done", "r2": "done",
                               "o0": "new", "o1": "new"}  # untouched: no attempt burned
    skipped = [e for e in logs if e["event"] == "worker.process_skipped"]
    assert len(skipped) == 1 and skipped[0]["process"] == "orphan"
    assert "no-such-bot" in skipped[0]["error"]


def test_naming_only_processes_whose_bot_cannot_load_is_refused(
        store: InMemoryStore) -> None:
    from bots import UnknownBot
    store.upsert_process(make_spec("orphan", bot="no-such-bot"), actor="test")
    with pytest.raises(UnknownBot, match="no-such-bot"):
        asyncio.run(make_worker(store, scripted(), processes=["orphan"]).run())


def test_a_bot_whose_module_is_missing_is_an_unknown_bot() -> None:
    from bots import UnknownBot, load_bot
    from bots._registry import BUILTIN
    BUILTIN["broken-test-bot"] = "no_such_module_anywhere:Bot"
    try:
        with pytest.raises(UnknownBot, match="cannot be loaded: ModuleNotFoundError"):
            load_bot("broken-test-bot")
    finally:
        del BUILTIN["broken-test-bot"]


def test_a_bot_sees_which_item_it_is_on(store: InMemoryStore) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from bots import ItemInfo
    from orchestrator.worker.evidence import EvidenceDir
    from orchestrator.worker.slot import Slot, SlotEnv
    store.enqueue("invoices", items(1), actor="test")
    (item,) = store.claim("invoices", "w")
    env = SlotEnv(browser=None, evidence_root=Path("/nonexistent"),  # type: ignore[arg-type]
                  credentials=lambda name: None)
    ctx = Slot(0, env)._context_for(item, {},
                                    EvidenceDir(Path("/nonexistent"), "invoices", item.id, 1))
    assert ctx.item == ItemInfo(
        id=item.id, reference="r0", process="invoices", attempt=1, attempt_limit=3,
        enqueued_at=datetime.fromtimestamp(store.get_item(item.id).created_at, UTC))


def test_a_slot_that_raises_fails_the_item_instead_of_hanging_the_worker(
        store: InMemoryStore) -> None:
    def broken(item: ClaimedItem) -> Outcome:
        raise TypeError("a slot bug")

    store.enqueue("invoices", items(2), actor="test")
    with capture_logs() as logs:
        report = asyncio.run(asyncio.wait_for(make_worker(store, scripted(broken)).run(), 20))
    assert report.application == 2 * 3  # every attempt of both items, then dead
    assert set(statuses(store).values()) == {"dead"}
    assert any(entry["event"] == "slot.failed" for entry in logs)
