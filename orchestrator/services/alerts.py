"""Alerts for people: list what was raised and where it went, silence a rule, test
the channels. The CLI (and later the console) call these; rules and routing are
`orchestrator.alerts`'."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.alerts.channels import AlertMessage, Channel, DeliveryFailed, channels_from
from orchestrator.alerts.config import RULES, AlertsConfig
from orchestrator.errors import UsageError
from orchestrator.services.access import Permission, Principal
from queues import Store
from queues.alert_store import ALL_RULES, Alert, Silence

MAX_SILENCE = 30 * 86400.0


def list_alerts(store: Store, asker: Principal, *, limit: int = 50,
                since: float | None = None, rule: str | None = None,
                process: str | None = None) -> list[Alert]:
    asker.require(Permission.VIEW_WORKERS)
    if rule is not None:
        check_rule(rule)
    return store.alerts.list_alerts(limit=limit, since=since, rule=rule, process=process)


def check_rule(rule: str, *, allow_all: bool = False) -> str:
    """A rule name, or UsageError naming the valid ones."""
    if rule in RULES or (allow_all and rule == ALL_RULES):
        return rule
    extra = " (or * for every rule)" if allow_all else ""
    raise UsageError(f"unknown alert rule {rule[:40]!r}: use {', '.join(RULES)}{extra}")


def silence(store: Store, asker: Principal, *, rule: str, seconds: float,
            process: str | None = None, reason: str = "") -> Silence:
    """No deliveries for `rule` (of `process`) for `seconds`; the alerts are still kept."""
    asker.require(Permission.CONTROL_PROCESSES)
    check_rule(rule, allow_all=True)
    if not 0 < seconds <= MAX_SILENCE:
        raise UsageError("silence for more than 0 and at most 30d, e.g. --for 2h")
    if process is not None:
        store.get_process(process)  # QueueNotFound: exit 2, "see rpa process list"
    if len(reason) > 300 or not reason.isprintable():
        raise UsageError("--reason: one line of at most 300 printable characters")
    return store.alerts.add_silence(rule=rule, process=process, until=time.time() + seconds,
                                    actor=asker.actor, reason=reason)


def silences(store: Store, asker: Principal) -> list[Silence]:
    asker.require(Permission.VIEW_WORKERS)
    return store.alerts.silences(time.time())


def end_silence(store: Store, asker: Principal, silence_id: int) -> None:
    asker.require(Permission.CONTROL_PROCESSES)
    store.alerts.end_silence(silence_id, actor=asker.actor, now=time.time())


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    reason: str = ""


def send_test(asker: Principal, config: AlertsConfig, *, rule: str = "item_dead",
              channel: str | None = None, channels: Sequence[Channel] | None = None
              ) -> list[TestResult]:
    """Send one sample alert through each channel (or the one named), now, directly."""
    asker.require(Permission.CONTROL_PROCESSES)
    check_rule(rule)
    found = list(channels_from(config) if channels is None else channels)
    if channel is not None:
        found = [c for c in found if c.name == channel]
        if not found:
            names = ", ".join(c.name for c in channels_from(config)) or "none configured"
            raise UsageError(f"no alert channel {channel[:60]!r}: the alerts file has {names}")
    if not found:
        raise UsageError("the alerts file has no channels: add email: or webhooks: (see "
                         "config/alerts.example.yaml)")
    message = AlertMessage(
        rule=rule, subject="test", process=None, raised_at=time.time(),
        title=f"Test of the {rule} alert from the RPA orchestrator",
        text=f"{asker.actor} sent this test with `rpa alerts test`. If you read it, alerts "
             "reach you here.", details={"test": True})
    results = []
    for chosen in found:
        try:
            chosen.send([message])
        except DeliveryFailed as err:
            results.append(TestResult(chosen.name, False, err.reason))
        else:
            results.append(TestResult(chosen.name, True))
    return results
