"""Prometheus metrics of a service node, on a loopback port.

Two kinds of figures. What this node did (attempts by outcome, item durations,
fires, SLA events) is counted in memory as it happens: per node, so Prometheus
sums the nodes. What the queues hold (items by state, depth, oldest age) is read
from the database at scrape time through the store's cheap queries
(`QueueMonitor`), and
kept for `ttl` seconds, so a dashboard refreshing every few seconds, or several
Prometheus servers, cost one pair of indexed queries per ttl. Finished states
(done, business exceptions) are counted from the whole table, which costs time
on a big database: those are refreshed only every `slow_ttl` seconds.

The server binds 127.0.0.1 unless told otherwise (`--metrics-host`,
`RPA_METRICS_HOST`): metrics name processes and queues, so they are exposed on
purpose (0.0.0.0 inside a container whose published port is the boundary, a
reverse proxy, an SSH tunnel), never by default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from queues import StoreError
from queues.monitor import FINISHED_STATES, QueueMonitor, QueueOverview

log = structlog.get_logger("metrics")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
OUTCOME = {"done": "done", "business": "business_exception", "application": "application_error"}


class QueueCollector(Collector):
    """Items by state, queue depth and oldest age, read at scrape time (cached)."""

    def __init__(self, monitor: QueueMonitor, ttl: float = 5.0, slow_ttl: float = 60.0):
        self.monitor = monitor
        self.ttl, self.slow_ttl = ttl, slow_ttl
        self._lock = threading.Lock()
        self._fast: tuple[float, list[QueueOverview]] = (float("-inf"), [])
        self._slow: tuple[float, dict[tuple[int, str], int]] = (float("-inf"), {})

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # no query at registration; families appear at the first scrape

    def _read(self) -> tuple[list[QueueOverview], dict[tuple[int, str], int]]:
        with self._lock:
            now = time.monotonic()
            if now - self._fast[0] > self.ttl:
                self._fast = (now, self.monitor.overview())
            if now - self._slow[0] > self.slow_ttl:
                self._slow = (now, self.monitor.finished_counts())
            return self._fast[1], self._slow[1]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            queues, finished = self._read()
        except StoreError as err:
            log.warning("metrics.read_failed", error=str(err).splitlines()[0])
            return
        items = GaugeMetricFamily("rpa_items", "Work items by state", labels=["queue", "state"])
        depth = GaugeMetricFamily("rpa_queue_depth", "Items waiting to be claimed (new and "
                                  "retry_scheduled)", labels=["queue"])
        oldest = GaugeMetricFamily("rpa_queue_oldest_age_seconds", "Age of the oldest "
                                   "waiting item", labels=["queue"])
        sla = GaugeMetricFamily("rpa_sla_items", "Open items at risk of missing their due "
                                "time, or past it", labels=["queue", "state"])
        now = time.time()
        for q in queues:
            for state, count in q.counts.items():
                items.add_metric([q.queue, state], count)
            for state in FINISHED_STATES:
                items.add_metric([q.queue, state], finished.get((q.queue_id, state), 0))
            depth.add_metric([q.queue], q.waiting)
            oldest.add_metric([q.queue], 0.0 if q.oldest_waiting_at is None
                              else max(0.0, now - q.oldest_waiting_at))
            sla.add_metric([q.queue, "at_risk"], q.at_risk)
            sla.add_metric([q.queue, "broken"], q.breached)
        yield from (items, depth, oldest, sla)


class Metrics:
    """The registry of one node and the instruments the worker and scheduler update."""

    def __init__(self, monitor: QueueMonitor | None = None):
        self.registry = CollectorRegistry()
        reg = self.registry
        self.attempts = Counter("rpa_attempts", "Attempts finished by this node, by outcome",
                                ["process", "outcome"], registry=reg)
        self.duration = Histogram("rpa_item_duration_seconds", "Time one attempt took",
                                  ["process", "outcome"], buckets=DURATION_BUCKETS,
                                  registry=reg)
        self.fires = Counter("rpa_schedule_fires", "Trigger fires by this node's scheduler",
                             ["process", "status"], registry=reg)
        self.sla_events = Counter("rpa_sla_events", "sla.at_risk / sla.broken events raised",
                                  ["process", "kind"], registry=reg)
        self.leader = Gauge("rpa_scheduler_leader", "1 while this node runs the scheduler",
                            registry=reg)
        self.slots_busy = Gauge("rpa_worker_slots_busy", "Slots working on an item",
                                registry=reg)
        self.slots_total = Gauge("rpa_worker_slots", "Slots of this node's worker",
                                 registry=reg)
        if monitor is not None:
            reg.register(QueueCollector(monitor))
        self._server: Any = None

    # -- instruments ---------------------------------------------------------------------
    def item_finished(self, process: str, kind: str, seconds: float) -> None:
        outcome = OUTCOME.get(kind, kind)
        self.attempts.labels(process, outcome).inc()
        self.duration.labels(process, outcome).observe(seconds)

    def fired(self, process: str, status: str) -> None:
        self.fires.labels(process, status).inc()

    def sla_event(self, kind: str, process: str) -> None:
        self.sla_events.labels(process, kind).inc()

    def watch_slots(self, busy: Callable[[], int], total: int) -> None:
        """Read a worker's busy slots at scrape time."""
        self.slots_busy.set_function(busy)
        self.slots_total.set(total)

    # -- the HTTP endpoint ---------------------------------------------------------------
    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Start the /metrics endpoint in a thread; returns the port bound (0 picks one)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        bound = int(server.server_address[1])
        log.info("metrics.listening", url=f"http://{addr}:{bound}/metrics")
        return bound

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
