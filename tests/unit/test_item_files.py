"""Reading work items from CSV, JSON, JSON Lines and XLSX: whole files or a precise error."""

from __future__ import annotations

import csv
import gc
import json
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import InputFileError, UsageError
from orchestrator.item_files import read_items
from queues import NewItem, Priority

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "amount": {"type": "number"},
        "count": {"type": "integer"},
        "paid": {"type": "boolean"},
        "code": {"type": "string"},
        "maybe": {"type": ["integer", "null"]},
    },
}
SAMPLE = Path(__file__).resolve().parents[2] / "config" / "samples" / "invoices-small.csv"


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def bad(path: Path, schema: dict[str, Any] | None = None) -> str:
    """The message of the InputFileError reading `path` raises."""
    with pytest.raises(InputFileError) as err:
        read_items(path, schema)
    return str(err.value)


# -- CSV -----------------------------------------------------------------------------------------
def test_the_sample_csv_reads_whole() -> None:
    with SAMPLE.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    got = read_items(SAMPLE)
    assert len(got) == len(rows) > 0
    assert [i.reference for i in got] == [r["reference"] for r in rows]
    for item, row in zip(got, rows, strict=True):
        assert item.priority == (Priority.parse(row["priority"]) if row.get("priority")
                                 else None)
        assert item.payload == {k: v for k, v in row.items()
                                if k not in ("reference", "priority", "deadline", "defer_until")}


def test_csv_control_columns_steer_and_the_rest_is_payload(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv",
                 "reference,priority,deadline,defer_until,customer,note\n"
                 "A-1,high,2026-12-01,2026-11-30T08:00,ACME,first\n"
                 "A-2,low,2026-07-01T14:30,,Globex,\n"
                 "A-3,,,,Initech,third\n")
    a1, a2, a3 = read_items(path)
    assert a1 == NewItem(reference="A-1", payload={"customer": "ACME", "note": "first"},
                         priority=Priority.HIGH, deadline=utc(2026, 11, 30, 23, 0),
                         defer_until=utc(2026, 11, 30, 7, 0))
    assert a2.priority == Priority.LOW
    assert a2.deadline == utc(2026, 7, 1, 12, 30)  # naive = Europe/Oslo, summer time
    assert a2.defer_until is None
    assert a2.payload == {"customer": "Globex", "note": ""}
    assert (a3.priority, a3.deadline, a3.defer_until) == (None, None, None)


