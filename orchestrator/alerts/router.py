"""The leader's alert desk: route new alerts to channels, send what is due, retry.

Raising an alert only writes a row (unique per rule and subject). Every few
seconds the scheduler leader, and only it, runs `AlertRouter.run_once`:

1. each new alert is routed: `off` when its rule is switched off (in the
   alerts file, or in the process's `alerts: {off: [...]}`), `silenced` under
   an `rpa alerts silence`, else one delivery row per channel (with the
   process's extra e-mail recipients). With a daily digest, e-mail deliveries
   are held for it;
2. due deliveries are sent, each with the channel's timeout; a failure is
   retried with backoff up to the configured attempts, then given up on, and
   logged either way: a delivery problem never stops a worker or the leader;
3. once a day at the digest time, the held e-mails go out as one.

A leader that dies between sending and recording may send one alert twice on
fail-over (at least once, never lost); routing is exactly once, because it is
a conditional update of the alert's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from orchestrator.alerts.channels import (
    AlertMessage,
    Channel,
    DeliveryFailed,
    EmailChannel,
    backoff_delay,
    channels_from,
)
from orchestrator.alerts.config import AlertsConfig
from orchestrator.alerts.raising import node_stale_alert
from queues import Store
from queues.alert_store import DIGEST, OFF, PENDING, ROUTED, SILENCED, Alert, Delivery

log = structlog.get_logger("alerts")
ROUTE_EVERY = 5.0


def message_of(alert: Alert) -> AlertMessage:
    return AlertMessage(rule=alert.rule, subject=alert.subject, process=alert.process,
                        title=alert.title, text=alert.text, raised_at=alert.raised_at,
                        details=dict(alert.details))


class AlertRouter:
    """Routes and delivers the store's alerts through the configured channels."""

    def __init__(self, store: Store, config: AlertsConfig, *,
                 channels: Sequence[Channel] | None = None, timezone: str = "Europe/Oslo",
                 clock: Callable[[], float] = time.time, actor: str = "system"):
        self.store = store
        self.config = config
        self.channels = {c.name: c for c in (channels_from(config) if channels is None
                                             else channels)}
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self.actor = actor
        self._digest_day: str | None = None

    def run_once(self) -> dict[str, int]:
        """One round: route, watch nodes, send, digest. Returns counts for the log."""
        routed = self.route_new()
        stale = self.watch_nodes()
        sent, failed = self.send_due()
        digested = self.send_digest()
        return {"routed": routed, "stale_nodes": stale, "sent": sent, "failed": failed,
                "digest": digested}

    # -- routing ---------------------------------------------------------------------
    def _process_alerts(self) -> dict[str, dict[str, list[str]]]:
        return {info.spec.name: dict(info.spec.definition.get("alerts") or {})
                for info in self.store.list_processes()}

    def route_new(self) -> int:
        fresh = self.store.alerts.unrouted()
        if not fresh:
            return 0
        now = self.clock()
        per_process = self._process_alerts()
        silences = self.store.alerts.silences(now)
        for alert in fresh:
            own = per_process.get(alert.process or "", {})
            log.warning("alert.raised", rule=alert.rule, subject=alert.subject,
                        process=alert.process, title=alert.title)
            if not self.config.rule(alert.rule).enabled or alert.rule in own.get("ignore", []):
                self.store.alerts.route(alert.id, OFF)
            elif any(s.covers(alert.rule, alert.process, now) for s in silences):
                self.store.alerts.route(alert.id, SILENCED)
            else:
                self.store.alerts.route(alert.id, ROUTED, [
                    (name, list(own.get("email", [])) if name == "email" else [],
                     DIGEST if name == "email" and self.config.digest else PENDING)
                    for name in self.channels])
        return len(fresh)

    # -- stale nodes --------------------------------------------------------------------
    def watch_nodes(self) -> int:
        """Raise `node_stale` for nodes silent longer than the rule's `after`."""
        rule = self.config.rule("node_stale")
        if not rule.enabled:
            return 0
        now = self.clock()
        raised = 0
        silent = [n for n in self.store.nodes.nodes(include_gone=True)
                  if n.stopped_at is None and now - n.heartbeat_at > (rule.after or 120.0)]
        for node in silent:
            if self.store.alerts.raise_alert(node_stale_alert(node, now),
                                             actor=self.actor) is not None:
                raised += 1
        return raised

    # -- sending ------------------------------------------------------------------------
    def send_due(self) -> tuple[int, int]:
        now = self.clock()
        sent = failed = 0
        for alert, delivery in self.store.alerts.due(now):
            if self._deliver(alert, delivery, now):
                sent += 1
            else:
                failed += 1
        return sent, failed

    def _deliver(self, alert: Alert, delivery: Delivery, now: float) -> bool:
        channel = self.channels.get(delivery.channel)
        if channel is None:  # the alerts file lost that channel since: nowhere to go
            self.store.alerts.delivery_failed(delivery.id, "channel no longer configured",
                                              now=now, retry_at=None)
            return False
        try:
            channel.send([message_of(alert)], list(delivery.recipients))
        except DeliveryFailed as err:
            attempt = delivery.attempts + 1
            last = attempt >= self.config.delivery.attempts
            retry_at = None if last else now + backoff_delay(self.config, attempt)
            self.store.alerts.delivery_failed(delivery.id, err.reason, now=now,
                                              retry_at=retry_at)
            (log.error if last else log.warning)(
                "alert.delivery_failed", channel=delivery.channel, alert=alert.id,
                attempt=attempt, gave_up=last, reason=err.reason,
                retry_in_seconds=None if retry_at is None else round(retry_at - now, 1))
            return False
        self.store.alerts.delivered([delivery.id], self.clock())
        log.info("alert.delivered", channel=delivery.channel, alert=alert.id, rule=alert.rule)
        return True

    def send_digest(self) -> int:
        """The held e-mails as one, once a day at the digest time (local time)."""
        digest, email = self.config.digest, self.channels.get("email")
        if digest is None or not isinstance(email, EmailChannel):
            return 0
        local = datetime.fromtimestamp(self.clock(), self.zone)
        day = local.date().isoformat()
        if local.time() < digest.at or self._digest_day == day:
            return 0
        held = self.store.alerts.held_for_digest()
        if held:
            recipients = sorted({r for _, d in held for r in d.recipients})
            try:
                email.send_digest([message_of(a) for a, _ in held], recipients)
            except DeliveryFailed as err:
                log.warning("alert.digest_failed", reason=err.reason, alerts=len(held))
                return 0  # tried again next round
            self.store.alerts.delivered([d.id for _, d in held], self.clock())
            log.info("alert.digest_sent", alerts=len(held))
        self._digest_day = day
        return len(held)
