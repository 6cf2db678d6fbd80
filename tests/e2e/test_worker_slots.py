"""How the worker treats its slots, with a real Chromium and a real SQLite file.

Test bots below count their logins and fail on request; they are registered
under built-in names for the length of a test. What is checked: a gateway-type
error keeps the slot's login, a second one in a row starts afresh; processes
take turns for scarce slots; a hung login is bounded; `--until-empty` does not
wait for a closed working-hours window; light traces become full ones on retry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from bots import Bot, BotContext
from bots import _registry as registry
from orchestrator.process_config import ProcessConfig
from queues import ItemFilter, NewItem
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import Pipeline

pipeline = fixtures.pipeline

PAGE = "data:text/html,<title>slot test</title><h1>Form</h1><label>Name <input></label>"


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")

    fail: bool = False


class CountingBot(Bot):
    """Logs in (counted), opens a page, fails when the payload says so."""

    name = "counting"
    Input = Order
    logins: ClassVar[int] = 0

    async def login(self, page: Any, ctx: BotContext) -> None:
        type(self).logins += 1
        await page.goto(PAGE)

    async def handle(self, item: Order, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.goto(PAGE)
        await page.get_by_label("Name").fill("Kari Nordmann")
        if item.fail:
            raise RuntimeError("HTTP 503 from the target")
        return {"ok": True}


class HangingLoginBot(CountingBot):
    """A login page that never answers."""

    name = "hanging-login"
    login_timeout = 0.5

    async def login(self, page: Any, ctx: BotContext) -> None:
        await asyncio.sleep(30)


@pytest.fixture
def bots(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.BUILTIN, "counting", f"{__name__}:CountingBot")
    monkeypatch.setitem(registry.BUILTIN, "hanging-login", f"{__name__}:HangingLoginBot")
    CountingBot.logins = 0
    yield


def register(pipeline: Pipeline, name: str, bot: str = "counting", **extra: Any) -> None:
    config = ProcessConfig(name=name, owner="Tests", cost_centre="1", bot=bot,
                           manual_minutes_per_item=1, concurrency=4,
                           retry=extra.pop("retry", {"max_attempts": 1}), **extra)
    pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")


def enqueue(pipeline: Pipeline, process: str, fails: list[bool]) -> None:
    pipeline.store.enqueue(process, [NewItem(f"{process}-{i}", {"fail": f})
                                     for i, f in enumerate(fails)], actor="test:e2e")


def history(pipeline: Pipeline, process: str) -> list[Any]:
    return [pipeline.store.get_item(i.id)
            for i in pipeline.store.list_items(ItemFilter(process=process, limit=0))]


def test_an_application_error_keeps_the_login_and_a_second_in_a_row_does_not(
        pipeline: Pipeline, bots: None) -> None:
    register(pipeline, "single-errors")
    enqueue(pipeline, "single-errors", [False, True, False, True, False])
    report = pipeline.run(slots=1)
    assert (report.done, report.application) == (3, 2)
    assert CountingBot.logins == 1, "a lone error must not cost a re-login"

    register(pipeline, "errors-in-a-row")
    enqueue(pipeline, "errors-in-a-row", [True, True, False])
    pipeline.run(slots=1, processes=["errors-in-a-row"])
    # a new worker logs in once, then again after two errors in a row (a fresh context)
    assert CountingBot.logins == 1 + 2
    failed = [a for item in history(pipeline, "single-errors") for a in item.history
              if a.outcome == "application_error"]
    assert len(failed) == 2
    for attempt in failed:  # the evidence of each failure: screenshot and page HTML
        assert Path(attempt.evidence["screenshot"]).read_bytes()[:4] == b"\x89PNG"
        assert "slot test" in Path(attempt.evidence["page"]).read_text()


def test_processes_take_turns_for_a_single_slot(pipeline: Pipeline, bots: None) -> None:
    for name in ("first", "second"):
        register(pipeline, name)
        enqueue(pipeline, name, [False] * 3)
    order: list[str] = []
    pipeline.run(lambda item, _outcome: order.append(item.process), slots=1)
    assert sorted(order) == ["first"] * 3 + ["second"] * 3
    assert all(a != b for a, b in itertools.pairwise(order)), order


def test_a_hung_login_fails_the_attempt_in_bounded_time(
        pipeline: Pipeline, bots: None) -> None:
    register(pipeline, "hangs", bot="hanging-login")
    enqueue(pipeline, "hangs", [False])
    started = time.monotonic()
    report = pipeline.run(slots=1)
    assert report.application == 1 and time.monotonic() - started < 20
    (item,) = history(pipeline, "hangs")
    assert item.status == "dead"
    assert item.history[-1].error_message == "the login took longer than 0.5s"


def test_until_empty_does_not_wait_for_a_closed_window(
        pipeline: Pipeline, bots: None) -> None:
    today = date.today()
    closed = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]
    register(pipeline, "closed-today", holidays={"calendar": "none", "dates": closed})
    enqueue(pipeline, "closed-today", [False, False])
    started = time.monotonic()
    report = pipeline.run(slots=1)
    assert report.done == 0 and time.monotonic() - started < 30
    assert {i.status for i in history(pipeline, "closed-today")} == {"new"}


def trace_events(path: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".trace")]
        return [json.loads(line) for n in names
                for line in archive.read(n).decode().splitlines() if line.strip()]


def test_light_traces_on_first_attempts_and_full_ones_on_retries(
        pipeline: Pipeline, bots: None) -> None:
    register(pipeline, "traced", retry={"max_attempts": 2, "backoff": 0.1, "backoff_max": 0.2})
    enqueue(pipeline, "traced", [True])
    report = pipeline.run(slots=1, trace="light")
    assert report.application == 2
    (item,) = history(pipeline, "traced")
    first, second = item.history
    light, full = trace_events(first.evidence["trace"]), trace_events(second.evidence["trace"])
    for events in (light, full):  # both show what the bot did, none shows the login
        assert any(e.get("method") == "fill" for e in events)
        assert sum(e.get("method") == "goto" for e in events) == 1
    assert not any(e.get("type") == "frame-snapshot" for e in light)
    assert any(e.get("type") == "frame-snapshot" for e in full)


def test_trace_off_records_none_but_keeps_the_screenshot(
        pipeline: Pipeline, bots: None) -> None:
    register(pipeline, "untraced")
    enqueue(pipeline, "untraced", [True])
    pipeline.run(slots=1, trace="off")
    (item,) = history(pipeline, "untraced")
    assert "trace" not in item.history[0].evidence
    assert Path(item.history[0].evidence["screenshot"]).is_file()


class LoggingOutBot(CountingBot):
    """Logs out when its context goes (counted), and once it fails to."""

    name = "logging-out"
    closes: ClassVar[list[str]] = []

    async def close(self, page: Any, ctx: BotContext) -> None:
        assert ctx.item is None
        type(self).closes.append(ctx.config.get("tag", ""))
        await page.goto(PAGE)


def test_a_bot_logs_out_when_its_context_goes(pipeline: Pipeline,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "logging-out", f"{__name__}:LoggingOutBot")
    LoggingOutBot.closes = []
    register(pipeline, "with-logout", bot="logging-out", bot_config={"tag": "first"})
    # two errors in a row drop the context (a log-out), then the worker stops (another)
    enqueue(pipeline, "with-logout", [True, True, False])
    report = pipeline.run(slots=1)
    assert (report.done, report.application) == (1, 2)
    assert LoggingOutBot.closes == ["first", "first"]


UPGRADED = ("data:text/html,<h1>Faktura</h1><button>Godkjenn faktura</button>"
            "<a href='/alle'>Godkjenn alle</a><button>Avvis</button>")


class ApprovingBot(CountingBot):
    """Looks for the button the target had before its upgrade."""

    name = "approving"
    item_timeout = 5.0

    async def handle(self, item: Order, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.goto(UPGRADED)
        await page.get_by_role("button", name="Godkjenn", exact=True).click(timeout=500)
        return {"ok": True}


def test_a_broken_locator_leaves_a_repair_hint(pipeline: Pipeline,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "approving", f"{__name__}:ApprovingBot")
    register(pipeline, "approvals", bot="approving")
    enqueue(pipeline, "approvals", [False])
    pipeline.run(slots=1)
    [item] = history(pipeline, "approvals")
    assert item.status == "dead"
    assert "Repair hint: button 'Godkjenn' not found; closest: button 'Godkjenn faktura', " \
           "link 'Godkjenn alle'" in (item.error_message or "")
