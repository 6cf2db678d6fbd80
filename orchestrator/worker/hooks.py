"""Worker hooks: what runs beside the dispatch loop without being part of it.

In the manner of dramatiq's middleware: a hook overrides the moments it cares
about, every other one is a no-op. The loop calls them in order at each
moment; node beats, SLA checks and metrics are hooks, so the loop itself knows
nothing of them and a unit test runs a worker with none.

A hook must not fail the worker: a `started`, `tick` or `stopping` that raises
is logged and the loop goes on (the node registry and the SLA watch are for
people, never for correctness). `claimed` and `finished` run in the loop,
between awaits: keep them quick, and push I/O into `tick`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from orchestrator.scheduling.nodes import default_node_name, describe_slot
from orchestrator.scheduling.sla import SlaWatch
from queues import ClaimedItem, StoreError
from queues.alert_store import AlertStore
from queues.node_store import NodeStore

if TYPE_CHECKING:
    from orchestrator.scheduling.metrics import Metrics
    from orchestrator.worker.loop import Worker
    from orchestrator.worker.slot import Outcome

log = structlog.get_logger("worker.hooks")


class WorkerHook:
    """One concern beside the loop; every moment defaults to doing nothing."""

    async def started(self, worker: Worker) -> None:
        """The browser is up and the processes are loaded; claiming starts next."""

    def claimed(self, worker: Worker, item: ClaimedItem) -> None:
        """A slot took `item`."""

    def finished(self, worker: Worker, item: ClaimedItem, outcome: Outcome) -> None:
        """`item`'s outcome is recorded in the store."""

    async def tick(self, worker: Worker) -> None:
        """Once per dispatch round (at least every `idle_wait` seconds)."""

    async def stopping(self, worker: Worker) -> None:
        """The items in flight are finished or given back; the browser closes next."""


class NodeBeats(WorkerHook):
    """The worker's row in the node registry: registered, beating with its slots, stopped."""

    def __init__(self, nodes: NodeStore, *, clock: Callable[[], float] = time.monotonic):
        self.nodes = nodes
        self.clock = clock
        self._last = float("-inf")

    @staticmethod
    def slot_states(worker: Worker) -> list[dict[str, Any]]:
        """What each slot is doing, for `rpa workers`."""
        return [describe_slot(s.index, s.current,
                              worker.claimed_at(s.current.id) if s.current else None)
                for s in worker.slots]

    async def started(self, worker: Worker) -> None:
        await asyncio.to_thread(self.nodes.register, worker.id,
                                node=worker.opt.node_name or default_node_name(),
                                role=worker.opt.role, slots=self.slot_states(worker),
                                processes=sorted(worker.served))
        self._last = self.clock()

    async def tick(self, worker: Worker) -> None:
        if self.clock() - self._last < self.nodes.beat_seconds:
            return
        self._last = self.clock()
        await asyncio.to_thread(self.nodes.beat, worker.id, slots=self.slot_states(worker),
                                processes=sorted(worker.served))

    async def stopping(self, worker: Worker) -> None:
        await asyncio.to_thread(self.nodes.stop, worker.id)


class SlaChecks(WorkerHook):
    """SLA events for the served processes' items, while `allowed()` says so.

    `rpa serve` allows only the scheduler leader, so a cluster raises each
    event once, not once per node.
    """

    def __init__(self, watch: SlaWatch, allowed: Callable[[], bool] = lambda: True,
                 alerts: AlertStore | None = None):
        self.watch = watch
        self.allowed = allowed
        self.alerts = alerts  # each event also raises its alert (once per item, in the db)

    async def tick(self, worker: Worker) -> None:
        if self.watch.due() and self.allowed():
            queue_ids = [s.gate.queue_id for s in worker.served.values() if s.gate]
            events = await asyncio.to_thread(self.watch.check, queue_ids)
            if events and self.alerts is not None:
                await asyncio.to_thread(self._raise, events)

    def _raise(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        from orchestrator.alerts.raising import sla_alert
        assert self.alerts is not None
        try:
            for kind, fields in events:
                self.alerts.raise_alert(sla_alert(kind, fields), actor="system")
        except StoreError as err:  # the next check raises what this one could not
            self.watch.flagged.clear()
            log.warning("sla.alert_failed", error=str(err).splitlines()[0])


class OutcomeCallback(WorkerHook):
    """Calls `on_outcome(item, outcome)` for every recorded outcome (`rpa demo`'s progress)."""

    def __init__(self, on_outcome: Callable[[ClaimedItem, Outcome], None]):
        self.on_outcome = on_outcome

    def finished(self, worker: Worker, item: ClaimedItem, outcome: Outcome) -> None:
        self.on_outcome(item, outcome)


class MetricsHook(WorkerHook):
    """Attempts and their durations in the node's Prometheus registry; busy slots."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    async def started(self, worker: Worker) -> None:
        self.metrics.watch_slots(lambda: sum(1 for s in worker.slots if s.busy),
                                 len(worker.slots))

    def finished(self, worker: Worker, item: ClaimedItem, outcome: Outcome) -> None:
        self.metrics.item_finished(item.process, outcome.kind, outcome.seconds)
