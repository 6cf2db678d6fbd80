"""A slot runs one item at a time in its own browser context.

The context (and the bot's login in it) is kept from item to item when the bot
allows it, so a logged-in session serves many items. A failure fails the item,
never the worker: the slot records evidence, reports the outcome to the store
and, when the browser itself broke, asks for a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from playwright.async_api import BrowserContext, Page
from pydantic import BaseModel, ValidationError

from bots import Bot, BotContext, BusinessRuleError, Credential, SessionExpired
from orchestrator.worker.browser import BrowserHost
from orchestrator.worker.evidence import EvidenceDir
from queues import ClaimedItem

log = structlog.get_logger("worker.slot")


@dataclass
class Outcome:
    """What happened to one item, for the store and the progress display."""

    kind: str  # done | business | application
    output: dict[str, Any] | None = None
    code: str | None = None
    error_type: str | None = None
    message: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class Secrets:
    """Secret values handed out during an attempt, to scrub from any error text."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            if value and len(value) >= 3:
                text = text.replace(value, "***")
        return text


@dataclass
class SlotEnv:
    """What every slot of a worker shares."""

    browser: BrowserHost
    evidence_root: Any
    credentials: Any  # Callable[[str], Credential]
    trace: bool = True


class Slot:
    """One concurrent lane of a worker: a browser context and the bot using it."""

    def __init__(self, index: int, env: SlotEnv):
        self.index = index
        self.env = env
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.bot_name: str | None = None
        self.generation = -1
        self.logged_in = False
        self.busy = False
        self.current: ClaimedItem | None = None

    async def _fresh_context(self) -> None:
        await self.close()
        self.context = await self.env.browser.new_context()
        self.generation = self.env.browser.generation
        self.page = await self.context.new_page()
        self.logged_in = False

    async def _ready(self, bot: Bot) -> Page:
        stale = (self.context is None or self.generation != self.env.browser.generation
                 or not self.env.browser.connected or self.bot_name != bot.name
                 or not bot.reuse_context or self.page is None or self.page.is_closed())
        if stale:
            await self._fresh_context()
            self.bot_name = bot.name
        assert self.page is not None
        return self.page

    async def close(self) -> None:
        context, self.context, self.page = self.context, None, None
        self.logged_in = False
        if context is not None:
            try:
                await asyncio.wait_for(context.close(), timeout=5)
            except Exception as err:  # a dead browser cannot close its contexts
                log.debug("slot.context_close_failed", slot=self.index, error=str(err))

    def _context_for(self, item: ClaimedItem, config: dict[str, Any], secrets: Secrets,
                     evidence: EvidenceDir) -> BotContext:
        def credentials(name: str) -> Credential:
            cred: Credential = self.env.credentials(name)
            secrets.values.add(cred.password)
            return cred

        def attach(name: str, data: bytes) -> Any:
            suffix = ".png" if data[:4] == b"\x89PNG" else ".bin"
            return evidence.save(name, data, suffix)

        logger = structlog.get_logger("bot").bind(item_id=item.id, process=item.process,
                                                  attempt=item.attempt, slot=self.index)
        return BotContext(log=logger, config=config, credentials=credentials, evidence=attach)

    async def run(self, bot: Bot, item: ClaimedItem, config: dict[str, Any]) -> Outcome:
        """Do one item; never raises except on cancellation."""
        started = time.perf_counter()
        secrets = Secrets()
        evidence = EvidenceDir(self.env.evidence_root, item.process, item.id, item.attempt)
        ctx = self._context_for(item, config, secrets, evidence)
        tracing = False
        try:
            data = bot.Input.model_validate(item.payload)
        except ValidationError as err:
            # only the payload's own validation blames the data; a bot's bad output is a bug
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return Outcome("business", code="INVALID_INPUT", error_type="BusinessRuleError",
                           message=f"payload field {where!r}: {first['msg']}",
                           seconds=time.perf_counter() - started)
        try:
            page = await self._ready(bot)
            if not self.logged_in:
                await bot.login(page, ctx)
                self.logged_in = True
            if self.env.trace and self.context is not None:
                # started after login, so no trace ever holds a typed password
                await self.context.tracing.start(screenshots=True, snapshots=True)
                tracing = True
            try:
                result = await asyncio.wait_for(bot.handle(data, page, ctx), bot.item_timeout)
            except SessionExpired:
                ctx.log.info("bot.session_expired")
                tracing = await self._pause_tracing(tracing)
                await bot.login(page, ctx)
                if self.env.trace and self.context is not None:
                    await self.context.tracing.start(screenshots=True, snapshots=True)
                    tracing = True
                result = await asyncio.wait_for(bot.handle(data, page, ctx), bot.item_timeout)
            output = self._output(bot, result)
            await self._pause_tracing(tracing)
            return Outcome("done", output=output, evidence=evidence.files,
                           seconds=time.perf_counter() - started)
        except BusinessRuleError as err:
            await self._capture(evidence, tracing, keep_trace=False)
            return Outcome("business", code=err.code, error_type="BusinessRuleError",
                           message=secrets.scrub(err.message), evidence=evidence.files,
                           seconds=time.perf_counter() - started)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            timed_out = isinstance(err, TimeoutError)
            await self._capture(evidence, tracing, keep_trace=True)
            await self._recover(timed_out)
            message = (f"the item took longer than {bot.item_timeout:g}s" if timed_out
                       else str(err).strip().splitlines()[0] if str(err).strip()
                       else type(err).__name__)
            return Outcome("application", error_type=type(err).__name__,
                           message=secrets.scrub(message)[:2000], evidence=evidence.files,
                           seconds=time.perf_counter() - started)
        finally:
            await ctx.aclose()

    @staticmethod
    def _output(bot: Bot, result: Any) -> dict[str, Any] | None:
        if result is None:
            return None
        if bot.Output is not None and not isinstance(result, BaseModel):
            result = bot.Output.model_validate(result)
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return dict(result)

    async def _pause_tracing(self, tracing: bool) -> bool:
        if tracing and self.context is not None:
            try:
                await self.context.tracing.stop()
            except Exception as err:
                log.debug("slot.trace_stop_failed", error=str(err))
        return False

    async def _capture(self, evidence: EvidenceDir, tracing: bool, *, keep_trace: bool) -> None:
        """Screenshot (and trace) of the failure; best effort, bounded in time."""
        if self.page is not None and self.env.browser.connected:
            try:
                shot = await asyncio.wait_for(self.page.screenshot(full_page=True), timeout=10)
                evidence.save("screenshot", shot, ".png")
            except Exception as err:
                log.debug("slot.screenshot_failed", error=str(err))
        if tracing and self.context is not None:
            try:
                if keep_trace:
                    path = evidence.path("trace", ".zip")
                    await asyncio.wait_for(self.context.tracing.stop(path=path), timeout=20)
                    evidence.note("trace", path)
                else:
                    await asyncio.wait_for(self.context.tracing.stop(), timeout=10)
            except Exception as err:
                log.debug("slot.trace_failed", error=str(err))

    async def _recover(self, timed_out: bool) -> None:
        """After an application error: a fresh context, and a fresh browser if it broke."""
        if not self.env.browser.connected:
            await self.env.browser.ensure_alive("the browser died during an item")
        elif timed_out:
            try:
                probe = await asyncio.wait_for(self.env.browser.new_context(), timeout=10)
                await probe.close()
            except Exception:
                await self.env.browser.restart("the browser stopped answering")
        await self.close()
