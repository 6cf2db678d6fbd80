"""The `rpa` command end to end: exit codes 0/1/2, JSON output, whole-or-nothing imports,
item transitions and a tamper-evident audit log, on SQLite and PostgreSQL.

Most cases call `orchestrator.cli.run` in-process for speed; a handful start the real
console script / `python -m orchestrator.cli` to prove the exit codes reach the shell.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from tests.conftest import truncate_all
from tests.e2e.conftest import (
    APPLICANTS_YAML,
    EXAMPLE_PROCESSES,
    INVOICES_YAML,
    SAMPLE_CSV,
    Cli,
    Db,
    Shell,
    console_script,
    invoice_rows,
    write_csv,
)

HEADER = "reference,invoice_number,amount"


def sample_references() -> list[str]:
    with SAMPLE_CSV.open(newline="", encoding="utf-8-sig") as handle:
        return [row["reference"] for row in csv.DictReader(handle)]


def process_names(cli: Cli) -> list[str]:
    return [p["name"] for p in cli.ok("process", "list", "--json").json()]


# -- setup and process registration ----------------------------------------------------------------
def test_init_then_register_the_example_processes(cli: Cli, db: Db, data_dir: Path) -> None:
    init = cli.ok("init", "--json").json()
    assert init["data_dir"] == str(data_dir)
    assert init["schema"]
    assert data_dir.is_dir()
    assert process_names(cli) == []

    result = cli.ok("process", "register", EXAMPLE_PROCESSES)
    assert "registered" in result.out
    expected = sorted(p.stem for p in EXAMPLE_PROCESSES.glob("*.yaml"))
    assert process_names(cli) == expected

    # registering the same files again updates, and adds nothing
    again = cli.ok("process", "register", EXAMPLE_PROCESSES)
    assert "updated" in again.out and "registered" not in again.out
    assert process_names(cli) == expected


def test_registered_process_carries_its_settings(lite: Cli) -> None:
    shown = lite.ok("process", "show", "invoices", "--json").json()
    assert shown["owner"] == "Finance"
    assert shown["cost_centre"] == "1200"
    assert shown["max_attempts"] == 3
    assert shown["backoff_seconds"] == 10.0
    assert shown["lease_seconds"] == 120.0
    assert shown["sla_minutes"] == 2880.0
    assert shown["priority"] == "normal"
    assert shown["input_schema"]["required"] == ["invoice_number", "amount"]
    assert lite("process", "show", "nope", "--json").code == 2


def test_register_check_changes_nothing(cli: Cli, sqlite_db: Db, process_dir: Path) -> None:
    cli.ok("init")
    result = cli.ok("process", "register", "--check", process_dir)
    assert "is valid" in result.out
    assert process_names(cli) == []


def test_broken_process_file_registers_nothing(cli: Cli, db: Db, process_dir: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir / "applicants.yaml")
    before = cli.ok("process", "list", "--json").json()

    # one good file changed, one broken file next to it: neither may be registered
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("manual_minutes_per_item: 4", "manual_minutes_per_item: 9"))
    broken = process_dir / "zz-broken.yaml"
    broken.write_text(INVOICES_YAML.replace("name: invoices", "name: broken")
                      .replace("max_attempts: 3", "max_attempts: lots"))
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "zz-broken.yaml" in result.err
    assert "retry.max_attempts" in result.err
    assert "line 8" in result.err
    assert cli.ok("process", "list", "--json").json() == before


def test_malformed_yaml_is_exit_2_naming_file_and_line(cli: Cli, sqlite_db: Db,
                                                       process_dir: Path) -> None:
    cli.ok("init")
    (process_dir / "bad.yaml").write_text("name: bad\nowner: [HR\n")
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "bad.yaml" in result.err and "YAML syntax error" in result.err
    assert "line " in result.err
    assert process_names(cli) == []


def test_two_files_with_one_process_name_are_refused(cli: Cli, sqlite_db: Db,
                                                     process_dir: Path) -> None:
    cli.ok("init")
    (process_dir / "copy.yaml").write_text(INVOICES_YAML)
    result = cli("process", "register", process_dir)
    assert result.code == 2
    assert "'invoices' is already used by" in result.err
    assert process_names(cli) == []


def test_register_a_directory_without_process_files(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    (tmp_path / "empty").mkdir()
    result = cli("process", "register", tmp_path / "empty")
    assert result.code == 2
    assert "no *.yaml process files" in result.err


def test_unloadable_input_model_is_exit_2_naming_the_file(cli: Cli, sqlite_db: Db,
                                                          process_dir: Path) -> None:
    cli.ok("init")
    path = process_dir / "modelled.yaml"
    path.write_text(APPLICANTS_YAML.replace("name: applicants", "name: modelled")
                    + "input_model: no_such_module_xyz:Applicant\n")
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "no_such_module_xyz" in result.err
    assert process_names(cli) == []
    # like every other config error, it names the file to fix
    assert "modelled.yaml" in result.err


# -- enqueue ---------------------------------------------------------------------------------------
def test_enqueue_the_sample_twice_adds_once(cli: Cli, db: Db) -> None:
    cli.ok("init")
    cli.ok("process", "register", EXAMPLE_PROCESSES)
    refs = sample_references()

    first = cli.ok("enqueue", "invoice-approval", "--file", SAMPLE_CSV, "--json").json()
    assert first["added"] == len(refs) and first["already_present"] == 0
    assert sorted(first["ids"]) == sorted(refs)

    second = cli.ok("enqueue", "invoice-approval", "-f", SAMPLE_CSV, "--json").json()
    assert second["added"] == 0 and second["already_present"] == len(refs)
    assert second["existing_ids"] == first["ids"]

    text = cli.ok("enqueue", "invoice-approval", "-f", SAMPLE_CSV)
    assert f"0 added, {len(refs)} already present" in text.out
    assert cli.counts("invoice-approval")["new"] == len(refs)
    assert cli.references("invoice-approval") == sorted(refs)


def test_enqueue_reports_added_count_in_text(lite: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.csv", HEADER, invoice_rows(7))
    result = lite.ok("enqueue", "invoices", "-f", path)
    assert "invoices: 7 added, 0 already present" in result.out


def test_csv_with_a_broken_row_adds_nothing(ready: Cli, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "first.csv", HEADER,
                                                     invoice_rows(3, start=900)))
    before = ready.references("invoices")
    rows = invoice_rows(100)
    rows.insert(50, "INV-5000,INV-5000,1.00,surplus")  # file row 52: header + 50 good rows
    result = ready("enqueue", "invoices", "-f", write_csv(tmp_path / "items.csv", HEADER, rows))
    assert result.code == 2, str(result)
    assert "items.csv" in result.err
    assert "row 52" in result.err
    assert ready.references("invoices") == before
    assert ready.counts("invoices")["new"] == 3


def test_payload_failing_the_schema_adds_nothing(ready: Cli, tmp_path: Path) -> None:
    rows = invoice_rows(100)
    rows[39] = "INV-40,INV-40,lots"  # the 40th item: file row 41 (the header is row 1)
    result = ready("enqueue", "invoices", "-f", write_csv(tmp_path / "items.csv", HEADER, rows))
    assert result.code == 2, str(result)
    assert "'amount'" in result.err
    assert "INV-40" in result.err
    assert ready.references("invoices") == []
    # the row number is the one a person finds in the file, as for every other bad row
    assert "row 41" in result.err


def test_schema_failure_beyond_the_first_chunk_adds_nothing(lite: Cli, tmp_path: Path) -> None:
    rows = invoice_rows(2500)
    rows[-1] = "INV-2500,INV-2500,-1"  # minimum 0
    result = lite("enqueue", "invoices", "-f", write_csv(tmp_path / "big.csv", HEADER, rows),
                  "--json")
    assert result.code == 2, str(result)
    assert "'amount'" in result.err
    assert lite.counts("invoices")["new"] == 0


def test_csv_numbers_and_booleans_satisfy_the_schema(lite: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.csv", "reference,invoice_number,amount,paid,priority",
                     ["INV-1,INV-1,12.50,yes,high", "INV-2,INV-2,3,no,"])
    added = lite.ok("enqueue", "invoices", "-f", path, "--json").json()["ids"]
    one = lite.ok("items", "show", added["INV-1"], "--json").json()
    assert one["payload"] == {"invoice_number": "INV-1", "amount": 12.5, "paid": True}
    assert one["priority"] == 2
    two = lite.ok("items", "show", added["INV-2"], "--json").json()
    assert two["payload"] == {"invoice_number": "INV-2", "amount": 3, "paid": False}
    assert two["priority"] == 1


def test_enqueue_json_and_jsonl_files(lite: Cli, tmp_path: Path) -> None:
    items = [{"reference": f"INV-{i}", "invoice_number": f"INV-{i}", "amount": i}
             for i in range(1, 4)]
    as_json = tmp_path / "items.json"
    as_json.write_text(json.dumps({"items": items}))
    assert lite.ok("enqueue", "invoices", "-f", as_json, "--json").json()["added"] == 3
    as_jsonl = tmp_path / "items.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(i) for i in items[1:]) + "\n"
                        + json.dumps({"reference": "INV-9", "invoice_number": "INV-9",
                                      "amount": 9}) + "\n")
    result = lite.ok("enqueue", "invoices", "-f", as_jsonl, "--json").json()
    assert (result["added"], result["already_present"]) == (1, 2)


def test_enqueue_data(lite: Cli) -> None:
    result = lite.ok("enqueue", "invoices", "--data", '{"invoice_number": "INV-7", "amount": 7}',
                     "--reference", "INV-7", "--priority", "high", "--json").json()
    assert result["added"] == 1
    item = lite.ok("items", "show", result["ids"]["INV-7"], "--json").json()
    assert item["reference"] == "INV-7" and item["priority"] == 2
    assert item["payload"] == {"invoice_number": "INV-7", "amount": 7}
    # the reference may also come inside the payload
    inner = lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1", "name": "Åse"}',
                    "--json").json()
    assert list(inner["ids"]) == ["A-1"]
    shown = lite.ok("items", "show", inner["ids"]["A-1"], "--json").json()
    assert shown["payload"] == {"name": "Åse"}


@pytest.mark.parametrize(("args", "words"), [
    (["--data", "{bad json", "-r", "X"], "--data is not valid JSON"),
    (["--data", "[1, 2]", "-r", "X"], "must be a JSON object"),
    (["--data", '{"amount": 1}'], "give the item a --reference"),
    (["--data", '{"a": 1}', "-r", "X", "--priority", "urgent"], "priority 'urgent'"),
    ([], "give either --file FILE or --data"),
    (["--data", "{}", "-r", "X", "--file", "x.csv"], "give either --file FILE or --data"),
])
def test_enqueue_bad_usage_is_exit_2(lite: Cli, args: list[str], words: str) -> None:
    result = lite("enqueue", "applicants", *args)
    assert result.code == 2, str(result)
    assert words in result.err
    assert lite.counts("applicants")["new"] == 0


def test_enqueue_data_failing_the_schema_is_exit_2_naming_the_field(lite: Cli) -> None:
    result = lite("enqueue", "invoices", "--data", '{"invoice_number": "X-1", "amount": 1}',
                  "-r", "X-1")
    assert result.code == 2, str(result)
    assert "'invoice_number'" in result.err and "does not match" in result.err
    assert lite.counts("invoices")["new"] == 0


def test_enqueue_to_an_unknown_process_is_exit_2(lite: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.csv", HEADER, invoice_rows(2))
    result = lite("enqueue", "invoics", "-f", path)
    assert result.code == 2, str(result)
    assert "no process named 'invoics'" in result.err
    assert "rpa process list" in result.err


def test_a_worker_for_an_unknown_process_is_exit_2(lite: Cli) -> None:
    result = lite("worker", "--process", "invoics", "--until-empty")
    assert result.code == 2, str(result)
    assert "unknown process(es) invoics" in result.err and "rpa process list" in result.err


@pytest.mark.parametrize(("name", "text", "words"), [
    ("items.txt", "reference\nA\n", "unknown file type '.txt'"),
    ("items.csv", "ref,amount\nA,1\n", "'reference' column"),
    ("items.csv", "reference,invoice_number,amount\n", "holds no items"),
    ("items.json", '[{"reference": "A",}]', "line 1: not valid JSON"),
])
def test_enqueue_bad_files_are_exit_2(lite: Cli, tmp_path: Path, name: str, text: str,
                                      words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = lite("enqueue", "invoices", "-f", path)
    assert result.code == 2, str(result)
    assert words in result.err


def test_enqueue_a_missing_file_is_exit_2(lite: Cli, tmp_path: Path) -> None:
    result = lite("enqueue", "invoices", "-f", tmp_path / "nowhere.csv")
    assert result.code == 2
    assert "no such file" in result.err


# -- status and items ------------------------------------------------------------------------------
def test_status_json_counts(ready: Cli, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(5)))
    ready.ok("items", "abandon", 1, 2, "--reason", "duplicate invoice")
    rows = {r["queue"]: r for r in ready.ok("status", "--json").json()}
    assert set(rows) == {"invoices", "applicants"}
    assert rows["invoices"]["counts"] == {"new": 3, "in_progress": 0, "done": 0,
                                         "business_failed": 0, "retry_scheduled": 0,
                                         "dead": 0, "abandoned": 2}
    assert rows["invoices"]["oldest_waiting_seconds"] is not None
    assert rows["invoices"]["paused"] is False
    assert rows["invoices"]["sla_broken"] == 0
    assert rows["applicants"]["counts"]["new"] == 0
    assert rows["applicants"]["oldest_waiting_seconds"] is None

    ready.ok("process", "pause", "invoices")
    rows = {r["queue"]: r for r in ready.ok("status", "--json").json()}
    assert rows["invoices"]["paused"] is True


def test_status_text_and_empty_status(cli: Cli, sqlite_db: Db) -> None:
    cli.ok("init")
    assert "No queues yet" in cli.ok("status").out
    assert cli.ok("status", "--json").json() == []


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


# -- the audit log ---------------------------------------------------------------------------------
def test_audit_verify_finds_an_altered_event(ready: Cli, db: Db, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(5)))
    ok = ready.ok("audit", "verify", "--json").json()
    assert ok["ok"] is True and ok["findings"] == []
    assert ok["events"] == 3  # two processes registered, one enqueue of five items
    assert "every hash matches" in ready.ok("audit", "verify").out

    db.execute("UPDATE audit_events SET details = ? WHERE id = 3", ('{"count":6}',))
    result = ready("audit", "verify")
    assert result.code == 1, str(result)
    assert "TAMPERED" in result.out
    assert "event id 3" in result.out
    assert "altered" in result.out
    found = ready("audit", "verify", "--json")
    assert found.code == 1
    report = found.json()
    assert report["ok"] is False
    assert [(f["event_id"], f["seq"]) for f in report["findings"]] == [(3, 3)]


def test_audit_verify_finds_a_removed_last_event(ready: Cli, db: Db) -> None:
    ready.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    ready.ok("audit", "verify")
    db.execute("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    result = ready("audit", "verify")
    assert result.code == 1, str(result)
    assert "the chain's end" in result.out
    assert "last event(s) were removed" in result.out
    report = ready("audit", "verify", "--json").json()
    assert report["findings"][0]["event_id"] is None


def test_audit_verify_finds_a_removed_middle_event(lite: Cli, sqlite_db: Db) -> None:
    for ref in ("A-1", "A-2", "A-3"):
        lite.ok("enqueue", "applicants", "-d", json.dumps({"reference": ref}))
    sqlite_db.execute("DELETE FROM audit_events WHERE id = 4")
    result = lite("audit", "verify")
    assert result.code == 1
    assert "event id 5" in result.out and "removed" in result.out


def test_audit_list_json(lite: Cli) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    events = lite.ok("audit", "list", "--json").json()
    assert [e["action"] for e in events] == ["items.enqueued", "process.registered",
                                             "process.registered"]
    details = events[0]["details"]
    assert (details["count"], details["first_id"], details["last_id"]) == (1, 1, 1)
    assert details["references_sha256"] == hashlib.sha256(b"A-1").hexdigest()
    assert events[0]["actor"].startswith("user:")
    only = lite.ok("audit", "list", "--json", "--action", "process.*").json()
    assert {e["action"] for e in only} == {"process.registered"}


# -- before `rpa init` ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["status"], ["process", "list"], ["items", "list"],
                                  ["audit", "verify"],
                                  ["enqueue", "invoices", "-d", "{}", "-r", "x"]])
def test_commands_before_init_say_run_rpa_init(cli: Cli, data_dir: Path,
                                               args: list[str]) -> None:
    result = cli(*args)
    assert result.code == 2, str(result)
    assert "rpa init" in result.err
    assert not (data_dir / "rpa.db").exists()  # looking did not create a database


def test_unknown_command_and_option_are_exit_2(cli: Cli) -> None:
    assert cli("frobnicate").code == 2
    assert cli("status", "--jsn").code == 2


def test_declining_the_confirmation_aborts(lite: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    lite.ok("enqueue", "applicants", "-d", '{"reference": "A-1"}')
    lite.ok("items", "abandon", "1", "--reason", "x")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    result = lite("items", "retry", "--process", "applicants", "--status", "abandoned")
    assert result.code == 1, str(result)
    assert "aborted" in result.err.lower()
    assert lite.counts("applicants")["abandoned"] == 1


def test_an_unreachable_database_is_exit_1(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_DATABASE_URL", "postgresql+psycopg://rpa:s3cret@127.0.0.1:1/rpa")
    for args in (["status"], ["init"]):
        result = cli(*args)
        assert result.code == 1, str(result)
        assert "cannot reach the database" in result.err
        assert "s3cret" not in result.out + result.err


# -- real subprocesses -----------------------------------------------------------------------------
def test_console_script_end_to_end(sh: Shell, cli: Cli) -> None:
    cli.ok("init")
    cli.ok("process", "register", EXAMPLE_PROCESSES)
    refs = sample_references()
    assert cli.ok("enqueue", "invoice-approval", "-f", SAMPLE_CSV, "--json").json()["added"] \
        == len(refs)

    rpa = [console_script()]
    again = sh.start("enqueue", "invoice-approval", "-f", SAMPLE_CSV, "--json", command=rpa)
    status = sh.start("status", "--json")  # python -m orchestrator.cli
    verify = sh.start("audit", "verify", command=rpa)

    again_result = sh.result(again)
    assert again_result.code == 0, str(again_result)
    assert again_result.json()["already_present"] == len(refs)
    assert again_result.json()["added"] == 0
    status_result = sh.result(status)
    assert status_result.code == 0, str(status_result)
    rows = {r["process"]: r for r in status_result.json()}
    assert rows["invoice-approval"]["counts"]["new"] == len(refs)
    verify_result = sh.result(verify)
    assert verify_result.code == 0, str(verify_result)
    assert "every hash matches" in verify_result.out
    assert cli.references("invoice-approval") == sorted(refs)


def test_subprocess_exit_2_for_bad_input(sh: Shell, cli: Cli, process_dir: Path,
                                         tmp_path: Path) -> None:
    before_init = sh.start("status", env={"RPA_DATA_DIR": str(tmp_path / "fresh")})

    cli.ok("init")
    cli.ok("process", "register", process_dir / "invoices.yaml")
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("cost_centre:", "cost_center:"))
    rows = invoice_rows(100)
    rows.insert(50, "INV-5000,INV-5000")
    bad_csv = write_csv(tmp_path / "bad.csv", HEADER, rows)

    register = sh.start("process", "register", process_dir, command=[console_script()])
    enqueue = sh.start("enqueue", "invoices", "-f", bad_csv)

    result = sh.result(before_init)
    assert result.code == 2, str(result)
    assert "run `rpa init`" in result.err
    result = sh.result(register)
    assert result.code == 2, str(result)
    assert "applicants.yaml" in result.err and "cost_center" in result.err
    result = sh.result(enqueue)
    assert result.code == 2, str(result)
    assert "bad.csv" in result.err and "row 52" in result.err

    assert process_names(cli) == ["invoices"]
    assert cli.counts("invoices")["new"] == 0


def test_subprocess_usage_errors_are_exit_2_without_a_traceback(sh: Shell) -> None:
    procs = [sh.start("status", "--jsn"), sh.start("items", "abandon", "1")]
    results = [sh.result(proc) for proc in procs]
    for result in results:
        assert "Traceback" not in result.err, str(result)
        assert result.code == 2, str(result)


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


def test_subprocess_on_postgres(sh: Shell, cli: Cli, pg_database: str, process_dir: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    truncate_all(pg_database)
    monkeypatch.setenv("RPA_DATABASE_URL", pg_database)
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    added = sh.start("enqueue", "invoices", "-d", '{"invoice_number": "INV-1", "amount": 1}',
                     "-r", "INV-1", "--json")
    refused = sh.start("enqueue", "invoices", "-d", '{"invoice_number": "INV-2", "amount": "x"}',
                       "-r", "INV-2")
    result = sh.result(added)
    assert result.code == 0, str(result)
    assert result.json()["added"] == 1
    result = sh.result(refused)
    assert result.code == 2, str(result)
    assert "'amount'" in result.err
    assert cli.references("invoices") == ["INV-1"]


def status_lines(sh: Shell) -> list[str]:
    result = sh("status", env={"COLUMNS": "80"})
    assert result.code == 0, str(result)
    return result.out.splitlines()


def test_status_fits_80_columns(sh: Shell, cli: Cli, process_dir: Path, tmp_path: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(3)))
    lines = status_lines(sh)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    header = next(line for line in lines if line.lstrip().startswith("queue"))
    assert header.split() == ["queue", "new", "run", "done", "biz", "retry", "dead", "oldest",
                              "SLA"]
    row = next(line for line in lines if line.lstrip().startswith("invoices"))
    assert row.split()[1:7] == ["3", "0", "0", "0", "0", "0"]


def test_status_keeps_every_count_whole_at_80_columns(sh: Shell, cli: Cli, sqlite_db: Db,
                                                      process_dir: Path,
                                                      tmp_path: Path) -> None:
    # a paused queue with a longer (valid) name, thousands waiting for two days
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("name: applicants", "name: applicant-registration"))
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("process", "pause", "applicant-registration")
    cli.ok("enqueue", "invoices", "-f",
           write_csv(tmp_path / "a.csv", HEADER, invoice_rows(1_500)), "--json")
    sqlite_db.execute("UPDATE work_items SET created_at = created_at - 187300")  # 2d 04h

    lines = status_lines(sh)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text, text
    row = next(line for line in lines if line.lstrip().startswith("invoices"))
    assert "1500" in row.split(), text
    assert "2d 04h" in row, text


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
    assert lines[enqueued + 1].split()[1].startswith("user:"), result.out
    assert "count=2" in lines[enqueued + 1], result.out


@pytest.mark.parametrize("view", [
    ("status",), ("process", "list"), ("process", "show", "invoices"), ("items", "list"),
    ("items", "show", "1"), ("audit", "list"), ("audit", "verify"), ("bots", "list"),
    ("credentials", "list"), ("report", "hours"), ("report", "costs"), ("workers",),
    ("schedule", "list"), ("candidates", "list"), ("db", "current"),
])
def test_every_text_view_renders_at_80_columns(sh: Shell, cli: Cli, process_dir: Path,
                                               tmp_path: Path, view: tuple[str, ...]) -> None:
    """The text form of each listing, not only its --json (`process show` once crashed)."""
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("process", "register", EXAMPLE_PROCESSES)  # the default costs name these
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(2)))
    result = sh(*view, env={"COLUMNS": "80"})
    assert result.code == 0, str(result)
    assert result.out.strip() and "Traceback" not in result.err, str(result)
    assert all(len(line) <= 80 for line in result.out.splitlines()), result.out
