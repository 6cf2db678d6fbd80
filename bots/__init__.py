"""The bot SDK: everything a bot author imports.

    from bots import Bot, BotContext, BusinessRuleError

    class MyBot(Bot):
        name = "my-bot"
        Input = MyInput                      # a pydantic model
        async def login(self, page, ctx): ...
        async def handle(self, item, page, ctx): ...

Register a third-party bot with an entry point in its package:
`[project.entry-points."rpa.bots"] my-bot = "my_pkg.bot:MyBot"`.
"""

from __future__ import annotations

from bots._base import Bot
from bots._context import BotContext, Credential, ItemInfo
from bots._errors import BotError, BusinessRuleError, SessionExpired, TransientError
from bots._registry import UnknownBot, available, load_bot

__all__ = [
    "Bot",
    "BotContext",
    "BotError",
    "BusinessRuleError",
    "Credential",
    "ItemInfo",
    "SessionExpired",
    "TransientError",
    "UnknownBot",
    "available",
    "load_bot",
]
