"""Finding, launching, watching and restarting the browser the bots share.

The browser is found by itself: `RPA_BROWSER_PATH`, else a system Chromium,
else Playwright's own download. `RPA_BROWSER_WS` connects to a remote
`playwright run-server` instead (scale-out), passing the executable and flags
in the launch-options header. The flags below keep Chromium from hanging on a
closed network or in a container.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from orchestrator.errors import BrowserUnavailable

__all__ = ["BrowserHost", "BrowserUnavailable", "find_browser"]

log = structlog.get_logger("worker.browser")

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",
]
SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@contextmanager
def _driver_in_own_session() -> Iterator[None]:
    """Start Playwright's driver (and so the browser) in a session of its own.

    Ctrl-C at a terminal signals the whole process group: the driver and the
    browser died with the first signal, before the worker could let its items
    in flight finish as it promises. In a session of their own they hear only
    the worker, which closes them when it is done; if the worker is killed, the
    driver sees its pipe close and takes the browser down with it.
    """
    original = asyncio.create_subprocess_exec

    async def spawn(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        kwargs.setdefault("start_new_session", True)
        return await original(*args, **kwargs)

    asyncio.create_subprocess_exec = spawn
    try:
        yield
    finally:
        asyncio.create_subprocess_exec = original


def find_browser(explicit: str | None = None) -> str | None:
    """Path of the browser to launch; None means Playwright's own build."""
    if explicit:
        if not Path(explicit).exists():
            raise BrowserUnavailable(f"RPA_BROWSER_PATH={explicit} does not exist")
        return explicit
    for name in SYSTEM_BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserHost:
    """Owns the Playwright driver and one browser; restarts it when it dies."""

    def __init__(self, *, executable: str | None = None, ws_endpoint: str | None = None,
                 headless: bool = True, slow_mo: float = 0.0):
        self.executable = executable
        self.ws_endpoint = ws_endpoint
        self.headless = headless
        self.slow_mo = slow_mo  # ms between actions, to watch a bot work (`rpa bot run`)
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self.generation = 0  # bumps on every (re)start: contexts of older ones are dead
        self.restarts = 0
        self._restart_lock = asyncio.Lock()

    async def start(self) -> None:
        if self._pw is None:
            with _driver_in_own_session():
                self._pw = await async_playwright().start()
        await self._launch()

    async def _launch(self) -> None:
        assert self._pw is not None
        chromium = self._pw.chromium
        try:
            if self.ws_endpoint:
                options: dict[str, Any] = {"args": CHROMIUM_ARGS, "headless": self.headless}
                if self.executable:
                    options["executablePath"] = self.executable
                self._browser = await chromium.connect(
                    self.ws_endpoint,
                    headers={"x-playwright-launch-options": json.dumps(options)})
            else:
                self._browser = await chromium.launch(
                    executable_path=self.executable, args=CHROMIUM_ARGS,
                    headless=self.headless, slow_mo=self.slow_mo)
        except Exception as err:
            where = self.ws_endpoint or self.executable or "Playwright's own Chromium"
            raise BrowserUnavailable(f"cannot start the browser ({where}): {err}") from err
        self.generation += 1
        log.info("browser.started", generation=self.generation,
                 remote=bool(self.ws_endpoint), executable=self.executable)

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def new_context(self, options: Mapping[str, Any] | None = None) -> BrowserContext:
        """A fresh context: Playwright's `new_context` arguments, by default a 1280 x 900
        window (what the bots' authors see unless a process file asks for another)."""
        if not self.connected:
            await self.ensure_alive("browser not connected")
        assert self._browser is not None
        return await self._browser.new_context(
            **(options or {"viewport": {"width": 1280, "height": 900}}))

    async def ensure_alive(self, reason: str) -> None:
        """Restart the browser unless it is connected (or another slot just restarted it)."""
        async with self._restart_lock:
            if not self.connected:
                await self._restart(reason)

    async def restart(self, reason: str) -> None:
        """Throw the browser away and start a fresh one."""
        async with self._restart_lock:
            await self._restart(reason)

    async def _restart(self, reason: str) -> None:
        log.warning("browser.restarting", reason=reason)
        self.restarts += 1
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception as err:  # already dead: nothing to close
                log.debug("browser.close_failed", error=str(err))
        await self._launch()

    async def close(self) -> None:
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception as err:
                log.debug("browser.close_failed", error=str(err))
            self._browser = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None

    def pid(self) -> int | None:
        """The local browser's main process id (Linux), e.g. for tests that kill it.

        Playwright does not expose it, so it is looked up: the newest process
        under this one that Playwright drives over a pipe, without `--type=`
        (renderers, GPU and utility processes carry one; crashpad no pipe).
        """
        if self.ws_endpoint or not self.connected:
            return None
        return newest_browser_pid(os.getpid())


def newest_browser_pid(ancestor: int) -> int | None:
    """The newest browser main process descending from `ancestor`, from /proc."""
    parents: dict[int, int] = {}
    mains: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if b"--remote-debugging-pipe" in cmdline and not any(
                arg.startswith(b"--type=") for arg in cmdline):
            mains.append(pid)

    def descends(pid: int) -> bool:
        for _ in range(32):
            pid = parents.get(pid, 0)
            if pid == ancestor:
                return True
            if pid <= 1:
                return False
        return False

    ours = [pid for pid in mains if descends(pid)]
    return max(ours) if ours else None
