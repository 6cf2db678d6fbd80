"""Retention's rules and clock: what is due when, from the process file or the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import retention
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings
from queues import NewItem
from queues.testing import InMemoryStore
from tests.conftest import make_spec

DAY = 86400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, retention_evidence="7d")


def finished(clock: Clock, retention_section: dict[str, float] | None) -> InMemoryStore:
    store = InMemoryStore(writer="t", clock=clock)
    definition = {"retention": retention_section} if retention_section else {}
    store.upsert_process(make_spec(definition=definition), actor="t")
    store.enqueue("invoices", [NewItem("a", {"nin": "01017012345"})], actor="t")
    (item,) = store.claim("invoices", "w")
    store.complete(item.id, "w", {"ok": True})
    return store


def test_due_after_the_process_files_period_and_not_before(settings: Settings) -> None:
    clock = Clock(1_000_000.0)
    store = finished(clock, {"payload": 10 * DAY})
    early = retention.purge(store, settings, actor="t", now=clock.now + 9 * DAY)
    assert sum(line.purged for line in early) == 0  # payload 10d; nothing else is due
    dry = retention.purge(store, settings, actor="t", now=clock.now + 11 * DAY, dry_run=True)
    assert {(line.rule.data, line.due) for line in dry} >= {("payload", 1)}
    assert store.get_item(1).payload == {"nin": "01017012345"}  # a dry run removes nothing
    done = retention.purge(store, settings, actor="t", now=clock.now + 11 * DAY)
    by_data = {line.rule.data: line for line in done}
    assert by_data["payload"].purged == 1 and by_data["payload"].rule.source == "process file"
    assert by_data["output"].purged == 0  # the default (180 days) is not due yet
    # an item with no evidence and no error text has nothing of those to purge
    assert by_data["evidence"].rule.keep == 7 * DAY and by_data["evidence"].purged == 0
    assert by_data["errors"].due == 0
    assert store.get_item(1).payload == {} and store.get_item(1).output == {"ok": True}
    assert store.verify_audit().ok


def test_rules_come_from_the_file_else_the_settings(settings: Settings) -> None:
    store = finished(Clock(0.0), {"errors": 0.0})
    rules = {r.data: r for r in retention.rules_for(store, settings)}
    assert (rules["errors"].keep, rules["errors"].source) == (0.0, "process file")
    assert (rules["payload"].keep, rules["payload"].source) == (180 * DAY, "platform default")
    assert rules["payload"].describe() == "retention.payload 180d (platform default)"


@pytest.mark.parametrize("value", ["-1d", "soon", "99999d"])
def test_a_bad_platform_default_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        retention.platform_defaults(Settings(data_dir=tmp_path, retention_payload=value))
    assert "RPA_RETENTION_PAYLOAD" in str(err.value)


def test_evidence_outside_the_evidence_folder_is_never_touched(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    (root / "p" / "1").mkdir(parents=True)
    inside = root / "p" / "1" / "a1-page.html"
    inside.write_text("x")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    removed = retention.remove_evidence(root, [
        {"page": str(inside), "escape": str(root / ".." / "precious.txt"),
         "absolute": str(outside), "not_a_path": 7}])
    assert removed == 1 and not inside.exists() and outside.read_text() == "keep me"
