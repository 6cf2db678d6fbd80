"""A slot runs one item at a time in its own browser context.

The context (and the bot's login in it) is kept from item to item when the bot
allows it, so a logged-in session serves many items. A slot keeps one such
session per bot (up to `MAX_SESSIONS`), so a worker whose slots take turns
between processes does not log in again at every switch. A failure fails the
item, never the worker: the slot records evidence, reports the outcome to the
store and, when the browser itself broke, asks for a fresh one. A gateway
error keeps the context; a hang, or a second error in a row, starts a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import BrowserContext, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import BaseModel, ValidationError

from bots import Bot, BotContext, BusinessRuleError, Credential, ItemInfo, SessionExpired
from orchestrator.scrubbing import SECRETS
from orchestrator.worker.browser import BrowserHost
from orchestrator.worker.evidence import EvidenceDir
from orchestrator.worker.repair_hints import hint_for
from orchestrator.worker.tracing import TraceMode, TraceRecorder
from queues import ClaimedItem

log = structlog.get_logger("worker.slot")
FRESH_CONTEXT_AFTER = 2
"""Application errors in a row after which a slot starts over in a fresh context."""
MAX_SESSIONS = 4
DEFAULT_VIEWPORT = (1280, 900)  # a process's `browser: {viewport: [w, h]}` changes it
"""Logged-in contexts a slot keeps, one per bot; the least recently used goes first."""


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


@dataclass
class SlotEnv:
    """What every slot of a worker shares."""

    browser: BrowserHost
    evidence_root: Any
    credentials: Any  # Callable[[str], Credential]
    trace: TraceMode = "light"


@dataclass
class _Session:
    """One bot's browser context in a slot, and whether the bot is logged in there."""

    bot_name: str
    context: BrowserContext
    page: Page
    generation: int  # the browser's, when the context was opened
    logged_in: bool = False
    failures: int = 0  # application errors in a row in this context
    options: str = ""  # the process's `browser:` settings the context was made with
    bot: Bot | None = None  # for its `close` (a log-out) when the context goes
    config: dict[str, Any] = field(default_factory=dict)  # the bot_config it last ran with


def _no_evidence(name: str, data: bytes) -> Path:
    """Evidence belongs to an item's attempt; a bot's `close` has none."""
    raise RuntimeError(f"evidence {name!r} in close(): attach evidence while handling an item")


