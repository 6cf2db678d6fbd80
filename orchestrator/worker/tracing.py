"""Playwright traces of attempts, recorded per item as chunks of one context trace.

Recording costs the browser real work on every step, so how much is recorded
is a choice (measured by bench/bot_bench.py on the invoice bot, about 340 ms
per item on this 2-core machine):

- `light` (default): actions, network and console, about 10 ms per item.
  Attempts after the first (the item failed before) are recorded `full`, so a
  failure that repeats comes with the whole picture at a price paid only then.
- `full`: also a DOM snapshot per step and the screencast, so the trace viewer
  replays the page: about 100 ms per item.
- `off`: nothing; a failure still gets its screenshot and page HTML.

A trace is kept only when an attempt fails with an application error. Login is
never recorded: tracing starts after it, and a re-login mid-item stops tracing
first, so no trace ever holds a typed password.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from orchestrator.worker.trace_modes import TRACE_MODES, TraceMode

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

log = structlog.get_logger("worker.trace")


class TraceRecorder:
    """The tracing state of one slot's browser context."""

    def __init__(self, mode: TraceMode):
        if mode not in TRACE_MODES:
            raise ValueError(f"trace mode {mode!r}: use one of {', '.join(TRACE_MODES)}")
        self.mode = mode
        self._context: BrowserContext | None = None
        self._full: bool | None = None  # what the context's tracing was started with
        self.recording = False

    def _wants_full(self, attempt: int) -> bool | None:
        if self.mode == "off":
            return None
        return self.mode == "full" or attempt > 1

    async def begin(self, context: BrowserContext, attempt: int) -> None:
        """Start recording the attempt (after any login); best effort.

        Evidence must never fail the work: if tracing cannot start (a state the
        recorder lost track of after an error), the attempt runs untraced and
        the context's tracing is reset for the next one.
        """
        full = self._wants_full(attempt)
        if full is None:
            return
        try:
            if self._context is not context or self._full != full:
                await self.suspend()
                await context.tracing.start(screenshots=full, snapshots=full)
                self._context, self._full = context, full
            await context.tracing.start_chunk()
            self.recording = True
        except Exception as err:
            log.warning("trace.start_failed", error=str(err))
            self.forget()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.tracing.stop(), timeout=10)

    async def discard(self) -> None:
        """The attempt needs no trace: drop its chunk, keep tracing the context."""
        if self.recording and self._context is not None:
            self.recording = False
            try:
                await asyncio.wait_for(self._context.tracing.stop_chunk(), timeout=10)
            except Exception as err:
                log.debug("trace.discard_failed", error=str(err))
                self.forget()

    async def keep(self, path: Path) -> bool:
        """Write the attempt's chunk to `path`; False when there was none or it failed."""
        if not (self.recording and self._context is not None):
            return False
        self.recording = False
        try:
            await asyncio.wait_for(self._context.tracing.stop_chunk(path=path), timeout=20)
            return True
        except Exception as err:
            log.debug("trace.keep_failed", error=str(err))
            self.forget()
            return False

    async def suspend(self) -> None:
        """Stop tracing the context altogether (before a login types a password)."""
        context, self._context, self._full = self._context, None, None
        self.recording = False
        if context is not None:
            try:
                await asyncio.wait_for(context.tracing.stop(), timeout=10)
            except Exception as err:
                log.debug("trace.stop_failed", error=str(err))

    def forget(self) -> None:
        """The context is gone (closed, or its browser died): nothing left to stop."""
        self._context, self._full, self.recording = None, None, False
