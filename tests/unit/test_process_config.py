"""Process YAML: the example files load, and every mistake is named by file, key and line."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from orchestrator.durations import parse_duration
from orchestrator.errors import ConfigError, UsageError
from orchestrator.process_config import ProcessConfig, load_process, process_files
from queues import Priority, RetryPolicy

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "processes"

GOOD = textwrap.dedent("""\
    # a comment first, so line numbers are not trivially 1
    name: invoice-check
    description: Check invoices
    owner: Finance
    cost_centre: "1200"
    bot: invoice-approval
    manual_minutes_per_item: 6
    exception_minutes_per_item: 2
    retry:
      max_attempts: 5
      backoff: 10s
      backoff_max: 2m
    lease: 90s
    concurrency: 3
    priority: high
    sla: 2d
    queue: invoices
    input_schema:
      type: object
      required: [invoice_number]
      properties:
        invoice_number: {type: string}
    """)


def write(tmp_path: Path, text: str, name: str = "process.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, start: str) -> int:
    """1-based number of the (only) line that starts, after indentation, with `start`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1)
             if line.lstrip().startswith(start)]
    assert len(found) == 1, f"{start!r} is on lines {found}"
    return found[0]


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_process(path)
    return str(err.value)


def edited(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# -- the example files -----------------------------------------------------------------------
def test_example_files_are_found_in_name_order() -> None:
    assert [p.name for p in process_files(EXAMPLES)] == [
        "applicant-registration.yaml", "invoice-approval.yaml"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_files_load_and_name_themselves_after_their_file(path: Path) -> None:
    cfg = load_process(path)
    assert cfg.name == path.stem
    spec = cfg.to_spec()
    assert spec.name == path.stem
    assert spec.input_schema is not None and spec.input_schema["type"] == "object"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_spec_matches_its_file(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = load_process(path).to_spec()
    assert spec.owner == raw["owner"]
    assert spec.cost_centre == str(raw["cost_centre"])
    assert spec.bot == raw["bot"]
    assert spec.manual_minutes_per_item == float(raw["manual_minutes_per_item"])
    assert spec.exception_minutes_per_item == float(raw.get("exception_minutes_per_item", 0))
    retry = raw.get("retry", {})
    assert spec.retry == RetryPolicy(retry.get("max_attempts", 3),
                                     parse_duration(retry.get("backoff", 30)),
                                     parse_duration(retry.get("backoff_max", 3600)))
    assert spec.lease_seconds == parse_duration(raw.get("lease", 300))
    assert spec.concurrency == raw.get("concurrency", 1)
    assert spec.default_priority == Priority.BY_NAME[raw.get("priority", "normal")]
    assert spec.sla_minutes == parse_duration(raw["sla"]) / 60
    assert spec.input_schema == raw["input_schema"]
    assert spec.queue_name == raw.get("queue", raw["name"])


def test_process_files_finds_yml_too_and_ignores_other_files(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "c.txt", "d.yaml.bak"):
        (tmp_path / name).write_text("x: 1\n")
    assert [p.name for p in process_files(tmp_path)] == ["a.yml", "b.yaml"]


# -- to_spec carries every field ------------------------------------------------------------------
def test_to_spec_carries_every_field(tmp_path: Path) -> None:
    spec = load_process(write(tmp_path, GOOD)).to_spec()
    assert spec.name == "invoice-check"
    assert spec.description == "Check invoices"
    assert spec.owner == "Finance"
    assert spec.cost_centre == "1200"
    assert spec.bot == "invoice-approval"
    assert spec.manual_minutes_per_item == 6.0
    assert spec.exception_minutes_per_item == 2.0
    assert spec.retry.max_attempts == 5
    assert spec.retry.backoff_seconds == 10.0
    assert spec.retry.backoff_max_seconds == 120.0
    assert spec.lease_seconds == 90.0
    assert spec.concurrency == 3
    assert spec.default_priority == Priority.HIGH == 2
    assert isinstance(spec.default_priority, int)
    assert spec.sla_minutes == 2880.0
    assert spec.queue == "invoices" and spec.queue_name == "invoices"
    assert spec.input_schema == {"type": "object", "required": ["invoice_number"],
                                 "properties": {"invoice_number": {"type": "string"}}}
    # the definition is the file as validated, for the audit log's "what changed"
    assert spec.definition["retry"] == {"max_attempts": 5, "backoff": 10.0,
                                        "backoff_max": 120.0}
    assert spec.definition["sla"] == 172_800.0
    assert spec.definition["priority"] == "high"
    assert "input_model" not in spec.definition  # None values are left out


def test_defaults_when_optional_keys_are_left_out(tmp_path: Path) -> None:
    path = write(tmp_path, "name: minimal\nowner: HR\ncost_centre: 1400\nbot: noop\n"
                           "manual_minutes_per_item: 1.5\n")
    spec = load_process(path).to_spec()
    assert spec.cost_centre == "1400"  # an unquoted number is read as the text it is
    assert spec.manual_minutes_per_item == 1.5
    assert spec.retry.max_attempts == 3
    assert spec.retry.backoff_seconds == 30.0
    assert spec.retry.backoff_max_seconds == 3600.0
    assert spec.lease_seconds == 300.0
    assert spec.concurrency == 1
    assert spec.default_priority == Priority.NORMAL
    assert spec.sla_minutes is None
    assert spec.input_schema is None
    assert spec.queue_name == "minimal"


@pytest.mark.parametrize(("priority", "value"), [("high", 2), ("normal", 1), ("low", 0)])
def test_priority_names_become_ints(tmp_path: Path, priority: str, value: int) -> None:
    path = write(tmp_path, edited("priority: high", f"priority: {priority}"))
    assert load_process(path).to_spec().default_priority == value


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10.0), ("2m", 120.0), ("2d", 172_800.0),
                                               ("1.5h", 5_400.0), ("45", 45.0)])
