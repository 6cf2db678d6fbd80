"""Process files that used to be accepted by mistake: each refused with file, line, key, bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.process_config import check_loadable, load_process
from tests.unit.test_process_config import GOOD, line_of, write


def refused(tmp_path: Path, text: str, check: bool = False) -> str:
    path = write(tmp_path, text, name="bad-process.yaml")
    with pytest.raises(ConfigError) as err:
        cfg = load_process(path)
        if check:
            check_loadable(path, cfg)
    message = str(err.value)
    assert "bad-process.yaml" in message
    return message


@pytest.mark.parametrize("value", ["0", "-5", ".inf", "-.inf", ".nan", "4s", "25h"])
def test_lease_out_of_bounds(tmp_path: Path, value: str) -> None:
    text = GOOD.replace("lease: 90s", f"lease: {value}")
    message = refused(tmp_path, text)
    assert f"line {line_of(text, 'lease:')}" in message and "lease" in message
    if value in ("0", "4s", "25h"):
        assert "at least 5s" in message and "at most 1d" in message


@pytest.mark.parametrize("value", ["0s", "0", "-1", ".nan", ".inf", "366d"])
def test_sla_out_of_bounds(tmp_path: Path, value: str) -> None:
    text = GOOD.replace("sla: 2d", f"sla: {value}")
    message = refused(tmp_path, text)
    assert f"line {line_of(text, 'sla:')}" in message and "sla" in message


@pytest.mark.parametrize(("key", "value"), [("backoff", "-1"), ("backoff", ".nan"),
                                            ("backoff_max", ".inf"), ("backoff", "5m")])
def test_backoff_refused(tmp_path: Path, key: str, value: str) -> None:
    old = {"backoff": "backoff: 10s", "backoff_max": "backoff_max: 2m"}[key]
    text = GOOD.replace(old, f"{key}: {value}")
    message = refused(tmp_path, text)
    assert "retry" in message
    assert f"line {line_of(text, 'retry:')}" in message or \
        f"line {line_of(text, key + ':')}" in message
    if value == "5m":
        assert "must not exceed backoff_max" in message


def test_negative_misfire_grace_refused(tmp_path: Path) -> None:
    text = GOOD + "triggers:\n  - interval: 10m\n    misfire_grace: -30\n"
    message = refused(tmp_path, text)
    assert "triggers[0].misfire_grace" in message
    assert "line 25" in message  # the triggers list item: misfire_grace sits under it


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = GOOD + "owner: Someone else\n"
    message = refused(tmp_path, text)
    assert "duplicate key 'owner'" in message
    assert f"line {line_of(text, 'owner: Finance')}" in message
    assert f"line {len(text.splitlines())}" in message


def test_alias_bomb_refused(tmp_path: Path) -> None:
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for n in "bcdefghi":
        prev = chr(ord(n) - 1)
        bomb.append(f"{n}: &{n} [{','.join(['*' + prev] * 9)}]")
    text = GOOD + "bot_config:\n" + "".join(f"  {line}\n" for line in bomb)
    message = refused(tmp_path, text)
    assert "alias *a is not allowed" in message
    assert f"line {line_of(text, 'b: &b')}" in message


def test_oversized_file_refused(tmp_path: Path) -> None:
    text = GOOD + "# " + "x" * 1_100_000 + "\n"
    message = refused(tmp_path, text)
    assert "too large" in message and "1000000 bytes" in message


def test_unknown_bot_refused_with_known_list(tmp_path: Path) -> None:
    text = GOOD.replace("bot: invoice-approval", "bot: no-such-bot")
    message = refused(tmp_path, text, check=True)
    assert f"line {line_of(text, 'bot:')}" in message
    assert "bot: no bot named 'no-such-bot'" in message and "noop" in message


def test_feeder_that_does_not_import_refused(tmp_path: Path) -> None:
    text = GOOD + "triggers:\n  - interval: 10m\nfeeder: no_such_module_xyz:poll\n"
    message = refused(tmp_path, text, check=True)
    assert f"line {line_of(text, 'feeder:')}" in message
    assert "feeder:" in message and "install" in message


def test_input_model_that_does_not_import_refused(tmp_path: Path) -> None:
    start = GOOD.index("input_schema:")
    text = GOOD[:start] + "input_model: no_such_module_xyz:Model\n"
    message = refused(tmp_path, text, check=True)
    assert f"line {line_of(text, 'input_model:')}" in message
    assert "input_model:" in message and "install" in message


def test_good_file_passes_the_load_check(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    check_loadable(path, load_process(path))


def test_example_process_files_pass_the_load_check() -> None:
    from orchestrator.process_config import process_files
    from tests.unit.test_process_config import EXAMPLES

    for path in process_files(EXAMPLES):
        check_loadable(path, load_process(path))


@pytest.mark.parametrize(("section", "needle"), [
    ("retention:\n  payload: -1d\n", "retention.payload"),
    ("retention:\n  payload: .inf\n", "retention.payload"),
    ("retention:\n  payload: 3651d\n", "retention.payload"),
    ("retention:\n  audit: 30d\n", "retention.audit"),
    ("retention:\n  evidence: soon\n", "retention.evidence"),
    ("retention: 90d\n", "retention"),
])
def test_bad_retention_is_refused_naming_key_and_line(tmp_path: Path, section: str,
                                                      needle: str) -> None:
    text = GOOD + section
    message = refused(tmp_path, text)
    assert needle in message
    assert f"line {line_of(text, 'retention:')}" in message or \
        f"line {line_of(text, section.splitlines()[-1].strip()[:8])}" in message


def test_retention_is_kept_in_the_definition_in_seconds(tmp_path: Path) -> None:
    cfg = load_process(write(tmp_path, GOOD + "retention:\n  payload: 90d\n  evidence: 0d\n"))
    assert cfg.to_spec().definition["retention"] == {"payload": 90 * 86400.0, "evidence": 0.0}


@pytest.mark.parametrize(("section", "needle"), [
    ("breaker: {after: 0}", "after"),
    ("breaker: {after: -5}", "after"),
    ("breaker: {after: 1.5}", "after"),
    ("breaker: {after: 100000}", "after"),
    ("breaker: {cool_down: 0s}", "at least 5s"),
    ("breaker: {cool_down: .nan}", "cool_down"),
    ("breaker: {cool_down: 30d}", "at most 1w"),
    ("breaker: {cool_down: soon}", "not a duration"),
    ("breaker: {after: 5, trip: 3}", "trip"),
    ("breaker: true", "breaker"),
    ("alerts: {ignore: [sla_broke]}", "unknown alert rule 'sla_broke'"),
    ("alerts: {ignore: [item_dead, nonsense]}", "sla_at_risk, sla_broken"),
    ("alerts: {email: [not-an-address]}", "not an e-mail address"),
    ('alerts: {email: ["a@b.no\\nBcc: x@evil.example"]}', "not an e-mail address"),
    ("alerts: {email: [a@b.no], webhooks: [teams]}", "webhooks"),
])
def test_breaker_and_alerts_sections_refused(tmp_path: Path, section: str, needle: str) -> None:
    text = GOOD + section + "\n"
    message = refused(tmp_path, text)
    assert needle in message, message
    assert f"line {line_of(text, section.split(':')[0] + ':')}" in message


def test_breaker_and_alerts_sections_accepted(tmp_path: Path) -> None:
    text = GOOD + ("breaker: {after: 3, cool_down: 2m}\n"
                   "alerts: {email: [eier@kommune.no], ignore: [sla_at_risk]}\n")
    config = load_process(write(tmp_path, text))
    definition = config.to_spec().definition
    assert definition["breaker"] == {"enabled": True, "after": 3, "cool_down": 120.0}
    assert definition["alerts"] == {"email": ["eier@kommune.no"], "ignore": ["sla_at_risk"]}
