"""A bot that does nothing but open a blank page: for benchmarks and smoke tests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bots import Bot, BotContext, BusinessRuleError


class NoopInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    fail: str | None = None  # "business" or "application", to exercise the worker


class NoopBot(Bot):
    name = "noop"
    description = "Does nothing; fails on request. For benchmarks and tests."
    Input = NoopInput

    async def handle(self, item: Any, page: Any, ctx: BotContext) -> dict[str, Any]:
        if item.fail == "business":
            raise BusinessRuleError("asked to fail", code="ASKED")
        if item.fail == "application":
            raise RuntimeError("asked to crash")
        return {"ok": True}
