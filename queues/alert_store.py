"""Alerts: one row per (rule, subject), whatever how often or on how many nodes the
condition is seen, and each channel's deliveries of it.

Raising is cheap and idempotent: `raise_alert` (or `raise_in` inside a store
transaction, where an item dies or the breaker trips) inserts the row unless
that rule has fired for that subject before. What happens next is the
orchestrator's (which rules are on, which channels, who is silenced): it
*routes* a new alert, writing one delivery row per channel, then sends the
due deliveries and records each outcome, retrying with backoff. Only the
scheduler leader does that, so a delivery is attempted by one node at a time.

Alerts hold no personal data: they name items by id, never by reference or
payload, and their details are ids, codes and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from queues.errors import QueueError

NEW, ROUTED, SILENCED, OFF = "new", "routed", "silenced", "off"
PENDING, SENT, FAILED, DIGEST = "pending", "sent", "failed", "digest"
ALL_RULES = "*"


class AlertNotFound(QueueError):
    """No alert or silence has that id."""


@dataclass(frozen=True)
class NewAlert:
    """What a rule found: `subject` makes it unique per rule (e.g. "item:42#3")."""

    rule: str
    subject: str
    title: str
    text: str
    process: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One alert on one channel."""

    id: int
    alert_id: int
    channel: str
    recipients: tuple[str, ...]
    status: str
    attempts: int
    next_at: float
    last_error: str | None = None
    sent_at: float | None = None


@dataclass(frozen=True)
class Alert:
    """An alert as stored, with its deliveries when asked for."""

    id: int
    rule: str
    subject: str
    process: str | None
    raised_at: float
    raised_by: str
    title: str
    text: str
    details: dict[str, Any]
    state: str
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class Silence:
    """No deliveries for `rule` (or every rule, "*") of `process` (or all) until `until`."""

    id: int
    rule: str
    process: str | None
    until: float
    created_by: str
    created_at: float
    reason: str

    def covers(self, rule: str, process: str | None, at: float) -> bool:
        return (at < self.until and self.rule in (ALL_RULES, rule)
                and (self.process is None or self.process == process))


def dead_alert(process: str, item_id: int, attempts: int, cause: str) -> NewAlert:
    """The `item_dead` alert: by id and error type, never the item's reference or text."""
    cause = (cause or "an application error")[:100]
    return NewAlert(
        rule="item_dead", subject=f"item:{item_id}#{attempts}", process=process,
        title=f"Item {item_id} of {process} is dead after {attempts} attempts",
        text=(f"Item {item_id} of {process} failed {attempts} times ({cause}) and will not "
              "be tried again. A review task is open for it: `rpa review list`."),
        details={"item_id": item_id, "attempts": attempts, "cause": cause})


class AlertStore:
    """Raises, routes and records the delivery of alerts; keeps silences."""

    def raise_alert(self, alert: NewAlert, *, actor: str) -> int | None:
        """Record the alert unless its (rule, subject) was raised before; its id, or None."""
        raise NotImplementedError

    def unrouted(self, limit: int = 100) -> list[Alert]:
        """Alerts raised but not yet routed to channels, oldest first."""
        raise NotImplementedError

    def route(self, alert_id: int, state: str,
              deliveries: Sequence[tuple[str, Sequence[str], str]] = ()) -> None:
        """Set a new alert's state (routed, silenced, off) and write its deliveries:
        (channel, recipients, status pending or digest), due now."""
        raise NotImplementedError

    def due(self, now: float, limit: int = 100) -> list[tuple[Alert, Delivery]]:
        """Pending deliveries whose time has come, with their alerts."""
        raise NotImplementedError

    def held_for_digest(self, limit: int = 1000) -> list[tuple[Alert, Delivery]]:
        """Deliveries held for the daily digest."""
        raise NotImplementedError

    def delivered(self, delivery_ids: Sequence[int], now: float) -> None:
        raise NotImplementedError

    def delivery_failed(self, delivery_id: int, error: str, *, now: float,
                        retry_at: float | None) -> None:
        """One more attempt failed: retry at `retry_at`, or give up (None)."""
        raise NotImplementedError

    def list_alerts(self, *, limit: int = 50, since: float | None = None,
                    rule: str | None = None, process: str | None = None) -> list[Alert]:
        """The newest alerts first, each with its deliveries."""
        raise NotImplementedError

    def add_silence(self, *, rule: str, process: str | None, until: float, actor: str,
                    reason: str) -> Silence:
        """Silence a rule; audited (`alerts.silenced`), the reason not copied."""
        raise NotImplementedError

    def silences(self, now: float) -> list[Silence]:
        """The silences in force at `now`."""
        raise NotImplementedError

    def end_silence(self, silence_id: int, *, actor: str, now: float) -> None:
        """End a silence now (AlertNotFound if there is none by that id); audited."""
        raise NotImplementedError