def test_durations_convert(tmp_path: Path, text: str, seconds: float) -> None:
    # backoff_max raised too: a backoff above backoff_max is now refused
    path = write(tmp_path, GOOD.replace("backoff: 10s", f"backoff: {text}")
                 .replace("backoff_max: 2m", "backoff_max: 7d")
                 .replace("lease: 90s", f"lease: {text}" if seconds <= 86_400 else "lease: 90s")
                 .replace("sla: 2d", f"sla: {text}"))
    spec = load_process(path).to_spec()
    assert spec.retry.backoff_seconds == seconds
    # a lease longer than 24h is refused (tests/unit/test_process_files_bad.py)
    assert spec.lease_seconds == (seconds if seconds <= 86_400 else 90.0)
    assert spec.sla_minutes == pytest.approx(seconds / 60)


def test_input_model_gives_the_json_schema(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"rpa_test_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent("""\
        from pydantic import BaseModel

        class Invoice(BaseModel):
            invoice_number: str
            amount: float
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    text = GOOD.split("input_schema:")[0] + f"input_model: {module}:Invoice\n"
    spec = load_process(write(tmp_path, text)).to_spec()
    assert spec.input_schema is not None
    assert spec.input_schema["required"] == ["invoice_number", "amount"]
    assert spec.input_schema["properties"]["amount"]["type"] == "number"


def test_input_model_that_cannot_be_loaded(tmp_path: Path) -> None:
    text = GOOD.split("input_schema:")[0] + "input_model: no_such_module_xyz:Invoice\n"
    cfg = load_process(write(tmp_path, text))
    with pytest.raises(ConfigError, match="no_such_module_xyz:Invoice"):
        cfg.to_spec()


# -- errors: syntax --------------------------------------------------------------------------------
def test_config_error_is_a_usage_error() -> None:
    assert issubclass(ConfigError, UsageError) and ConfigError.exit_code == 2


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    text = edited("bot: invoice-approval", "bot: invoice-approval: oops")
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert f"line {line_of(text, 'bot:')}," in message
    assert "YAML syntax error" in message


def test_unclosed_bracket_names_file_and_a_line(tmp_path: Path) -> None:
    text = edited("required: [invoice_number]", "required: [invoice_number")
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert "YAML syntax error" in message
    assert "line " in message


@pytest.mark.parametrize(("text", "found"), [("- a\n- b\n", "list"), ("", "NoneType"),
                                             ("just text\n", "str")])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert "expected a mapping" in message and found in message


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    assert "no such file" in error_of(tmp_path / "nowhere.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\nowner: Økonomi\n".encode("latin-1"))
    message = error_of(path)
    assert str(path) in message and "not UTF-8" in message


# -- errors: validation, each with file, key path and line -----------------------------------------
@pytest.mark.parametrize(("old", "new", "key", "line_start", "words"), [
    pytest.param("manual_minutes_per_item: 6", "manual_minutes_per_item: lots",
                 "manual_minutes_per_item", "manual_minutes_per_item:",
                 ["valid number", "(got 'lots')"], id="wrong-type"),
    pytest.param("max_attempts: 5", "max_attempts: many", "retry.max_attempts",
                 "max_attempts:", ["valid integer", "(got 'many')"], id="nested-wrong-type"),
    pytest.param("max_attempts: 5", "max_attempts: 0", "retry.max_attempts", "max_attempts:",
                 ["greater than or equal to 1", "(got 0)"], id="nested-out-of-range"),
    pytest.param("concurrency: 3", "concurency: 3", "concurency", "concurency:",
                 ["unknown key", "spelling"], id="misspelt-key"),
    pytest.param("  backoff: 10s", "  backof: 10s", "retry.backof", "backof:",
                 ["unknown key"], id="misspelt-nested-key"),
    pytest.param("name: invoice-check", "name: Invoice_Check", "name", "name:",
                 ["lower-case letters, digits and dashes", "(got 'Invoice_Check')"],
                 id="bad-name"),
    pytest.param("sla: 2d", "sla: soon", "sla", "sla:",
                 ["'soon' is not a duration", "90s, 15m"], id="bad-duration"),
    pytest.param("lease: 90s", "lease: 5 minutes", "lease", "lease:",
                 ["is not a duration"], id="bad-lease"),
    pytest.param("  backoff_max: 2m", "  backoff_max: later", "retry.backoff_max",
                 "backoff_max:", ["is not a duration"], id="bad-nested-duration"),
    pytest.param("priority: high", "priority: urgent", "priority", "priority:",
                 ["'high', 'normal' or 'low'"], id="bad-priority"),
    pytest.param("concurrency: 3", "concurrency: 100", "concurrency", "concurrency:",
                 ["less than or equal to 64"], id="too-much-concurrency"),
    pytest.param("input_schema:\n", "input_schema: [a, b]\nx_schema:\n", "input_schema",
                 "input_schema:", ["valid dictionary"], id="schema-not-a-mapping"),
])
def test_validation_errors_name_file_key_and_line(
        tmp_path: Path, old: str, new: str, key: str, line_start: str,
        words: list[str]) -> None:
    text = edited(old, new)
    if "x_schema:" in text:  # keep the file otherwise valid: drop the orphaned schema body
        text = text.split("x_schema:")[0]
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}: 1 problem(s):")
    assert f"line {line_of(text, line_start)}: {key}: " in message
    for word in words:
        assert word in message


