"""The `Bot` base class: what a bot author writes.

A bot declares an input model (the payload is validated against it before
`handle` runs), may declare an output model, logs in once per browser context
and handles one item at a time. It raises `BusinessRuleError` when the data
breaks a rule; anything else is an application error that the queue retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from playwright.async_api import Page

    from bots._context import BotContext


class Bot:
    """Subclass, set `name` and `Input`, and implement `handle` (and `login`)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel] | None] = None
    # Keep the browser context (and its login) from one item to the next.
    reuse_context: ClassVar[bool] = True
    # Seconds one item may take before the attempt is failed as hung.
    item_timeout: ClassVar[float] = 60.0
    # Seconds a login may take (a hung login page must not hold a slot forever).
    login_timeout: ClassVar[float] = 60.0

    async def login(self, page: Page, ctx: BotContext) -> None:
        """Log in to the target; runs once per context and again after SessionExpired."""

    async def handle(self, item: Any, page: Page, ctx: BotContext) -> Any:
        """Do the work for one validated item; return the output (model or dict)."""
        raise NotImplementedError

    async def close(self, page: Page, ctx: BotContext) -> None:
        """Optional: log out before the slot drops this bot's context or shuts down.

        Runs only after a successful login, bounded by `login_timeout`; a failure is
        logged and the context closed anyway. `ctx.item` is None here.
        """

    @classmethod
    def input_fields(cls) -> dict[str, str]:
        """Field name -> type, for `rpa bots list`."""
        props = cls.Input.model_json_schema().get("properties", {})
        return {k: str(v.get("type", v.get("format", "any"))) for k, v in props.items()}
