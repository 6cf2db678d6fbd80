"""A credential read by one item never lands in a later item's stored texts, in any encoding.

A real worker with one slot and a real Chromium: the bot logs in with its
credential on the first item only (the slot keeps the session), then later items
fail or answer with the password in clear, base64, URL-encoded and as an HTTP
Basic pair. None of it may reach `attempts.error_message` or an item's output.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote_plus

import pytest
from pydantic import BaseModel, ConfigDict

from bots import Bot, BotContext, BusinessRuleError
from bots import _registry as registry
from orchestrator.credentials import CredentialVault
from orchestrator.process_config import ProcessConfig
from orchestrator.scrubbing import SECRETS
from queues import ItemFilter, NewItem
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import Pipeline

pipeline = fixtures.pipeline

USER, PASSWORD = "robot-7", "Kv1tt3r!ng/2026+x"
PAGE = "data:text/html,<title>leaky</title><h1>Form</h1>"


def forms() -> dict[str, str]:
    raw = PASSWORD.encode()
    return {"clear": PASSWORD, "base64": base64.b64encode(raw).decode(),
            "urlsafe": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "url": quote_plus(PASSWORD),
            "basic": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


class Leak(BaseModel):
    model_config = ConfigDict(extra="allow")

    leak: str = "none"


class LeakyBot(Bot):
    """Reads its credential at login (once per slot), then leaks it as the item says."""

    name = "leaky"
    Input = Leak
    seen: ClassVar[str] = ""

    async def login(self, page: Any, ctx: BotContext) -> None:
        type(self).seen = ctx.credentials("leaky-login").password
        await page.goto(PAGE)

    async def handle(self, item: Leak, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.goto(PAGE)
        assert self.seen == PASSWORD
        if item.leak == "none":
            return {"ok": True}
        shown = forms()[item.leak.removeprefix("business-").removeprefix("output-")]
        if item.leak.startswith("business-"):
            raise BusinessRuleError(f"the portal answered: wrong code {shown}", code="LEAK")
        if item.leak.startswith("output-"):
            return {"echo": f"token {shown}", "nested": [{"again": shown}]}
        raise RuntimeError(f"POST /login failed; Authorization: Basic {shown}")


@pytest.fixture
def leaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.BUILTIN, "leaky", f"{__name__}:LeakyBot")
    yield
    SECRETS.forget()


def test_a_credential_from_an_earlier_item_is_scrubbed_in_every_form(
        pipeline: Pipeline, leaky: None) -> None:
    CredentialVault(pipeline.store, pipeline.settings, actor="test").set(
        "leaky-login", USER, PASSWORD)
    config = ProcessConfig(name="leaks", owner="Tests", cost_centre="1", bot="leaky",
                           manual_minutes_per_item=1, retry={"max_attempts": 1},
                           breaker={"enabled": False})  # five leaks in a row would trip it
    pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")
    leaks = ["none"] + [f"{p}{f}" for p in ("", "business-", "output-") for f in forms()]
    pipeline.store.enqueue("leaks", [NewItem(f"L-{i}", {"leak": leak})
                                     for i, leak in enumerate(leaks)], actor="test:e2e")
    report = pipeline.run(slots=1)
    assert (report.done, report.business, report.application) == (6, 5, 5)

    stored: list[str] = []
    for row in pipeline.store.list_items(ItemFilter(process="leaks", limit=0)):
        item = pipeline.store.get_item(row.id)
        stored.append(repr(item.output))
        stored += [a.error_message or "" for a in item.history]
    text = "\n".join(stored)
    assert text.count("***") >= 15  # every leak was there, and masked
    for name, form in forms().items():
        assert form not in text, f"the {name} form survived"
