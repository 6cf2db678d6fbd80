"""`rpa items list/show/abandon/retry`: filters, attempts and evidence, transitions
and their audit events, confirmation.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.e2e.cli._helpers import HEADER
from tests.e2e.conftest import Cli, Db, invoice_rows, write_csv


def test_items_list_json_filters_by_status(ready: Cli, tmp_path: Path) -> None:
    ids = ready.ok("enqueue", "invoices", "-f",
                   write_csv(tmp_path / "a.csv", HEADER, invoice_rows(4)), "--json").json()["ids"]
    ready.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    ready.ok("items", "abandon", ids["INV-2"], "--reason", "x")

    new = ready.ok("items", "list", "--json", "--status", "new").json()
    assert sorted(i["reference"] for i in new) == ["A-1", "INV-1", "INV-3", "INV-4"]
    assert {i["status"] for i in new} == {"new"}

    only = ready.ok("items", "list", "--json", "-s", "new", "-p", "invoices").json()
    assert sorted(i["reference"] for i in only) == ["INV-1", "INV-3", "INV-4"]
    assert {i["process"] for i in only} == {"invoices"}

    both = ready.ok("items", "list", "--json", "-s", "new", "-s", "abandoned").json()
    assert len(both) == 5
    gone = ready.ok("items", "list", "--json", "--status", "abandoned").json()
    assert [(i["id"], i["reference"]) for i in gone] == [(ids["INV-2"], "INV-2")]

    limited = ready.ok("items", "list", "--json", "--limit", "2").json()
    assert len(limited) == 2

    bad = ready("items", "list", "--status", "finished")
    assert bad.code == 2 and "unknown status 'finished'" in bad.err
    assert ready("items", "list", "--since", "soon").code == 2


def test_items_show_json(lite: Cli) -> None:
    ids = lite.ok("enqueue", "invoices", "-d", '{"invoice_number": "INV-1", "amount": 2.5}',
                  "-r", "INV-1", "--json").json()["ids"]
    item = lite.ok("items", "show", ids["INV-1"], "--json").json()
    assert item["id"] == ids["INV-1"]
    assert item["process"] == "invoices" and item["queue"] == "invoices"
    assert item["status"] == "new"
    assert item["attempts"] == 0 and item["attempt_limit"] == 3
    assert item["payload"] == {"invoice_number": "INV-1", "amount": 2.5}
    assert item["history"] == []
    text = lite.ok("items", "show", ids["INV-1"])
    assert "INV-1" in text.out and "new" in text.out

    missing = lite("items", "show", 4242)
    assert missing.code == 2 and "no work item 4242" in missing.err


def test_items_show_prints_each_attempts_error_and_whole_evidence_paths(
        lite: Cli, sqlite_db: Db, tmp_path: Path) -> None:
    from queues import open_store

    item_id = lite.ok("enqueue", "invoices", "-d", '{"invoice_number": "INV-1", "amount": 1}',
                      "-r", "INV-1", "--json").json()["ids"]["INV-1"]
    shot = str(tmp_path / "evidence" / "invoices" / str(item_id) / "a1-screenshot-long.png")
    store = open_store(sqlite_db.url, writer="test")
    try:
        assert [c.id for c in store.claim("invoices", "worker-7")] == [item_id]
        store.fail_application(item_id, "worker-7", error_type="TimeoutError",
                               message="the portal did not answer", code="E_TIMEOUT",
                               evidence={"screenshot": shot})
    finally:
        store.close()
    out = lite.ok("items", "show", item_id).out
    assert "E_TIMEOUT" in out and "retry_scheduled" in out
    assert "attempt 1 by worker-7" in out and "the portal did not answer" in out
    assert any(line.split() == ["screenshot", shot] for line in out.splitlines()), out


def test_abandon_then_retry_is_visible_in_items_show(ready: Cli) -> None:
    ids = ready.ok("enqueue", "invoices", "-d", '{"invoice_number": "INV-1", "amount": 1}',
                   "-r", "INV-1", "--json").json()["ids"]
    item_id = ids["INV-1"]

    abandoned = ready.ok("items", "abandon", item_id, "--reason", "x")
    assert "1 item(s) abandoned" in abandoned.out
    shown = ready.ok("items", "show", item_id, "--json").json()
    assert shown["status"] == "abandoned"
    assert shown["finished_at"] is not None

    retried = ready.ok("items", "retry", item_id, "--json").json()
    assert retried == {"retried": [item_id], "skipped": []}
    shown = ready.ok("items", "show", item_id, "--json").json()
    assert shown["status"] == "new"
    assert shown["finished_at"] is None
    assert shown["attempt_limit"] == 3

    events = ready.ok("audit", "list", "--item", item_id, "--json").json()
    actions = [e["action"] for e in events]
    assert actions[:3] == ["item.retried", "item.abandoned", "items.enqueued"]  # newest first
    assert events[1]["details"] == {"reason": "x"}


def test_abandon_needs_a_reason(lite: Cli) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    result = lite("items", "abandon", "1")
    assert result.code == 2
    assert "--reason" in result.err
    assert lite.counts("applicants")["new"] == 1


def test_retry_an_item_that_is_not_failed_changes_nothing(lite: Cli) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    result = lite("items", "retry", "1")
    assert result.code != 0
    assert "1 skipped" in result.out
    assert lite.ok("items", "show", 1, "--json").json()["status"] == "new"


def test_retry_by_selection_with_nothing_dead(lite: Cli, tmp_path: Path) -> None:
    lite.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(3)))
    before = lite.counts("invoices")
    result = lite.ok("items", "retry", "--process", "invoices", "--status", "dead", "--yes")
    assert "0 item(s) retried" in result.out
    as_json = lite.ok("items", "retry", "-p", "invoices", "-s", "dead", "--yes", "--json")
    assert as_json.json() == {"retried": [], "skipped": []}
    assert lite.counts("invoices") == before


def test_retry_needs_ids_or_a_selection(lite: Cli) -> None:
    result = lite("items", "retry")
    assert result.code == 2
    assert "give item ids, or select with --process" in result.err
    both = lite("items", "retry", "1", "--process", "invoices")
    assert both.code == 2 and "not both" in both.err


def test_declining_the_confirmation_aborts(lite: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    lite.ok("items", "abandon", "1", "--reason", "x")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    result = lite("items", "retry", "--process", "applicants", "--status", "abandoned")
    assert result.code == 1, str(result)
    assert "aborted" in result.err.lower()
    assert lite.counts("applicants")["abandoned"] == 1
