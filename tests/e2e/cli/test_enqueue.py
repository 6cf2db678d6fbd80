"""`rpa enqueue`: CSV, JSON, JSON Lines and --data, idempotent, whole-or-nothing,
checked against the input schema; in-process and as a real subprocess on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import truncate_all
from tests.e2e.cli._helpers import HEADER, sample_references
from tests.e2e.conftest import (
    EXAMPLE_PROCESSES,
    SAMPLE_CSV,
    Cli,
    Db,
    Shell,
    invoice_rows,
    write_csv,
)


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


def test_a_reference_repeated_across_chunks_adds_nothing(ready: Cli, tmp_path: Path) -> None:
    """The file streams a chunk (1,000 rows) at a time; a repeat of an earlier chunk's
    reference is found in the database's transaction, and all of it rolls back."""
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "first.csv", HEADER,
                                                     invoice_rows(2, start=9000)))
    rows = invoice_rows(2500)
    rows[2200] = rows[10]  # file row 2202 repeats row 12
    result = ready("enqueue", "invoices", "-f", write_csv(tmp_path / "big.csv", HEADER, rows))
    assert result.code == 2, str(result)
    assert "row 2202" in result.err and "already appears earlier in the file" in result.err
    assert "Traceback" not in result.err
    assert ready.counts("invoices")["new"] == 2  # what was there before, nothing more
    again = ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "ok.csv", HEADER,
                                                            invoice_rows(2500, start=8000)),
                     "--json").json()
    assert again["added"] == 2498 and again["already_present"] == 2  # 9000 and 9001
    assert len(again["ids"]) == 2498


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
    (["--data", "{bad json", "-r", "X"], "--data: not valid JSON"),
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


# -- real subprocesses -----------------------------------------------------------------------------
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


def test_the_queue_key_comes_from_a_chosen_column_and_stays_in_the_payload(
        ready: Cli, tmp_path: Path) -> None:
    # the file's own reference column is sometimes empty (no supplier reference)
    csv = write_csv(tmp_path / "k.csv", "reference,invoice_number,amount",
                    [",INV-1,1.50", "SUP-9,INV-2,2.50"])
    assert ready("enqueue", "invoices", "-f", csv).code == 2  # empty 'reference' column
    ids = ready.ok("enqueue", "invoices", "-f", csv, "--reference-column", "invoice_number",
                   "--json").json()["ids"]
    assert sorted(ids) == ["INV-1", "INV-2"]
    item = ready.ok("items", "show", ids["INV-2"], "--json").json()
    assert item["payload"]["invoice_number"] == "INV-2"
    assert item["payload"]["reference"] == "SUP-9"  # the file's own column, kept
    again = ready.ok("enqueue", "invoices", "-f", csv, "--reference-column", "invoice_number",
                     "--json").json()
    assert again["added"] == 0 and again["already_present"] == 2


def test_a_key_built_from_several_columns(ready: Cli, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "c.csv", "invoice_number,amount,paid",
                    ["INV-7,10.00,true", "INV-7,12.00,false"])
    ids = ready.ok("enqueue", "invoices", "-f", csv, "--reference-column", "invoice_number",
                   "--reference-column", "amount", "--json").json()["ids"]
    assert sorted(ids) == ["INV-7 / 10.00", "INV-7 / 12.00"]  # as written in the file
    for args, words in [
        (["--reference-column", "supplier"], "must have a 'supplier' column"),
        (["--reference-column", " "], "1 to 5 columns"),
    ]:
        result = ready("enqueue", "invoices", "-f", csv, *args)
        assert result.code == 2 and words in result.err, result
    empty = write_csv(tmp_path / "e.csv", "invoice_number,amount", ["INV-8,", "INV-9,3"])
    result = ready("enqueue", "invoices", "-f", empty, "--reference-column", "invoice_number",
                   "--reference-column", "amount")
    assert result.code == 2 and "row 2" in result.err and "'amount' is empty" in result.err
    assert result.code == 2 and ready.references("invoices") == sorted(ids)