class Slot:
    """One concurrent lane of a worker: its bots' browser contexts, one item at a time."""

    def __init__(self, index: int, env: SlotEnv):
        self.index = index
        self.env = env
        self._sessions: OrderedDict[str, _Session] = OrderedDict()  # bot name, LRU last
        self._current: _Session | None = None  # the session of the current (or last) item
        self.busy = False
        self.current: ClaimedItem | None = None
        self.tracer = TraceRecorder(env.trace)

    @property
    def bot_name(self) -> str | None:
        """The bot of the slot's current (or last) item, while its context is kept."""
        return self._current.bot_name if self._current else None

    @property
    def page(self) -> Page | None:
        """The current item's page, for evidence."""
        return self._current.page if self._current else None

    def has_session(self, bot_name: str) -> bool:
        """Whether this slot holds a context for that bot (a login it may reuse)."""
        return bot_name in self._sessions

    def _usable(self, session: _Session, bot: Bot) -> bool:
        return (bot.reuse_context and self.env.browser.connected
                and session.generation == self.env.browser.generation
                and not session.page.is_closed())

    async def _ready(self, bot: Bot, browser: Mapping[str, Any] | None = None) -> _Session:
        """The bot's session in this slot: kept when still good, else a fresh context.

        A context is made with the process's `browser:` settings (window size, locale,
        ...); an item whose process asks for other settings gets a fresh one.
        """
        wanted = json.dumps(browser or {}, sort_keys=True)
        session = self._sessions.get(bot.name)
        if session is not None and (not self._usable(session, bot)
                                    or session.options != wanted):
            await self._drop(bot.name)
            session = None
        if session is not self._current:
            await self.tracer.suspend()  # trace one context at a time: the item's
            self._current = None
        if session is None:
            while len(self._sessions) >= MAX_SESSIONS:
                await self._drop(next(iter(self._sessions)))
            context = await self.env.browser.new_context(self._context_options(browser))
            try:
                page = await context.new_page()
            except BaseException:
                await self._close_context(context)
                raise
            session = self._sessions[bot.name] = _Session(bot.name, context, page,
                                                          self.env.browser.generation,
                                                          options=wanted, bot=bot)
        self._sessions.move_to_end(bot.name)
        self._current = session
        return session

    def _context_options(self, browser: Mapping[str, Any] | None) -> dict[str, Any]:
        """Playwright's `new_context` arguments for a process's `browser:` settings."""
        wanted = dict(browser or {})
        width, height = wanted.get("viewport") or DEFAULT_VIEWPORT
        options: dict[str, Any] = {"viewport": {"width": int(width), "height": int(height)},
                                   "accept_downloads": bool(wanted.get("accept_downloads",
                                                                       True))}
        for key, argument in (("locale", "locale"), ("timezone", "timezone_id"),
                              ("user_agent", "user_agent")):
            if wanted.get(key):
                options[argument] = wanted[key]
        if wanted.get("http_credentials"):
            cred: Credential = self.env.credentials(str(wanted["http_credentials"]))
            SECRETS.add(cred.password, username=cred.username)
            options["http_credentials"] = {"username": cred.username,
                                           "password": cred.password}
        return options

    async def _drop(self, bot_name: str) -> None:
        """Close one bot's context in this slot (its login goes with it)."""
        session = self._sessions.pop(bot_name, None)
        if session is None:
            return
        if session is self._current:
            self._current = None
            self.tracer.forget()
        await self._say_goodbye(session)
        await self._close_context(session.context)

    async def _say_goodbye(self, session: _Session) -> None:
        """The bot's `close` (a log-out) before its context goes; bounded, never raises."""
        bot = session.bot
        if bot is None or not session.logged_in or session.page.is_closed() \
                or type(bot).close is Bot.close:
            return
        ctx = BotContext(log=structlog.get_logger("bot").bind(slot=self.index, bot=bot.name),
                         config=session.config, credentials=self.env.credentials,
                         evidence=_no_evidence)
        try:
            await asyncio.wait_for(bot.close(session.page, ctx), bot.login_timeout)
        except Exception as err:  # a failed log-out must not keep the slot from closing
            log.warning("bot.close_failed", bot=bot.name, error=str(err))

    @staticmethod
    async def _close_context(context: BrowserContext) -> None:
        try:
            await asyncio.wait_for(context.close(), timeout=5)
        except Exception as err:  # a dead browser cannot close its contexts
            log.debug("slot.context_close_failed", error=str(err))

    async def close(self) -> None:
        """Close every context of this slot (the worker stops)."""
        for name in list(self._sessions):
            await self._drop(name)
        self.tracer.forget()

    def _context_for(self, item: ClaimedItem, config: dict[str, Any],
                     evidence: EvidenceDir) -> BotContext:
        def credentials(name: str) -> Credential:
            cred: Credential = self.env.credentials(name)
            # for the life of the process: the session outlives this item (see scrubbing)
            SECRETS.add(cred.password, username=cred.username)
            return cred

        def attach(name: str, data: bytes) -> Any:
            given = Path(name).suffix  # "receipt.pdf": a download keeps its kind
            if given and given[1:].isalnum():
                return evidence.save(name[: -len(given)], data, given.lower())
            suffix = ".png" if data[:4] == b"\x89PNG" else ".bin"
            return evidence.save(name, data, suffix)

        logger = structlog.get_logger("bot").bind(item_id=item.id, process=item.process,
                                                  attempt=item.attempt, slot=self.index)
        enqueued = (None if item.enqueued_at is None
                    else datetime.fromtimestamp(item.enqueued_at, UTC))
        info = ItemInfo(id=item.id, reference=item.reference, process=item.process,
                        attempt=item.attempt, attempt_limit=item.attempt_limit,
                        enqueued_at=enqueued)
        return BotContext(log=logger, config=config, credentials=credentials, evidence=attach,
                          item=info)

    async def run(self, bot: Bot, item: ClaimedItem, config: dict[str, Any],
                  browser: Mapping[str, Any] | None = None) -> Outcome:
        """Do one item; never raises except on cancellation."""
        started = time.perf_counter()
        evidence = EvidenceDir(self.env.evidence_root, item.process, item.id, item.attempt)
        ctx = self._context_for(item, config, evidence)
        try:
            data = bot.Input.model_validate(item.payload)
        except ValidationError as err:
            # only the payload's own validation blames the data; a bot's bad output is a bug
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return Outcome("business", code="INVALID_INPUT", error_type="BusinessRuleError",
                           message=f"payload field {where!r}: {first['msg']}",
                           seconds=time.perf_counter() - started)
        step = "the item"
        try:
            session = await self._ready(bot, browser)
            session.config = config
            page = session.page
            if not session.logged_in:
                step = "the login"
                await asyncio.wait_for(bot.login(page, ctx), bot.login_timeout)
                session.logged_in = True
            await self.tracer.begin(session.context, item.attempt)
            step = "the item"
            try:
                result = await asyncio.wait_for(bot.handle(data, page, ctx), bot.item_timeout)
            except SessionExpired:
                ctx.log.info("bot.session_expired")
                await self.tracer.suspend()  # never record a password being typed
                step = "the login"
                await asyncio.wait_for(bot.login(page, ctx), bot.login_timeout)
                await self.tracer.begin(session.context, item.attempt)
                step = "the item"
                result = await asyncio.wait_for(bot.handle(data, page, ctx), bot.item_timeout)
            output = SECRETS.scrub_value(self._output(bot, result))
            await self.tracer.discard()
            session.failures = 0
            return Outcome("done", output=output, evidence=evidence.files,
                           seconds=time.perf_counter() - started)
        except BusinessRuleError as err:
            await self._capture(evidence, keep_trace=False)
            if self._current is not None:
                self._current.failures = 0  # the target answered: the context is fine
            return Outcome("business", code=err.code, error_type="BusinessRuleError",
                           message=SECRETS.scrub(err.message), evidence=evidence.files,
                           seconds=time.perf_counter() - started)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            timed_out = isinstance(err, TimeoutError)
            hint = (await hint_for(self.page, str(err))
                    if isinstance(err, PlaywrightTimeout) else None)
            await self._capture(evidence, keep_trace=True)
            await self._recover(timed_out)
            limit = bot.login_timeout if step == "the login" else bot.item_timeout
            message = (f"{step} took longer than {limit:g}s" if timed_out
                       else str(err).strip().splitlines()[0] if str(err).strip()
                       else type(err).__name__)
            if hint:
                message = f"{message} Repair hint: {hint}"
            return Outcome("application", error_type=type(err).__name__,
                           message=SECRETS.scrub(message)[:2000], evidence=evidence.files,
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

    async def _capture(self, evidence: EvidenceDir, *, keep_trace: bool) -> None:
        """Screenshot, page HTML (and trace) of the failure; best effort, bounded in time."""
        if self.page is not None and self.env.browser.connected:
            try:
                shot = await asyncio.wait_for(self.page.screenshot(full_page=True), timeout=10)
                evidence.save("screenshot", shot, ".png")
                html = await asyncio.wait_for(self.page.content(), timeout=5)
                evidence.save("page", html.encode("utf-8"), ".html")
            except Exception as err:
                log.debug("slot.screenshot_failed", error=str(err))
        if not keep_trace:
            await self.tracer.discard()
            return
        path = evidence.path("trace", ".zip")
        if await self.tracer.keep(path):
            evidence.note("trace", path)

    async def _recover(self, timed_out: bool) -> None:
        """After an application error: keep the context unless it may be the cause.

        A 503 or a slow page says nothing against the context and its login, so
        it is kept (no re-login per gateway error). A timeout, a closed page, a
        dead browser or a second failure in a row gets a fresh context, and a
        browser that stopped answering is restarted.
        """
        session = self._current  # None: the context could not even be opened
        if session is not None:
            session.failures += 1
        if not self.env.browser.connected:
            await self.env.browser.ensure_alive("the browser died during an item")
        elif timed_out:
            try:
                probe = await asyncio.wait_for(self.env.browser.new_context(), timeout=10)
                await probe.close()
            except Exception:
                await self.env.browser.restart("the browser stopped answering")
        if session is None:
            return
        healthy = (self.env.browser.connected
                   and session.generation == self.env.browser.generation
                   and not session.page.is_closed())
        if timed_out or not healthy or session.failures >= FRESH_CONTEXT_AFTER:
            await self._drop(session.bot_name)
