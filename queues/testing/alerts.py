"""`AlertStore` in memory: the same uniqueness per (rule, subject) as the SQL store."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from queues.alert_store import (
    DIGEST,
    FAILED,
    NEW,
    PENDING,
    SENT,
    Alert,
    AlertNotFound,
    AlertStore,
    Delivery,
    NewAlert,
    Silence,
)
from queues.chain import AuditEvent

if TYPE_CHECKING:
    from queues.testing.memory_store import InMemoryStore


class MemoryAlertStore(AlertStore):
    def __init__(self, store: InMemoryStore):
        self.store = store
        self.alerts: dict[int, Alert] = {}
        self.subjects: set[tuple[str, str]] = set()
        self.deliveries: dict[int, Delivery] = {}
        self.silenced: dict[int, Silence] = {}

    def raise_locked(self, alert: NewAlert, *, actor: str) -> int | None:
        """`raise_alert` with the store's lock held (its exception paths call this)."""
        key = (alert.rule, alert.subject)
        if key in self.subjects:
            return None
        self.subjects.add(key)
        alert_id = self.store.db.new_id("alerts")
        self.alerts[alert_id] = Alert(
            id=alert_id, rule=alert.rule, subject=alert.subject, process=alert.process,
            raised_at=self.store.clock(), raised_by=actor, title=alert.title[:300],
            text=alert.text, details=dict(alert.details), state=NEW)
        return alert_id

    def raise_alert(self, alert: NewAlert, *, actor: str) -> int | None:
        with self.store.db.lock:
            return self.raise_locked(alert, actor=actor)

    def unrouted(self, limit: int = 100) -> list[Alert]:
        with self.store.db.lock:
            return [a for a in sorted(self.alerts.values(), key=lambda a: a.id)
                    if a.state == NEW][:limit]

    def route(self, alert_id: int, state: str,
              deliveries: Sequence[tuple[str, Sequence[str], str]] = ()) -> None:
        with self.store.db.lock:
            alert = self.alerts.get(alert_id)
            if alert is None or alert.state != NEW:
                return
            self.alerts[alert_id] = dataclasses.replace(alert, state=state)
            for channel, recipients, status in deliveries:
                delivery_id = self.store.db.new_id("alert_deliveries")
                self.deliveries[delivery_id] = Delivery(
                    id=delivery_id, alert_id=alert_id, channel=channel,
                    recipients=tuple(recipients), status=status, attempts=0,
                    next_at=self.store.clock())

    def _pairs(self, wanted: list[Delivery]) -> list[tuple[Alert, Delivery]]:
        return [(self.alerts[d.alert_id], d) for d in wanted]

    def due(self, now: float, limit: int = 100) -> list[tuple[Alert, Delivery]]:
        with self.store.db.lock:
            found = sorted((d for d in self.deliveries.values()
                            if d.status == PENDING and d.next_at <= now),
                           key=lambda d: (d.next_at, d.id))
            return self._pairs(found[:limit])

    def held_for_digest(self, limit: int = 1000) -> list[tuple[Alert, Delivery]]:
        with self.store.db.lock:
            found = sorted((d for d in self.deliveries.values() if d.status == DIGEST),
                           key=lambda d: d.id)
            return self._pairs(found[:limit])

    def delivered(self, delivery_ids: Sequence[int], now: float) -> None:
        with self.store.db.lock:
            for i in delivery_ids:
                d = self.deliveries[i]
                self.deliveries[i] = dataclasses.replace(
                    d, status=SENT, sent_at=now, attempts=d.attempts + 1, last_error=None)

    def delivery_failed(self, delivery_id: int, error: str, *, now: float,
                        retry_at: float | None) -> None:
        with self.store.db.lock:
            d = self.deliveries[delivery_id]
            self.deliveries[delivery_id] = dataclasses.replace(
                d, status=PENDING if retry_at is not None else FAILED,
                next_at=retry_at if retry_at is not None else now, attempts=d.attempts + 1,
                last_error=error[:300])

    def list_alerts(self, *, limit: int = 50, since: float | None = None,
                    rule: str | None = None, process: str | None = None) -> list[Alert]:
        with self.store.db.lock:
            found = [a for a in self.alerts.values()
                     if (since is None or a.raised_at >= since)
                     and (rule is None or a.rule == rule)
                     and (process is None or a.process == process)]
            found.sort(key=lambda a: (-a.raised_at, -a.id))
            return [dataclasses.replace(a, deliveries=tuple(
                d for d in sorted(self.deliveries.values(), key=lambda d: d.id)
                if d.alert_id == a.id)) for a in found[:limit]]

    def add_silence(self, *, rule: str, process: str | None, until: float, actor: str,
                    reason: str) -> Silence:
        with self.store.db.lock:
            now = self.store.clock()
            silence = Silence(id=self.store.db.new_id("alert_silences"), rule=rule,
                              process=process, until=until, created_by=actor,
                              created_at=now, reason=reason[:300])
            self.silenced[silence.id] = silence
            self.store._audit([AuditEvent(
                actor=actor, action="alerts.silenced", ts=now, process=process,
                details={"silence": silence.id, "rule": rule, "until": until,
                         "reason_given": bool(reason.strip())})])
            return silence

    def silences(self, now: float) -> list[Silence]:
        with self.store.db.lock:
            return sorted((s for s in self.silenced.values() if s.until > now),
                          key=lambda s: s.until)

    def end_silence(self, silence_id: int, *, actor: str, now: float) -> None:
        with self.store.db.lock:
            silence = self.silenced.get(silence_id)
            if silence is None:
                raise AlertNotFound(f"no silence {silence_id}: see `rpa alerts list`")
            self.silenced[silence_id] = dataclasses.replace(silence, until=now)
            self.store._audit([AuditEvent(
                actor=actor, action="alerts.unsilenced", ts=now, process=silence.process,
                details={"silence": silence_id, "rule": silence.rule})])
