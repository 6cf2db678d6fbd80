"""The worker, dispatcher, gate and scheduler on the in-memory store: no database, no
browser. Slots run a script instead of a bot in Chromium (`ScriptedSlot`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.worker.loop import Worker, WorkerOptions
from orchestrator.worker.slot import Outcome, Slot, SlotEnv
from queues import ClaimedItem
from queues.testing import InMemoryStore
from tests.conftest import make_spec

Script = Callable[[ClaimedItem], Outcome]


class FakeBrowser:
    """What the loop asks of a browser host: start, close, restarts."""

    restarts = 0
    connected = True
    generation = 1

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    def pid(self) -> int | None:
        return None


class ScriptedSlot(Slot):
    """A slot whose item takes `delay` seconds and ends as `script` says."""

    script: Script = staticmethod(lambda item: Outcome("done", output={"ok": item.id}))
    delay = 0.0
    running = 0
    most_at_once = 0

    async def run(self, bot: Any, item: ClaimedItem, config: dict[str, Any],
                  browser: Any = None) -> Outcome:
        cls = type(self)
        cls.running += 1
        cls.most_at_once = max(cls.most_at_once, cls.running)
        try:
            await asyncio.sleep(self.delay)
            return self.script(item)
        finally:
            cls.running -= 1

    async def close(self) -> None:
        """No browser context to close."""


def scripted(script: Script | None = None, delay: float = 0.0) -> type[ScriptedSlot]:
    """A fresh ScriptedSlot class (its counters are its own)."""
    attrs: dict[str, Any] = {"delay": delay, "running": 0, "most_at_once": 0}
    if script is not None:
        attrs["script"] = staticmethod(script)
    return type("Slots", (ScriptedSlot,), attrs)


@pytest.fixture
def store() -> InMemoryStore:
    s = InMemoryStore()
    s.upsert_process(make_spec("invoices", concurrency=2), actor="test")
    return s


def make_worker(store: InMemoryStore, slot_class: type[ScriptedSlot], *, hooks: Any = (),
                **options: Any) -> Worker:
    opts = WorkerOptions(**{"slots": 2, "until_empty": True, "idle_wait": 0.05,
                            "install_signals": False, "timezone": "Europe/Oslo", **options})
    return Worker(store, FakeBrowser(), opts,  # type: ignore[arg-type]
                  credentials=lambda name: None, evidence_root=None, hooks=hooks,
                  slot_factory=lambda i, env: slot_class(i, env))


__all__ = ["FakeBrowser", "ScriptedSlot", "SlotEnv", "make_worker", "scripted"]
