"""`rpa bot run`: one or a few items through the worker's own slot, without a queue.

The same `Slot.run` the worker uses does the work: the same login, the same
`ctx` (credentials read from the store, audited), the same evidence, the same
timeouts and outcome rules, so what a bot author sees here is what production
will do. Nothing is enqueued, claimed or completed, and no report counts it.
Evidence goes to `<evidence>/runs/<time>/<n>/`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots import Bot, load_bot
from orchestrator.credentials import CredentialVault
from orchestrator.private_files import make_private_dir
from orchestrator.settings import Settings
from orchestrator.worker.browser import BrowserHost, find_browser
from orchestrator.worker.slot import Outcome, Slot, SlotEnv
from orchestrator.worker.trace_modes import TraceMode
from queues import ClaimedItem, QueueNotFound, Store


@dataclass(frozen=True)
class Target:
    """What to run: a bot, with the settings a process gives it (or none)."""

    label: str  # the process, or the bot's name
    bot: Bot
    config: dict[str, Any]
    browser: dict[str, Any]


def resolve(store: Store, name: str, config: Mapping[str, Any] | None = None) -> Target:
    """A registered process (its bot, bot_config and browser), else a bot by name."""
    try:
        info = store.get_process(name)
    except QueueNotFound:
        info = None
    if info is not None:
        definition = info.spec.definition
        merged = {**definition.get("bot_config", {}), **(config or {})}
        return Target(name, load_bot(info.spec.bot)(), merged,
                      dict(definition.get("browser") or {}))
    bot = load_bot(name)()  # UnknownBot names the known ones
    return Target(bot.name, bot, dict(config or {}), {})


@dataclass(frozen=True)
class RunOptions:
    headed: bool = False
    slow_mo: float = 0.0  # milliseconds between browser actions
    trace: TraceMode = "light"
    pause_on_error: bool = False  # open Playwright's inspector on a failed item (headed)


async def run_items(store: Store, settings: Settings, target: Target,
                    payloads: Sequence[tuple[str, dict[str, Any]]], options: RunOptions
                    ) -> tuple[Path, list[tuple[str, Outcome]]]:
    """Run each `(reference, payload)` in turn in one slot; the evidence folder and outcomes."""
    folder = Path(settings.evidence_dir) / "runs" / time.strftime("%Y%m%d-%H%M%S")
    make_private_dir(folder)
    vault = CredentialVault(store, settings, actor=f"bot-run:{target.label}")
    browser = BrowserHost(executable=find_browser(settings.browser_path),
                          ws_endpoint=settings.browser_ws, headless=not options.headed,
                          slow_mo=options.slow_mo)
    await browser.start()
    slot = Slot(0, SlotEnv(browser=browser, evidence_root=folder, credentials=vault.get,
                           trace=options.trace))
    results: list[tuple[str, Outcome]] = []
    try:
        for number, (reference, payload) in enumerate(payloads, start=1):
            item = ClaimedItem(id=number, queue="-", process=target.label,
                               reference=reference, payload=payload, priority=1, attempt=1,
                               attempt_limit=1, deadline=None,
                               lease_expires_at=time.time() + 3600,
                               enqueued_at=time.time())
            outcome = await slot.run(target.bot, item, target.config, target.browser)
            results.append((reference, outcome))
            if outcome.kind != "done" and options.pause_on_error and options.headed \
                    and slot.page is not None and not slot.page.is_closed():
                await slot.page.pause()  # Playwright's inspector, until the person resumes
    finally:
        await slot.close()
        await browser.close()
    return folder, results
