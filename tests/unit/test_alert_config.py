"""The alerts file: every way to get it wrong is refused with file, key and fix; then the
good cases, the shipped example, the defaults, and fuzzed alerts through the builtin
templates (which must always produce JSON)."""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.alerts.channels import AlertMessage, backoff_delay
from orchestrator.alerts.config import (
    BUILTIN_TEMPLATES,
    RULES,
    SAMPLE_ALERTS,
    AlertConfigError,
    AlertsConfig,
    DailyDigest,
    EnvRef,
    compile_template,
    load_alerts_config,
    render_payload,
    template_source,
    url_origin,
)
from orchestrator.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "alerts.example.yaml"
SECRET = "s3cr3t-Value-never-shown"


def write(tmp_path: Path, text: str, name: str = "alerts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    """The error message for an alerts file with `text`; checks it names the file."""
    path = write(tmp_path, text)
    with pytest.raises(AlertConfigError) as caught:
        load_alerts_config(path)
    message = str(caught.value)
    assert str(path) in message
    return message


EMAIL = """\
email:
  host: smtp.example.org
  from: robots@example.org
  to: [drift@example.org]
"""


# --- bad files --------------------------------------------------------------------------


def test_error_is_a_config_error_with_exit_code_2() -> None:
    assert issubclass(AlertConfigError, ConfigError)
    assert AlertConfigError("x").exit_code == 2


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "rules:\n  item_dead: {}\n  sla_broken: [unclosed\n")
    assert "line 4" in message or "line 3" in message
    assert "YAML syntax error" in message


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "delivery:\n  attempts: 3\n  attempts: 4\n")
    assert "duplicate key 'attempts'" in message
    assert "line 3" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping" in refused(tmp_path, "- rules\n")


def test_unknown_rule_lists_the_valid_names(tmp_path: Path) -> None:
    message = refused(tmp_path, "rules:\n  item_deaad: {}\n")
    assert "rules.item_deaad" in message
    assert "line 2" in message
    for rule in RULES:
        assert rule in message


@pytest.mark.parametrize(("text", "key", "valid"), [
    ("colour: red\n", "colour", "webhooks"),
    ("delivery:\n  retries: 3\n", "delivery.retries", "backoff_max"),
    (EMAIL + "  cc: [x@example.org]\n", "email.cc", "password_env"),
    ("webhooks:\n  - name: a\n    url: https://h.example/\n    method: PUT\n",
     "webhooks[0].method", "headers"),
    ("rules:\n  node_stale: {enabled: true, afterr: 2m}\n", "rules.node_stale.afterr", "after"),
])
def test_unknown_key_names_it_and_the_valid_keys(tmp_path: Path, text: str, key: str,
                                                  valid: str) -> None:
    message = refused(tmp_path, text)
    assert f"{key}: unknown key" in message
    assert valid in message


def test_password_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = refused(tmp_path, EMAIL + f"  username: robots\n  password: {SECRET}\n")
    assert "email.password" in message
    assert "password_env" in message
    assert SECRET not in message


@pytest.mark.parametrize("value", ["0", "0s", "-1", "-5s", "nan", ".nan", "abc", "1x", "true",
                                   "1e3", "''", "8d"])
@pytest.mark.parametrize("key", ["delivery.backoff", "delivery.backoff_max",
                                 "rules.node_stale.after", "email.timeout",
                                 "webhooks[0].timeout"])
def test_bad_durations_are_refused(tmp_path: Path, key: str, value: str) -> None:
    texts = {
        "delivery.backoff": f"delivery:\n  backoff: {value}\n",
        "delivery.backoff_max": f"delivery:\n  backoff_max: {value}\n",
        "rules.node_stale.after": f"rules:\n  node_stale: {{after: {value}}}\n",
        "email.timeout": EMAIL + f"  timeout: {value}\n",
        "webhooks[0].timeout": ("webhooks:\n  - name: a\n    url: https://h.example/\n"
                                f"    timeout: {value}\n"),
    }
    message = refused(tmp_path, texts[key])
    assert f"{key}:" in message
    assert "write e.g." in message or "must be" in message


def test_durations_beyond_the_upper_bound_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "delivery:\n  backoff_max: 8d\n")
    assert "delivery.backoff_max" in message and "at most 1w" in message


def test_backoff_above_backoff_max_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "delivery:\n  backoff: 2h\n  backoff_max: 1h\n")
    assert "delivery" in message and "must not exceed backoff_max" in message


@pytest.mark.parametrize("attempts", ["0", "101", "two", "1.5"])
def test_bad_attempts_are_refused(tmp_path: Path, attempts: str) -> None:
    assert "delivery.attempts" in refused(tmp_path, f"delivery:\n  attempts: {attempts}\n")


def test_after_on_a_rule_that_does_not_wait_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "rules:\n  item_dead: {after: 5m}\n")
    assert "rules.item_dead" in message and "remove it" in message


def hook(url: str) -> str:
    return f"webhooks:\n  - name: teams\n    url: {url}\n"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://files.example.org/x", "javascript:alert(1)",
    "'https:///no-host/path'", "'http://'", "'https://exa mple.org/x'",
    '"https://example.org/\\0x"', "example.org/webhook", "'//example.org/x'",
    "'https://example.org:99999/x'", "'data:text/plain,hi'", "gopher://example.org",
])
def test_bad_webhook_urls_are_refused(tmp_path: Path, url: str) -> None:
    message = refused(tmp_path, hook(url))
    assert "webhooks[0].url" in message
    assert "https://" in message  # says what to write instead


def test_url_error_does_not_show_the_token(tmp_path: Path) -> None:
    message = refused(tmp_path, hook("'ftp://example.org/hook?token=TOPSECRET123'"))
    assert "TOPSECRET123" not in message


@pytest.mark.parametrize(("field", "value"), [
    ("to", '["drift@example.org\\r\\nBcc: spy@evil.example"]'),
    ("to", '["drift@example.org\\nBcc: spy@evil.example"]'),
    ("to", '["drift@example.org\\rx"]'),
    ("from", '"robots@example.org\\r\\nBcc: spy@evil.example"'),
    ("from", '"robots@example.org\\n"'),
    ("to", '["drift@exam\\0ple.org"]'),
    ("from", '"robots\\0@example.org"'),
])
def test_header_injection_and_nul_in_addresses_are_refused(tmp_path: Path, field: str,
                                                             value: str) -> None:
    text = ("email:\n  host: smtp.example.org\n"
            + (f"  from: {value}\n  to: [drift@example.org]\n" if field == "from"
               else f"  from: robots@example.org\n  to: {value}\n"))
    message = refused(tmp_path, text)
    key = "email.from" if field == "from" else "email.to[0]"
    assert key in message
    assert "line break" in message or "NUL" in message


@pytest.mark.parametrize("address", ["no-at-sign", "two@@example.org", "a@b@example.org",
                                     "'with space@example.org'", "'Name <x@example.org>'",
                                     "x@localhost", "'@example.org'", "x@"])
def test_implausible_addresses_are_refused(tmp_path: Path, address: str) -> None:
    message = refused(tmp_path, f"email:\n  host: smtp.example.org\n  from: robots@example.org\n"
                                f"  to: [drift@example.org, {address}]\n")
    assert "email.to[1]" in message and "e-mail address" in message


def test_username_with_a_line_break_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", SECRET)
    message = refused(tmp_path, EMAIL + '  username: "robots\\r\\nX: y"\n'
                                        "  password_env: RPA_SMTP_PASSWORD\n")
    assert "email.username" in message and "line break" in message


@pytest.mark.parametrize("host", ["'smtp example.org'", "smtp://smtp.example.org",
                                  "'smtp.example.org:25'", '"smtp\\0.example.org"'])
def test_bad_smtp_hosts_are_refused(tmp_path: Path, host: str) -> None:
    text = f"email:\n  host: {host}\n  from: robots@example.org\n  to: [drift@example.org]\n"
    assert "email.host" in refused(tmp_path, text)


def test_email_without_recipients_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "email:\n  host: smtp.example.org\n  from: a@example.org\n"
                                "  to: []\n")
    assert "email.to" in message


def test_missing_password_env_names_the_variable_never_a_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_OTHER_SECRET", SECRET)
    monkeypatch.delenv("RPA_SMTP_PASSWORD", raising=False)
    message = refused(tmp_path, EMAIL + "  username: robots\n"
                                        "  password_env: RPA_SMTP_PASSWORD\n")
    assert "email.password_env" in message
    assert "RPA_SMTP_PASSWORD is not set" in message
    assert SECRET not in message


def test_a_password_written_as_password_env_is_not_echoed(tmp_path: Path) -> None:
    message = refused(tmp_path, EMAIL + f"  username: robots\n  password_env: '{SECRET}!'\n")
    assert "email.password_env" in message and "NAME of an environment variable" in message
    assert SECRET not in message


def test_login_without_encryption_is_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", SECRET)
    message = refused(tmp_path, EMAIL + "  security: none\n  username: robots\n"
                                        "  password_env: RPA_SMTP_PASSWORD\n")
    assert "unencrypted" in message and "starttls" in message and SECRET not in message


def test_username_needs_password_env(tmp_path: Path) -> None:
    assert "password_env" in refused(tmp_path, EMAIL + "  username: robots\n")


def test_header_from_a_missing_env_var_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_OTHER_SECRET", SECRET)
    message = refused(tmp_path, hook("https://h.example/") +
                      "    headers: {X-Api-Key: {env: RPA_HOOK_KEY}}\n")
    assert "webhooks[0].headers.X-Api-Key" in message and "RPA_HOOK_KEY is not set" in message
    assert SECRET not in message


@pytest.mark.parametrize(("headers", "what"), [
    ('{X-Token: "abc\\r\\nX-Evil: 1"}', "line break"),
    ('{X-Token: "abc\\0"}', "NUL"),
    ('{"Bad Name": x}', "header name"),
    ('{"X-A:b": x}', "header name"),
    ("{Host: x}", "set by the HTTP client"),
    ("{X-Token: {envv: A}}", "{env: NAME}"),
    ("{X-Token: [a]}", "{env: NAME}"),
])
def test_bad_headers_are_refused_without_echoing_values(tmp_path: Path, headers: str,
                                                         what: str) -> None:
    message = refused(tmp_path, hook("https://h.example/") + f"    headers: {headers}\n")
    assert "webhooks[0].headers" in message and what in message
    assert "abc" not in message


@pytest.mark.parametrize("name", ["Teams", "has space", "x" * 41, "''", "ærlig"])
def test_bad_webhook_names_are_refused(tmp_path: Path, name: str) -> None:
    text = f"webhooks:\n  - name: {name}\n    url: https://h.example/\n"
    assert "webhooks[0].name" in refused(tmp_path, text)


def test_duplicate_webhook_names_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "webhooks:\n  - {name: a, url: 'https://h.example/'}\n"
                                "  - {name: b, url: 'https://h.example/'}\n"
                                "  - {name: a, url: 'https://h.example/'}\n")
    assert "webhooks[2].name 'a' is already used by webhooks[0]" in message


@pytest.mark.parametrize("template", ["teamz", "hook.json", "/etc/passwd"])
def test_unknown_template_names_are_refused(tmp_path: Path, template: str) -> None:
    message = refused(tmp_path, hook("https://h.example/") + f"    template: {template}\n")
    assert "webhooks[0].template" in message and "teams, slack, plain" in message


def test_missing_template_file_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, hook("https://h.example/") + "    template: nope.tmpl\n")
    assert "webhooks[0].template" in message and "does not exist" in message


@pytest.mark.parametrize(("source", "expected"), [
    ('{"a": {{ alert.nope }}}', "template line 1: UndefinedError"),
    ('{\n"a": 1,\n"b": {{ missing_variable }}\n}', "template line 3: UndefinedError"),
    ('{\n"a": {% if %}\n}', "template line 2: Expected an expression"),
    ('{"a": {{ alert.title | nosuchfilter }}}', "No filter named 'nosuchfilter'"),
    ('{% include "other.tmpl" %}', "no loader"),
    ('{"a": {{ alert.__class__.__mro__ }}}', "is unsafe"),
])
def test_template_that_does_not_render_is_refused(tmp_path: Path, source: str,
                                                  expected: str) -> None:
    (tmp_path / "mine.tmpl").write_text(source, encoding="utf-8")
    message = refused(tmp_path, "webhooks:\n  - name: ops\n    url: https://h.example/\n"
                                "    template: mine.tmpl\n")
    assert "webhooks[0].template" in message and "webhook 'ops'" in message
    assert "'mine.tmpl'" in message
    assert expected in message


@pytest.mark.parametrize(("source", "expected"), [
    ('{"title": "{{ alert.title }}"}', "not JSON: line 1"),
    ('{\n"a": 1,\n"b": oops\n}', "not JSON: line 3"),
    ('{"a": 1,}', "not JSON"),
    ("", "not JSON"),
    ('{"link": {{ alert.link | length }}}', "TypeError"),  # the sample without a link
])
def test_template_that_renders_invalid_json_is_refused(tmp_path: Path, source: str,
                                                       expected: str) -> None:
    (tmp_path / "bad.tmpl").write_text(source, encoding="utf-8")
    message = refused(tmp_path, "webhooks:\n  - name: ops\n    url: https://h.example/\n"
                                "    template: bad.tmpl\n")
    assert "webhooks[0].template" in message and "webhook 'ops'" in message
    assert expected in message


@pytest.mark.parametrize("digest", ["weekly", "daily", "daily 25:00", "daily 7", "'07:00'",
                                    "daily 07:60", "3"])
def test_bad_digest_is_refused(tmp_path: Path, digest: str) -> None:
    message = refused(tmp_path, EMAIL + f"digest: {digest}\n")
    assert "digest" in message and "daily HH:MM" in message


def test_digest_without_email_is_refused(tmp_path: Path) -> None:
    assert "no email section" in refused(tmp_path, "digest: daily 07:00\n")


def test_not_utf8_and_too_large_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("rules:\n  item_dead: {}\n# bl\xe5\n".encode("latin-1"))
    with pytest.raises(AlertConfigError, match="not UTF-8"):
        load_alerts_config(bad)
    big = tmp_path / "big.yaml"
    big.write_text("#" * 1_100_000, encoding="utf-8")
    with pytest.raises(AlertConfigError, match="too large"):
        load_alerts_config(big)


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AlertConfigError, match="no such file"):
        load_alerts_config(tmp_path / "alerts.yaml")


def test_many_problems_are_reported_together(tmp_path: Path) -> None:
    message = refused(tmp_path, "delivery:\n  attempts: 0\n  backoff: 0\nrules:\n  foo: {}\n")
    assert "3 problem(s)" in message
    assert "line 2" in message and "line 3" in message and "line 5" in message


# --- good files ---------------------------------------------------------------------------


def test_defaults_without_a_file() -> None:
    config = load_alerts_config(None)
    assert config == AlertsConfig()
    assert config.email is None and config.webhooks == []
    assert all(config.rule(name).enabled for name in RULES)
    assert config.rule("node_stale").after == 120
    assert config.rule("database_unreachable").after == 30
    assert config.rule("item_dead").after is None
    assert (config.delivery.attempts, config.delivery.backoff,
            config.delivery.backoff_max) == (6, 30, 3600)
    assert config.digest is None


def test_missing_default_file_and_empty_file_give_defaults(tmp_path: Path) -> None:
    assert load_alerts_config(tmp_path / "absent.yaml", missing_ok=True) == AlertsConfig()
    assert load_alerts_config(write(tmp_path, "")) == AlertsConfig()
    assert load_alerts_config(write(tmp_path, "rules:\nwebhooks:\n")) == AlertsConfig()


def test_rule_of_an_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="sla_at_risk"):
        AlertsConfig().rule("nope")


def test_rules_can_be_turned_off_and_tuned(tmp_path: Path) -> None:
    config = load_alerts_config(write(tmp_path, """\
        rules:
          item_dead: off
          sla_broken: {enabled: false}
          review_overdue: on
          schedule_missed:
          node_stale: {after: 5m}
          database_unreachable: {enabled: false}
    """))
    assert not config.rule("item_dead").enabled
    assert not config.rule("sla_broken").enabled
    assert config.rule("review_overdue").enabled
    assert config.rule("schedule_missed").enabled
    assert config.rule("node_stale").after == 300
    assert not config.rule("database_unreachable").enabled
    assert config.rule("database_unreachable").after == 30
    assert config.rule("sla_at_risk").enabled  # left out: on


def test_email_ports_follow_security(tmp_path: Path) -> None:
    for security, port in (("starttls", 587), ("tls", 465), ("none", 25)):
        config = load_alerts_config(write(tmp_path, EMAIL + f"  security: {security}\n"))
        assert config.email is not None and config.email.port == port
    config = load_alerts_config(write(tmp_path, EMAIL + "  security: tls\n  port: 2465\n"))
    assert config.email is not None and config.email.port == 2465


def test_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("RPA_HOOK_KEY", "k")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "mine.json.tmpl").write_text(
        '{"msg": {{ (alert.rule ~ ": " ~ alert.title) | tojson }}, '
        '"n": {{ alert.details | length }}}', encoding="utf-8")
    config = load_alerts_config(write(tmp_path, """\
        email:
          host: smtp.example.org
          port: 2525
          security: tls
          username: robots
          password_env: RPA_SMTP_PASSWORD
          from: robots@example.org
          to: drift@example.org
          timeout: 3s
        webhooks:
          - name: teams
            url: https://example.webhook.office.com/webhookb2/abc?x=1
            template: teams
            headers: {X-Api-Key: {env: RPA_HOOK_KEY}, X-Source: rpa, X-Version: 2}
          - name: own_hook-2
            url: http://127.0.0.1:8080/hook
            template: hooks/mine.json.tmpl
        delivery: {attempts: 3, backoff: 10s, backoff_max: 40s}
        digest: daily 07:30
    """))
    assert config.email is not None
    assert config.email.to == ["drift@example.org"]
    assert (config.email.port, config.email.timeout, config.email.sender) == (
        2525, 3.0, "robots@example.org")
    teams, own = config.webhooks
    assert teams.headers == {"X-Api-Key": EnvRef(env="RPA_HOOK_KEY"), "X-Source": "rpa",
                             "X-Version": "2"}
    assert (teams.timeout, own.timeout) == (5.0, 5.0)
    assert Path(own.template).is_absolute()
    assert Path(own.template) == (tmp_path / "hooks" / "mine.json.tmpl").absolute()
    assert config.digest == DailyDigest(at=dt.time(7, 30))
    assert str(config.digest) == "daily 07:30"
    assert [backoff_delay(config, n) for n in (1, 2, 3, 4, 100)] == [10, 20, 40, 40, 40]
    # the token in the URL and the header values stay out of the printed config
    assert "abc?x=1" not in repr(config) and SECRET not in repr(config)


def test_duplicate_addresses_are_merged(tmp_path: Path) -> None:
    config = load_alerts_config(write(tmp_path, """\
        email:
          host: smtp.example.org
          from: robots@example.org
          to: [a@example.org, b@example.org, A@Example.org]
    """))
    assert config.email is not None and config.email.to == ["a@example.org", "b@example.org"]


def test_the_example_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", SECRET)
    config = load_alerts_config(EXAMPLE)
    assert config.email is not None and config.email.security == "starttls"
    assert config.email.password_env == "RPA_SMTP_PASSWORD"
    assert [h.template for h in config.webhooks] == ["teams"]
    assert url_origin(config.webhooks[0].url) == "https://prod-00.westeurope.logic.azure.com/"
    assert all(config.rule(name).enabled for name in RULES)


def test_the_example_file_needs_its_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RPA_SMTP_PASSWORD", raising=False)
    with pytest.raises(AlertConfigError, match="RPA_SMTP_PASSWORD is not set"):
        load_alerts_config(EXAMPLE)


def test_backoff_delay_defaults() -> None:
    config = AlertsConfig()
    assert [backoff_delay(config, n) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_delay(config, 10**6) == 3600
    with pytest.raises(ValueError):
        backoff_delay(config, 0)


def test_url_origin_hides_path_and_query() -> None:
    assert url_origin("https://user:pw@h.example:8443/p/TOKEN?sig=X") == "https://h.example/"


# --- builtin templates ----------------------------------------------------------------------


def test_sample_alerts_have_the_fields_of_an_alert_message() -> None:
    message = AlertMessage("item_dead", "item:1", None, "t", "x", 0.0, {})
    for sample in SAMPLE_ALERTS:
        assert set(sample) == set(message.context())


def rendered(template: str, message: AlertMessage) -> object:
    text = render_payload(compile_template(template_source(template)[1]), message.context())
    return json.loads(text)


def test_builtin_template_shapes() -> None:
    message = AlertMessage("item_dead", "item:42", "invoices", "Item 42 is dead",
                           "It failed 3 times.\nRetry or abandon it.", 1767225600.0,
                           {"attempts": 3}, "https://rpa.example.org/items/42")
    plain = rendered("plain", message)
    assert plain == {"rule": "item_dead", "subject": "item:42", "process": "invoices",
                     "title": "Item 42 is dead", "text": "It failed 3 times.\nRetry or abandon it.",
                     "raised_at": 1767225600.0, "raised_at_iso": "2026-01-01T00:00:00Z",
                     "details": {"attempts": 3}, "link": "https://rpa.example.org/items/42"}
    slack = rendered("slack", message)
    assert isinstance(slack, dict) and slack["text"] == "[RPA] Item 42 is dead"
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "section", "actions",
                                                    "context"]
    teams = rendered("teams", message)
    assert isinstance(teams, dict) and teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["body"][0]["text"] == "Item 42 is dead"
    assert card["content"]["actions"][0]["url"] == "https://rpa.example.org/items/42"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["attempts"] == "3" and facts["Process"] == "invoices"


def without_surrogates(text: str) -> str:
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=8)


@pytest.mark.parametrize("template", BUILTIN_TEMPLATES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(max_size=200), text=st.text(max_size=300),
       details=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
       process=st.none() | st.text(max_size=20), link=st.none() | st.text(max_size=40))
def test_fuzzed_alerts_always_render_json(template: str, title: str, text: str,
                                          details: dict[str, object], process: str | None,
                                          link: str | None) -> None:
    message = AlertMessage("sla_broken", "process:x", process, title, text, 1.5e9, details,
                           link)
    source = render_payload(compile_template(template_source(template)[1]), message.context())
    source.encode("ascii")  # no raw surrogates or control characters reach the wire
    payload = json.loads(source)
    clean = without_surrogates(title)
    if template == "plain":
        assert payload["title"] == clean
        assert payload["text"] == without_surrogates(text)
        assert set(payload["details"]) == {without_surrogates(k) for k in details}
    elif template == "slack":
        assert payload["blocks"][0]["text"]["text"] == (clean or "(no title)")[:150]
        assert payload["text"] == "[RPA] " + clean
    else:
        assert payload["attachments"][0]["content"]["body"][0]["text"] == (clean or "(no title)")


def test_nan_and_infinity_in_details_stay_json() -> None:
    message = AlertMessage("item_dead", "item:1", None, "t", "", 0.0,
                           {"a": math.nan, "b": [math.inf]})
    assert rendered("plain", message)["details"] == {"a": "nan", "b": ["inf"]}  # type: ignore[index]
