"""`database_unreachable`: the one alert that cannot wait for the database.

Every other alert is a row first, so that it is raised once per cluster. While
the database is away there is nowhere to write that row, so each node watches
its own connection: a ping every few seconds, and when the outage has lasted
the rule's `after` (default 30 s) the node sends the alert straight to the
channels, once per outage. With several nodes each may send its own (they
cannot agree without the database), and each says which node it is. When the
database is back, the node records the outage as an alert row, which is routed
and sent like any other: "it was away for N s, and we are back".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import structlog

from orchestrator.alerts.channels import AlertMessage, Channel, DeliveryFailed
from orchestrator.alerts.config import AlertsConfig
from orchestrator.alerts.raising import database_alert
from queues import QueueError, Store

log = structlog.get_logger("alerts")
PING_EVERY = 5.0
PING_WHILE_DOWN = 1.0  # an outage is timed to the second, whatever the ping period


class DatabaseWatch:
    """Pings the database; alerts straight to the channels when it stays away."""

    def __init__(self, store: Store, config: AlertsConfig, channels: Sequence[Channel], *,
                 node: str, every: float = PING_EVERY, clock: Callable[[], float] = time.time):
        self.store = store
        self.rule = config.rule("database_unreachable")
        self.channels = list(channels)
        self.node = node
        self.every = every
        self.clock = clock
        self.down_since: float | None = None
        self.alerted = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ok = await self._ping()
            await asyncio.to_thread(self.observe, ok)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every if ok else PING_WHILE_DOWN)

    async def _ping(self) -> bool:
        try:
            await asyncio.wait_for(asyncio.to_thread(self.store.ping), self.every)
            return True
        except (QueueError, OSError, TimeoutError):
            return False

    def observe(self, reachable: bool) -> None:
        """One ping's result: start, alert or end an outage."""
        now = self.clock()
        if not reachable:
            if self.down_since is None:
                self.down_since = now
                log.warning("database.unreachable", node=self.node)
            elif (not self.alerted and self.rule.enabled
                  and now - self.down_since >= (self.rule.after or 30.0)):
                self.alerted = True
                self._send_now(now)
            return
        if self.down_since is None:
            return
        since, self.down_since = self.down_since, None
        log.info("database.reachable_again", node=self.node, seconds=round(now - since, 1))
        if self.alerted:
            self.alerted = False
            with contextlib.suppress(QueueError):  # a record only: the alert went out
                self.store.alerts.raise_alert(database_alert(self.node, since, now, back=True),
                                              actor=f"node:{self.node}")

    def _send_now(self, now: float) -> None:
        assert self.down_since is not None
        alert = database_alert(self.node, self.down_since, now, back=False)
        message = AlertMessage(rule=alert.rule, subject=alert.subject, process=None,
                               title=alert.title, text=alert.text, raised_at=now,
                               details=dict(alert.details))
        log.error("alert.raised", rule=alert.rule, subject=alert.subject, title=alert.title)
        for channel in self.channels:
            try:
                channel.send([message])
            except DeliveryFailed as err:  # no database to queue a retry in: log it
                log.error("alert.delivery_failed", channel=channel.name, reason=err.reason,
                          gave_up=True)
            else:
                log.info("alert.delivered", channel=channel.name, rule=alert.rule)
