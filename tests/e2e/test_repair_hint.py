"""A bot written against the invoice portal's ids and names meets the portal after its
upgrade (the bundled layout-change switch: other ids and names, the same labels). The
attempt fails, and its error tells the owner what changed and what is there now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from bots import Bot, BotContext
from bots import _registry as registry
from orchestrator.process_config import ProcessConfig
from queues import NewItem
from targets import Misbehaviour, TargetServer
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import Pipeline

pipeline = fixtures.pipeline
portals = fixtures.portals


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")


class BrittleBot(Bot):
    """Logs in by the form's `name` attributes, as a recorder would write it."""

    name = "brittle"
    Input = Anything

    async def login(self, page: Any, ctx: BotContext) -> None:
        await page.goto(ctx.config["base_url"] + "/login")
        await page.locator("input[name=username]").fill("approver", timeout=1500)
        await page.locator("input[name=password]").fill("approver-pass", timeout=1500)
        await page.get_by_role("button", name="Log in").click()

    async def handle(self, item: Anything, page: Any, ctx: BotContext) -> dict[str, Any]:
        return {"ok": True}


@pytest.mark.parametrize("upgraded", [False, True])
def test_the_upgrade_breaks_the_login_and_the_hint_says_why(
        pipeline: Pipeline, portals: Callable[..., TargetServer],
        monkeypatch: pytest.MonkeyPatch, upgraded: bool) -> None:
    monkeypatch.setitem(registry.BUILTIN, "brittle", f"{__name__}:BrittleBot")
    server = portals("invoice", count=4, misbehaviour=Misbehaviour(changed_layout=upgraded))
    config = ProcessConfig(name="brittle", owner="Tests", cost_centre="1", bot="brittle",
                           manual_minutes_per_item=1, retry={"max_attempts": 1},
                           bot_config={"base_url": server.url})
    pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")
    pipeline.store.enqueue("brittle", [NewItem("B-1", {})], actor="test:e2e")
    pipeline.run(slots=1)
    item = pipeline.items("brittle")["B-1"]
    if not upgraded:
        assert item.status == "done"  # the bot works against the layout it was written for
        return
    assert item.status == "dead"
    assert "Repair hint: selector 'input[name=username]' not found; closest: textbox " \
           "'Username'" in (item.error_message or ""), item.error_message
