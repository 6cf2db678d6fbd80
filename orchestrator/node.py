"""`rpa serve` and `rpa scheduler`: a service node, wired and shut down.

It sits above both `scheduling` and `worker` (neither imports the other's
wiring): the scheduler service, a worker with its hooks, and the metrics
endpoint, in one process and one event loop.

`serve` runs the scheduler service and a worker in one process and one event
loop (the embedded default); `scheduler` runs only the service. Every node of
a cluster runs the same thing: all of them claim work, the elected leader also
schedules. Shutdown is the worker's: the first SIGTERM/SIGINT stops claiming
and scheduling, in-flight items get the grace period and the rest are given
back; a second signal exits at once (leases and the leader lock then expire on
their own).
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass

import structlog

from orchestrator.alerts.channels import channels_from
from orchestrator.alerts.config import AlertsConfig, load_alerts_config
from orchestrator.alerts.outage import DatabaseWatch
from orchestrator.alerts.router import ROUTE_EVERY, AlertRouter
from orchestrator.errors import UsageError
from orchestrator.scheduling.housekeeping import Chore, Housekeeping, default_chores
from orchestrator.scheduling.metrics import Metrics
from orchestrator.scheduling.nodes import default_node_name
from orchestrator.scheduling.service import ELECT_EVERY, SchedulerService
from orchestrator.settings import Settings
from orchestrator.worker.hooks import MetricsHook
from orchestrator.worker.loop import WorkerOptions, WorkerReport
from orchestrator.worker.run import build_worker, default_hooks
from queues import Store

log = structlog.get_logger("service")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class ServiceOptions:
    """How a service node runs, beyond its worker's options."""

    metrics_port: int | None = None
    metrics_host: str | None = None  # default: the settings' (127.0.0.1)
    node_name: str | None = None
    elect_every: float = ELECT_EVERY


async def serve(store: Store, settings: Settings, options: WorkerOptions,
                service: ServiceOptions, *, with_worker: bool = True) -> WorkerReport | None:
    """Run a node until signalled; the worker's report (None without a worker)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    node = service.node_name or settings.node_name or default_node_name()
    metrics = Metrics(store.monitor)
    options.install_signals, options.node_name = False, node
    options.role, options.timezone = ("serve", settings.timezone)
    actor = f"scheduler:{node}"
    alerts = alerts_config(settings)  # a broken alerts file stops the start (exit 2)
    channels = channels_from(alerts)
    router = AlertRouter(store, alerts, channels=channels, timezone=settings.timezone,
                         actor=actor)
    chores = [*default_chores(store, actor), purge_chore(store, settings, actor),
              Chore("alerts", ROUTE_EVERY, router.run_once)]
    scheduler = SchedulerService(
        store, node_id=options.worker_id, node_name=node, default_tz=settings.timezone,
        nodes=store.nodes, own_node_row=not with_worker, metrics=metrics,
        elect_every=service.elect_every, housekeeping=Housekeeping(chores))
    worker = None
    if with_worker:  # SLA events from the scheduler leader only: once per cluster
        hooks = [*default_hooks(store, sla_allowed=lambda: scheduler.is_leader,
                                on_sla_event=metrics.sla_event), MetricsHook(metrics)]
        worker = build_worker(store, settings, options, hooks=hooks)
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        stop.set()
        if worker is not None:
            worker.request_stop()  # a second signal exits there, at once
        elif signals > 1:
            os._exit(1)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    port = service.metrics_port if service.metrics_port is not None else settings.metrics_port
    if port is not None:
        host = service.metrics_host or settings.metrics_host
        try:
            metrics.serve(port, host)
        except OSError as err:
            raise UsageError(f"metrics on {host}:{port}: {err.strerror or err}") from err
    log.info("service.started", node=node, worker=worker is not None,
             database=settings.safe_db_url)
    scheduling = asyncio.create_task(scheduler.run(stop))
    watching = asyncio.create_task(DatabaseWatch(store, alerts, channels, node=node).run(stop))
    try:
        if worker is None:
            await stop.wait()
            return None
        return await worker.run()
    finally:
        stop.set()
        await scheduling
        await watching
        metrics.close()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        log.info("service.stopped", node=node)


def alerts_config(settings: Settings) -> AlertsConfig:
    """The alerts file in force (`RPA_ALERTS_FILE`, else config/alerts.yaml if present)."""
    path, missing_ok = settings.alerts_path
    return load_alerts_config(path, missing_ok=missing_ok)


PURGE_EVERY = 86400.0  # seconds: retention is counted in days


def purge_chore(store: Store, settings: Settings, actor: str) -> Chore:
    """The daily purge of what retention says is due (the leader's, once per cluster)."""
    from orchestrator import retention

    def run() -> dict[str, int]:
        retention.require_audit_key(store)
        lines = retention.purge(store, settings, actor=actor)
        return {"items": sum(line.purged for line in lines),
                "files": sum(line.files_removed for line in lines)}
    return Chore("purge", PURGE_EVERY, run)