def test_csv_dates_use_the_timezone_given(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,deadline\nA,2026-12-01\n")
    assert read_items(path, tz="UTC")[0].deadline == utc(2026, 12, 1)
    assert read_items(path)[0].deadline == utc(2026, 11, 30, 23, 0)


def test_csv_priority_as_a_number(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,priority\nA,5\nB, High \n")
    assert [i.priority for i in read_items(path)] == [5, Priority.HIGH]


def test_csv_text_is_coerced_to_the_schema_types(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv",
                 "reference,amount,count,paid,code,maybe,extra\n"
                 "A,12.50,3,yes,007,,12\n"
                 "B,12,0,No,1.5,4,x\n"
                 "C,1e3, 7 ,TRUE,abc,,\n"
                 "D,lots,3.0,maybe,,,\n")
    a, b, c, d = (i.payload for i in read_items(path, SCHEMA))
    assert a == {"amount": 12.5, "count": 3, "paid": True, "code": "007", "maybe": None,
                 "extra": "12"}
    assert type(b["amount"]) is int and b["amount"] == 12
    assert b["count"] == 0 and b["paid"] is False and b["code"] == "1.5" and b["maybe"] == 4
    assert c["amount"] == 1000.0 and c["count"] == 7 and c["paid"] is True
    # what cannot be coerced stays text, for the schema check to reject with its reason
    assert d == {"amount": "lots", "count": "3.0", "paid": "maybe", "code": "", "maybe": None,
                 "extra": ""}


def test_csv_without_a_schema_keeps_text(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,amount,paid\nA,12.50,true\n")
    assert read_items(path)[0].payload == {"amount": "12.50", "paid": "true"}


def test_csv_with_a_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffreference,name\r\nA,Åse\r\nB,Øyvind\r\n".encode())
    assert [(i.reference, i.payload) for i in read_items(path)] == [
        ("A", {"name": "Åse"}), ("B", {"name": "Øyvind"})]


def test_csv_blank_lines_are_skipped_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,n\nA,1\n\nB,2\n,3\n")
    message = bad(path)
    assert "row 5" in message  # header 1, A 2, blank 3, B 4, the empty reference on 5


def test_csv_row_with_too_many_cells_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,a,b\nR1,1,2\nR2,1,2,3\nR3,1,2\n")
    message = bad(path)
    assert str(path) in message
    assert "row 3" in message
    assert "header has 3" in message


def test_csv_row_with_too_few_cells_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,a,b\nR1,1,2\nR2,1,2\nR3,1\n")
    message = bad(path)
    assert str(path) in message
    assert "row 4" in message
    assert "header has 3" in message


@pytest.mark.parametrize(("row", "cells"), [("R2,1,2,3", 4), ("R2,1", 2)])
def test_csv_bad_row_error_counts_the_cells_the_row_really_has(
        tmp_path: Path, row: str, cells: int) -> None:
    path = write(tmp_path, "items.csv", f"reference,a,b\nR1,1,2\n{row}\n")
    message = bad(path)
    assert "row 3" in message
    assert f"has {cells} cells where the header has 3" in message


def test_csv_without_a_reference_column(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "ref,amount\nA,1\n")
    message = bad(path)
    assert str(path) in message
    assert "'reference' column" in message
    assert "ref, amount" in message  # shows what it found


def test_empty_csv_file(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "items.csv", ""))
    assert "'reference' column" in message
    assert "is empty" in message


@pytest.mark.parametrize("value", ["", "   "])
def test_csv_empty_reference_names_the_row(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "items.csv", f"reference,a\nA,1\nB,2\n{value},3\n")
    message = bad(path)
    assert "row 4" in message
    assert "'reference'" in message and "empty" in message


def test_csv_duplicate_reference_names_both_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,a\nA,1\nB,2\n A ,3\n")
    message = bad(path)
    assert "row 4" in message
    assert "'A'" in message
    assert "already appears in row 2" in message


def test_csv_references_are_trimmed(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,a\n  A-1  ,1\n")
    assert read_items(path)[0].reference == "A-1"


@pytest.mark.parametrize(("column", "value", "words"), [
    ("priority", "urgent", "priority 'urgent'"),
    ("deadline", "next week", "'next week' is not a date"),
    ("defer_until", "31.12.2026", "'31.12.2026' is not a date"),
])
def test_csv_bad_control_value_names_row_and_reference(
        tmp_path: Path, column: str, value: str, words: str) -> None:
    path = write(tmp_path, "items.csv", f"reference,{column}\nA,\nB,{value}\n")
    message = bad(path)
    assert "row 3" in message
    assert "reference 'B'" in message
    assert words in message


def test_csv_the_csv_module_refuses_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "items.csv", "reference,a\nA," + "x" * 200_000 + "\n")
    message = bad(path)
    assert "line 2: holds a field over 131,072 characters" in message


def test_csv_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes("reference,name\nA,Åse\n".encode("latin-1"))
    message = bad(path)
    assert str(path) in message
    assert "is not UTF-8 text" in message


def test_input_file_error_is_a_usage_error() -> None:
    # the CLI maps UsageError to exit code 2
    assert issubclass(InputFileError, UsageError)
    assert InputFileError.exit_code == 2


# -- JSON and JSON Lines -------------------------------------------------------------------------
def test_json_array(tmp_path: Path) -> None:
    path = write(tmp_path, "items.json", json.dumps([
        {"reference": "A", "amount": "12.50", "priority": "high", "deadline": "2026-12-01"},
        {"reference": 2, "payload": {"nested": [1, 2]}, "ignored": True},
    ]))
    a, b = read_items(path, SCHEMA)
    assert a.reference == "A"
    assert a.payload == {"amount": "12.50"}  # JSON has types: no coercion of its strings
    assert a.priority == Priority.HIGH and a.deadline == utc(2026, 11, 30, 23, 0)
    assert b.reference == "2"  # a numeric reference becomes text
    assert b.payload == {"nested": [1, 2]}  # an explicit payload object is taken as is


def test_json_items_object(tmp_path: Path) -> None:
    path = write(tmp_path, "items.json",
                 json.dumps({"items": [{"reference": "A", "x": 1}, {"reference": "B", "x": 2}]}))
    assert [(i.reference, i.payload) for i in read_items(path)] == [("A", {"x": 1}),
                                                                     ("B", {"x": 2})]


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "items.json",
                 '[\n  {"reference": "A"},\n  {"reference": "B",}\n]\n')
    message = bad(path)
    assert str(path) in message
    assert "line 3" in message
    assert "not valid JSON" in message


@pytest.mark.parametrize("text", ['{"reference": "A"}', '"items"', '{"items": 3}', "42"])
def test_json_that_is_not_a_list_of_items(tmp_path: Path, text: str) -> None:
    message = bad(write(tmp_path, "items.json", text))
    assert "expected a JSON array of items" in message


def test_json_item_that_is_not_an_object(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "items.json", '[{"reference": "A"}, ["B"]]'))
    assert "item 2" in message
    assert "expected a JSON object, found an array" in message