def test_missing_required_key_names_file_and_key(tmp_path: Path) -> None:
    text = edited("owner: Finance\n", "")
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert "owner: required key is missing" in message
    # a missing key has no line of its own: the mapping it belongs in is named
    assert f"line {line_of(text, 'name:')}: owner" in message


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = (edited("manual_minutes_per_item: 6", "manual_minutes_per_item: lots")
            .replace("sla: 2d", "sla: soon").replace("bot: invoice-approval\n", ""))
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}: 3 problem(s):")
    assert f"line {line_of(text, 'manual_minutes_per_item:')}: manual_minutes_per_item" in message
    assert f"line {line_of(text, 'sla:')}: sla" in message
    assert "bot: required key is missing" in message
    assert len(message.splitlines()) == 4  # the heading and one line per problem


def test_invalid_json_schema_names_file_key_and_line(tmp_path: Path) -> None:
    text = edited("  type: object", "  type: objekt")
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert "not a valid JSON Schema" in message
    # the problem is under input_schema: the message must send the reader there
    assert f"line {line_of(text, 'input_schema:')}: input_schema" in message


def test_schema_and_model_together_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "input_model: some.module:Model\n")
    message = error_of(path)
    assert str(path) in message
    assert "give input_schema or input_model, not both" in message


