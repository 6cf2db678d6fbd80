"""`rpa audit verify/list`: a tamper-evident log (altered, removed last, removed middle
events), its JSON and its text at 80 columns, exit 1 through a real subprocess.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.e2e.cli._helpers import HEADER
from tests.e2e.conftest import Cli, Db, Shell, console_script, invoice_rows, write_csv


def test_audit_verify_finds_an_altered_event(ready: Cli, db: Db, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(5)))
    ok = ready.ok("audit", "verify", "--json").json()
    assert ok["ok"] is True and ok["findings"] == []
    # init's checkpoint, two processes registered, one enqueue of five items
    assert ok["events"] == 4
    assert "every hash and checkpoint holds" in ready.ok("audit", "verify").out

    db.execute("UPDATE audit_events SET details = ? WHERE id = 4", ('{"count":6}',))
    result = ready("audit", "verify")
    assert result.code == 1, str(result)
    assert "TAMPERED" in result.out
    assert "event id 4" in result.out
    assert "altered" in result.out
    found = ready("audit", "verify", "--json")
    assert found.code == 1
    report = found.json()
    assert report["ok"] is False
    assert [(f["event_id"], f["seq"]) for f in report["findings"]] == [(4, 4)]


def test_audit_verify_finds_a_removed_last_event(ready: Cli, db: Db) -> None:
    ready.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    ready.ok("audit", "verify")
    db.execute("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    result = ready("audit", "verify")
    assert result.code == 1, str(result)
    assert "chain 1 (cli:os:" in result.out and "position 3" in result.out
    assert "last event(s) were removed" in result.out
    report = ready("audit", "verify", "--json").json()
    assert report["findings"][0]["event_id"] is None


def test_audit_verify_finds_a_removed_middle_event(lite: Cli, sqlite_db: Db) -> None:
    for ref in ("A-1", "A-2", "A-3"):
        lite.ok("enqueue", "applicants", "-d", json.dumps({"reference": ref}))
    sqlite_db.execute("DELETE FROM audit_events WHERE id = 5")
    result = lite("audit", "verify")
    assert result.code == 1
    assert "event id 6" in result.out and "removed" in result.out


def test_audit_list_json(lite: Cli) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    events = lite.ok("audit", "list", "--json").json()
    assert [e["action"] for e in events] == ["items.enqueued", "process.registered",
                                             "process.registered", "audit.checkpoint"]
    details = events[0]["details"]
    assert (details["count"], details["first_id"], details["last_id"]) == (1, 1, 1)
    assert details["references_sha256"] == hashlib.sha256(b"A-1").hexdigest()
    assert events[0]["actor"].startswith("os:")
    only = lite.ok("audit", "list", "--json", "--action", "process.*").json()
    assert {e["action"] for e in only} == {"process.registered"}


# -- real subprocesses -----------------------------------------------------------------------------
def test_subprocess_audit_verify_exit_1_names_the_event(sh: Shell, cli: Cli, sqlite_db: Db,
                                                        process_dir: Path,
                                                        tmp_path: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(4)))
    cli.ok("audit", "verify")

    sqlite_db.execute("UPDATE audit_events SET details = '{\"reference\":\"INV-666\"}' "
                      "WHERE id = 3")
    text, as_json = sh.start("audit", "verify"), sh.start("audit", "verify", "--json",
                                                          command=[console_script()])
    altered = sh.result(text)
    assert altered.code == 1, str(altered)
    assert "TAMPERED" in altered.out and "event id 3" in altered.out
    report = sh.result(as_json)
    assert report.code == 1, str(report)
    assert [f["event_id"] for f in report.json()["findings"]] == [3]


def test_audit_list_keeps_actor_and_details_whole_at_80_columns(
        sh: Shell, cli: Cli, process_dir: Path, tmp_path: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(2)))
    result = sh("audit", "list", env={"COLUMNS": "80"})
    assert result.code == 0, str(result)
    lines = result.out.splitlines()
    assert all(len(line) <= 80 for line in lines), result.out
    enqueued = next(i for i, line in enumerate(lines) if "items.enqueued" in line)
    assert "invoices" in lines[enqueued]
    assert lines[enqueued + 1].split()[1].startswith("os:"), result.out
    assert "count=2" in lines[enqueued + 1], result.out
