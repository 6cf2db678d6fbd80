"""`rpa alerts ...` and the alerts file as a person meets them: every bad flag and every
broken alerts file refused with exit 2 and a message that names the fix, nothing
started or changed; a test send that reaches a real SMTP server and webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queues import open_store
from queues.alert_store import NewAlert
from tests.e2e.conftest import Cli, Db
from tests.support.alert_sinks import SmtpSink, WebhookSink


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, WebhookSink]]:
    with SmtpSink() as smtp, WebhookSink() as hook:
        yield smtp, hook


def alerts_file(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("RPA_ALERTS_FILE", str(path))
    return path


@pytest.mark.parametrize(("text", "needle"), [
    ("rules:\n  sla_brokn: {}\n", "sla_brokn"),
    ("rules: [\n", "line"),
    ("email: {host: smtp.example.org, from: a@b.no, to: [c@d.no], port: 99999}\n", "port"),
    ("email: {host: smtp.example.org, from: a@b.no, to: [c@d.no], password_env: NOPE_X}\n",
     "NOPE_X"),
    ("webhooks:\n  - {name: ops, url: 'file:///etc/passwd'}\n", "http"),
    ("webhooks:\n  - {name: ops, url: 'https://hooks.example.org/x', template: plain,"
     " timeout: 0s}\n", "timeout"),
    ("webhooks:\n  - {name: ops, url: 'https://hooks.example.org/x', template: nope.tmpl}\n",
     "nope.tmpl"),
])
def test_a_broken_alerts_file_stops_serve_with_exit_2(
        lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
        needle: str) -> None:
    alerts_file(tmp_path, text, monkeypatch)
    result = lite("serve")  # a good file would serve until killed: the timeout catches that
    assert result.code == 2, result
    assert "alerts.yaml" in result.err and needle in result.err, result
    assert "Traceback" not in result.err + result.out
    assert lite("alerts", "test").code == 2


def test_a_named_alerts_file_that_is_missing_is_an_error(
        lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_ALERTS_FILE", str(tmp_path / "typo.yaml"))
    result = lite("alerts", "test")
    assert result.code == 2 and "typo.yaml" in result.err, result


@pytest.mark.parametrize(("args", "needle"), [
    (["silence", "sla_brokn", "--for", "1h"], "unknown alert rule"),
    (["silence", "item_dead", "--for", "0s"], "more than 0"),
    (["silence", "item_dead", "--for", "-1h"], "not a duration"),
    (["silence", "item_dead", "--for", "nan"], "not a duration"),
    (["silence", "item_dead", "--for", "31d"], "at most 30d"),
    (["silence", "item_dead", "--for", "1h\x00"], "not a duration"),
    (["silence", "item_dead", "--for", "1h", "--process", "nope"], "nope"),
    (["silence", "item_dead", "--for", "1h", "--reason", "two\nlines"], "--reason"),
    (["unsilence", "12345"], "no silence 12345"),
    (["unsilence", "0"], "greater than or equal to 1"),
    (["list", "--rule", "bogus"], "unknown alert rule"),
    (["list", "--since", "yesterday-ish"], "--since"),
    (["test", "--channel", "pager"], "no alert channel"),
])
def test_bad_flags_are_refused_with_exit_2(lite: Cli, args: list[str], needle: str) -> None:
    result = lite("alerts", *args)
    assert result.code == 2, result
    assert needle in result.err + result.out, result
    assert "Traceback" not in result.err + result.out
    assert lite("alerts", "list", "--json").json()["silences"] == []


def test_list_silence_and_test_send(ready: Cli, db: Db, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    sinks: tuple[SmtpSink, WebhookSink]) -> None:
    smtp, hook = sinks
    alerts_file(tmp_path, (
        f"email: {{host: 127.0.0.1, port: {smtp.port}, security: none, "
        f"from: robots@kommune.example, to: [drift@kommune.example]}}\n"
        f"webhooks:\n  - {{name: teams, url: '{hook.url}', template: teams}}\n"), monkeypatch)
    store = open_store(db.url, writer="test")
    try:
        store.alerts.raise_alert(NewAlert(rule="node_stale", subject="node:x",
                                          title="Worker node x has been silent", text="..."),
                                 actor="test")
    finally:
        store.close()
    listed = ready.ok("alerts", "list", "--json").json()
    assert [a["title"] for a in listed["alerts"]] == ["Worker node x has been silent"]
    assert "Worker node x" in ready.ok("alerts", "list").out

    made = ready.ok("alerts", "silence", "sla_at_risk", "--for", "2h", "--reason",
                    "ERP upgrade tonight")
    assert "silence #1" in made.out
    (quiet,) = ready.ok("alerts", "list", "--json").json()["silences"]
    assert quiet["rule"] == "sla_at_risk" and quiet["reason"] == "ERP upgrade tonight"
    ready.ok("alerts", "unsilence", "1")
    assert ready.ok("alerts", "list", "--json").json()["silences"] == []

    sent = ready.ok("alerts", "test", "--json").json()
    assert sent == [{"channel": "email", "ok": True, "reason": ""},
                    {"channel": "webhook:teams", "ok": True, "reason": ""}]
    assert smtp.subjects == ["[RPA] Test of the item_dead alert from the RPA orchestrator"]
    assert len(hook.bodies) == 1

    hook.status = 500
    failed = ready("alerts", "test", "--channel", "webhook:teams")
    assert failed.code == 1 and "500" in failed.out
    assert "s3cret-token" not in failed.out + failed.err
