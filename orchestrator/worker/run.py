"""Wiring a worker from settings: store, browser, credentials, evidence folder, hooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchestrator.credentials import CredentialVault
from orchestrator.private_files import make_private_dir
from orchestrator.scheduling.sla import SlaWatch
from orchestrator.settings import Settings
from orchestrator.worker.browser import BrowserHost, find_browser
from orchestrator.worker.hooks import NodeBeats, OutcomeCallback, SlaChecks, WorkerHook
from orchestrator.worker.loop import Worker, WorkerOptions, WorkerReport
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem, Store


def default_hooks(store: Store, *, sla_allowed: Callable[[], bool] = lambda: True,
                  on_sla_event: Callable[[str, str], None] | None = None) -> list[WorkerHook]:
    """What every worker runs beside its loop: its node row and SLA events."""
    return [NodeBeats(store.nodes),
            SlaChecks(SlaWatch(store.monitor, on_event=on_sla_event), sla_allowed,
                      alerts=store.alerts)]


def build_worker(store: Store, settings: Settings, options: WorkerOptions,
                 on_outcome: Callable[[ClaimedItem, Outcome], None] | None = None, *,
                 hooks: Sequence[WorkerHook] | None = None) -> Worker:
    """A worker over `store`, with the browser the settings (or the machine) provide.

    `hooks` default to `default_hooks`; `on_outcome` is called for every outcome.
    """
    browser = BrowserHost(executable=find_browser(settings.browser_path),
                          ws_endpoint=settings.browser_ws)
    vault = CredentialVault(store, settings, actor=f"worker:{options.worker_id}")
    make_private_dir(settings.evidence_dir)
    chosen = list(default_hooks(store) if hooks is None else hooks)
    if on_outcome is not None:
        chosen.append(OutcomeCallback(on_outcome))
    return Worker(store, browser, options, credentials=vault.get,
                  evidence_root=settings.evidence_dir, hooks=chosen)


async def run_worker(store: Store, settings: Settings, options: WorkerOptions,
                     on_outcome: Callable[[ClaimedItem, Outcome], None] | None = None
                     ) -> WorkerReport:
    return await build_worker(store, settings, options, on_outcome).run()
