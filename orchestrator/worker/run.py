"""Wiring a worker from settings: store, browser, credentials, evidence folder."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.credentials import CredentialVault
from orchestrator.settings import Settings
from orchestrator.worker.browser import BrowserHost, find_browser
from orchestrator.worker.loop import Worker, WorkerOptions, WorkerReport
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem
from queues.sql_operator import SqlStore


def build_worker(store: SqlStore, settings: Settings, options: WorkerOptions,
                 on_outcome: Callable[[ClaimedItem, Outcome], None] | None = None) -> Worker:
    """A worker over `store`, with the browser the settings (or the machine) provide."""
    browser = BrowserHost(executable=find_browser(settings.browser_path),
                          ws_endpoint=settings.browser_ws)
    vault = CredentialVault(store, settings, actor=f"worker:{options.worker_id}")
    settings.evidence_dir.mkdir(parents=True, exist_ok=True)
    return Worker(store, browser, options, credentials=vault.get,
                  evidence_root=settings.evidence_dir, on_outcome=on_outcome)


async def run_worker(store: SqlStore, settings: Settings, options: WorkerOptions,
                     on_outcome: Callable[[ClaimedItem, Outcome], None] | None = None
                     ) -> WorkerReport:
    return await build_worker(store, settings, options, on_outcome).run()