def test_a_boolean_is_not_a_duration(tmp_path: Path) -> None:
    # YAML reads `sla: yes` as True; that is no duration, not an SLA of one second
    text = edited("sla: 2d", "sla: yes")
    path = write(tmp_path, text)
    message = error_of(path)
    assert f"line {line_of(text, 'sla:')}: sla" in message


def test_model_can_be_built_from_a_dict_too() -> None:
    cfg = ProcessConfig.model_validate({"name": "x-1", "owner": "o", "cost_centre": 1,
                                        "bot": "b", "manual_minutes_per_item": 1,
                                        "retry": {"backoff": "1m"}})
    assert cfg.cost_centre == "1"
    assert cfg.retry.backoff == 60.0


BASE_PROCESS = {"name": "x", "owner": "o", "cost_centre": "1", "bot": "noop",
                "manual_minutes_per_item": 1}


@pytest.mark.parametrize(("browser", "words"), [
    ({"viewport": [10, 10]}, r"from \[320, 240\]"),
    ({"viewport": [1600]}, "viewport"),
    ({"viewport": "wide"}, "viewport"),
    ({"viewport": [1600.5, 900]}, "viewport"),
    ({"locale": "norsk!"}, "nb-NO"),
    ({"timezone": "Mars/Base"}, "time zone"),
    ({"user_agent": "a\nb"}, "one line"),
    ({"user_agent": "a\x00b"}, "one line"),
    ({"http_credentials": "x" * 101}, "100 characters"),
    ({"password": "hunter2"}, "Extra inputs"),
])
def test_a_bad_browser_section_names_the_key(browser: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ProcessConfig.model_validate({**BASE_PROCESS, "browser": browser})


def test_a_browser_section_is_kept_in_the_definition() -> None:
    cfg = ProcessConfig.model_validate({**BASE_PROCESS, "browser": {
        "viewport": [1600, 1000], "locale": "nb-NO", "timezone": "Europe/Oslo"}})
    assert cfg.to_spec().definition["browser"] == {
        "viewport": [1600, 1000], "locale": "nb-NO", "timezone": "Europe/Oslo",
        "accept_downloads": True}


@pytest.mark.parametrize(("given", "kept"), [
    ("invoice_number", ["invoice_number"]),
    (["supplier", "invoice_date", "total"], ["supplier", "invoice_date", "total"]),
])
def test_reference_from_names_the_key_columns(given: object, kept: list[str]) -> None:
    cfg = ProcessConfig.model_validate({**BASE_PROCESS, "reference_from": given})
    assert cfg.to_spec().definition["reference_from"] == kept


@pytest.mark.parametrize("bad", [[], [""], ["a", "a"], ["a"] * 6, [1], "a\nb", {"a": 1}])
def test_a_bad_reference_from_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="reference_from"):
        ProcessConfig.model_validate({**BASE_PROCESS, "reference_from": bad})