def test_json_missing_and_duplicate_references_name_the_item(tmp_path: Path) -> None:
    missing = bad(write(tmp_path, "a.json", '[{"reference": "A"}, {"x": 1}]'))
    assert "item 2" in missing and "'reference'" in missing
    null = bad(write(tmp_path, "b.json", '[{"reference": null}]'))
    assert "item 1" in null
    dup = bad(write(tmp_path, "c.json", '[{"reference": "A"}, {"reference": "B"}, '
                                        '{"reference": "A"}]'))
    assert "item 3" in dup and "already appears in item 1" in dup


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".JSONL"])
def test_jsonl(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path, f"items{suffix}",
                 '{"reference": "A", "n": 1}\n\n   \n{"reference": "B", "n": 2, '
                 '"priority": "low"}\n')
    a, b = read_items(path)
    assert (a.reference, a.payload) == ("A", {"n": 1})
    assert (b.reference, b.payload, b.priority) == ("B", {"n": 2}, Priority.LOW)


def test_jsonl_bad_line_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "items.jsonl",
                 '{"reference": "A"}\n{"reference": "B"}\n{"reference": "C"\n{"reference": "D"}\n')
    message = bad(path)
    assert str(path) in message
    assert "line 3" in message
    assert "not valid JSON" in message


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "items.jsonl", '{"reference": "A"}\n[1, 2]\n'))
    assert "line 2" in message
    assert "expected a JSON object" in message


def test_jsonl_duplicate_names_lines(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "items.jsonl",
                        '{"reference": "A"}\n\n{"reference": "A"}\n'))
    assert "line 3" in message and "already appears in line 1" in message


# -- XLSX ----------------------------------------------------------------------------------------
def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def bad_xlsx(path: Path) -> str:
    """Like `bad`, and the rejected workbook's file must be closed, not left to the GC."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        message = bad(path)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, f"reading {path.name} left its file open: {leaks}"
    return message


def test_xlsx_numeric_reference_dates_and_coercion(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [
        ["reference", "amount", "count", "paid", "invoice_date", "deadline", "priority", "code"],
        [1001, "12.50", 3, True, date(2026, 11, 1), datetime(2026, 12, 1, 14, 30), "high", "A"],
        ["X-2", 7.25, "4", "no", "2026-11-02", None, None, None],
    ])
    first, second = read_items(path, SCHEMA)
    assert first.reference == "1001"
    assert first.payload == {"amount": 12.5, "count": 3, "paid": True,
                             "invoice_date": "2026-11-01", "code": "A"}
    assert first.deadline == utc(2026, 12, 1, 13, 30)  # a date cell, naive = Europe/Oslo
    assert first.priority == Priority.HIGH
    assert second.reference == "X-2"
    assert second.payload == {"amount": 7.25, "count": 4, "paid": False,
                              "invoice_date": "2026-11-02", "code": ""}
    assert second.deadline is None and second.priority is None


def test_xlsx_blank_rows_are_skipped_and_rows_keep_spreadsheet_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [
        ["reference", "n"], ["A", 1], [None, None], ["B", 2], ["A", 3],
    ])
    message = bad_xlsx(path)
    assert str(path) in message
    assert "row 5" in message and "already appears in row 2" in message


def test_xlsx_empty_reference_names_the_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [["reference", "n"], ["A", 1], [None, 2]])
    message = bad_xlsx(path)
    assert "row 3" in message and "'reference'" in message


def test_xlsx_without_a_reference_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [["ref", "n"], ["A", 1]])
    message = bad_xlsx(path)
    assert str(path) in message and "'reference' column" in message


# -- file types ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["items.txt", "items.xls", "items"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "reference\nA\n")
    message = bad(path)
    assert str(path) in message
    assert "unknown file type" in message
    assert ".csv, .json, .jsonl, .ndjson, .xlsx" in message


def test_missing_file(tmp_path: Path) -> None:
    message = bad(tmp_path / "nowhere.csv")
    assert "no such file" in message
