"""The bad-input corpus: every input `rpa` once accepted by mistake, or crashed on.

Each case runs the real CLI against a real database (the SQLite file, then
PostgreSQL) and asserts the one rule of issue 15: exit 2, one message that names
where (the file and its row, line, item, cell or key, or the flag), no
traceback, and nothing written: the counts of items, audit events, chains and
processes, and the process definitions, are what they were before.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.e2e.conftest import INVOICES_YAML, Cli, Db

HEADER = "reference,invoice_number,amount"
GOOD_ROW = "INV-1,INV-1,1.50"


@dataclass(frozen=True)
class Case:
    """A file to write (name and bytes) and the arguments that feed it to `rpa`."""

    name: str
    content: bytes | Callable[[], bytes] | None
    args: tuple[str, ...]
    names: tuple[str, ...]  # fragments the message must hold: the where, and the what

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        if self.content is not None:
            data = self.content() if callable(self.content) else self.content
            path.write_bytes(data)
        return path


def text(value: str) -> bytes:
    return value.encode("utf-8")


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return text("\n".join([header, *rows]) + "\n")


def xlsx(rows: list[list[object]], after: Callable[[Workbook], None] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if after:
        after(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def truncated_xlsx() -> bytes:
    whole = xlsx([["reference", "invoice_number", "amount"], ["INV-1", "INV-1", 1.5]])
    return whole[: len(whole) // 2]


def xlsx_missing_sheet() -> bytes:
    """A zip that claims to be a workbook but lost its worksheet part."""
    whole = io.BytesIO(xlsx([["reference"], ["A"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if "worksheets/sheet1" not in info.filename:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


def enqueue(name: str) -> tuple[str, ...]:
    return ("enqueue", "invoices", "--file", name)


ITEM_FILES = [
    # -- CSV
    Case("unclosed.csv", csv_file(GOOD_ROW, '"INV-2,INV-2,2', "INV-3,INV-3,3"),
         enqueue("unclosed.csv"), ("unclosed.csv", "line 3", "never closed")),
    Case("after-quote.csv", csv_file('"INV-1"x,INV-1,1'), enqueue("after-quote.csv"),
         ("after-quote.csv", "line 2")),
    Case("ragged.csv", csv_file(GOOD_ROW, "INV-2,INV-2,2,extra"), enqueue("ragged.csv"),
         ("ragged.csv", "row 3", "4 cells")),
    Case("short.csv", csv_file(GOOD_ROW, "INV-2,INV-2"), enqueue("short.csv"),
         ("short.csv", "row 3", "2 cells")),
    Case("dup-header.csv", csv_file("INV-1,INV-1,1,2",
                                    header="reference,invoice_number,amount,amount"),
         enqueue("dup-header.csv"), ("dup-header.csv", "line 1", "'amount' twice")),
    Case("blank-header.csv", csv_file("INV-1,INV-1,1,2",
                                      header="reference,invoice_number,amount,"),
         enqueue("blank-header.csv"), ("blank-header.csv", "column 4", "no name")),
    Case("no-reference.csv", csv_file("INV-1,1", header="invoice_number,amount"),
         enqueue("no-reference.csv"), ("no-reference.csv", "'reference' column")),
    Case("empty.csv", b"", enqueue("empty.csv"), ("empty.csv", "empty")),
    Case("header-only.csv", csv_file(), enqueue("header-only.csv"),
         ("header-only.csv", "no items")),
    Case("nul.csv", csv_file(GOOD_ROW, "INV-2,INV-\x002,2"), enqueue("nul.csv"),
         ("nul.csv", "row 3", "NUL")),
    Case("latin1.csv", "reference,invoice_number,amount\nINV-1,INV-1,1\nÅ,INV-2,2\n"
         .encode("latin-1"), enqueue("latin1.csv"), ("latin1.csv", "UTF-8", "line 3")),
    Case("huge-field.csv", csv_file("INV-1,INV-1," + "9" * 200_000),
         enqueue("huge-field.csv"), ("huge-field.csv", "line 2", "field over")),
    Case("schema.csv", csv_file(GOOD_ROW, "INV-2,INV-2,lots"), enqueue("schema.csv"),
         ("schema.csv", "row 3", "amount")),
    Case("dup-ref.csv", csv_file(GOOD_ROW, "INV-1,INV-9,9"), enqueue("dup-ref.csv"),
         ("dup-ref.csv", "row 3", "already appears in row 2")),
    Case("empty-ref.csv", csv_file(GOOD_ROW, " ,INV-2,2"), enqueue("empty-ref.csv"),
         ("empty-ref.csv", "row 3", "reference")),
    Case("long-ref.csv", csv_file("R" * 300 + ",INV-2,2"), enqueue("long-ref.csv"),
         ("long-ref.csv", "row 2", "limit is 200")),
    Case("inf.csv", csv_file("INV-1,INV-1,1e999"), enqueue("inf.csv"),
         ("inf.csv", "row 2", "'amount'", "not a finite number")),
    Case("long-value.csv", csv_file("INV-1,INV-" + "1" * 100_000 + "x,1"),
         enqueue("long-value.csv"), ("long-value.csv", "row 2", "100,")),
    # -- JSON
    Case("nan.json", text('[{"reference": "A", "invoice_number": "INV-1", "amount": NaN}]'),
         enqueue("nan.json"), ("nan.json", "item 1", "'amount'", "NaN")),
    Case("infinity.json", text('[{"reference": "A", "invoice_number": "INV-1", '
                               '"amount": -Infinity}]'),
         enqueue("infinity.json"), ("infinity.json", "item 1", "Infinity")),
    Case("nul.json", text('[{"reference": "A", "invoice_number": "INV-\\u00001", '
                          '"amount": 1}]'),
         enqueue("nul.json"), ("nul.json", "item 1", "'invoice_number'", "NUL")),
    Case("surrogate.json", text('[{"reference": "A", "invoice_number": "INV-1", "amount": 1, '
                                '"note": "\\ud800"}]'),
         enqueue("surrogate.json"), ("surrogate.json", "item 1", "'note'", "surrogate")),
    Case("dup-key.json", text('[{"reference": "A", "invoice_number": "INV-1", "amount": 1, '
                              '"amount": 2}]'),
         enqueue("dup-key.json"), ("dup-key.json", "item 1", "'amount' twice")),
    Case("deep.json", text("[" * 5000 + "]" * 5000), enqueue("deep.json"),
         ("deep.json", "nested too deeply")),
    Case("deep-payload.json", text('[{"reference": "A", "invoice_number": "INV-1", '
                                   '"amount": 1, "x": ' + "[" * 40 + "]" * 40 + "}]"),
         enqueue("deep-payload.json"), ("deep-payload.json", "item 1", "32 levels")),
    Case("dict-ref.json", text('[{"reference": {"a": 1}, "invoice_number": "INV-1", '
                               '"amount": 1}]'),
         enqueue("dict-ref.json"), ("dict-ref.json", "item 1", "not an object")),
    Case("list-ref.json", text('[{"reference": [1], "invoice_number": "INV-1", "amount": 1}]'),
         enqueue("list-ref.json"), ("list-ref.json", "item 1", "not a list")),
    Case("bool-ref.json", text('[{"reference": true, "invoice_number": "INV-1", "amount": 1}]'),
         enqueue("bool-ref.json"), ("bool-ref.json", "item 1", "true/false")),
    Case("float-ref.json", text('[{"reference": 1.5, "invoice_number": "INV-1", "amount": 1}]'),
         enqueue("float-ref.json"), ("float-ref.json", "item 1", "whole number")),
    Case("big-int.json", text('[{"reference": "A", "invoice_number": "INV-1", "amount": 1, '
                              '"n": 99999999999999999999999}]'),
         enqueue("big-int.json"), ("big-int.json", "item 1", "'n'", "as text")),
    Case("not-array.json", text('{"reference": "A"}'), enqueue("not-array.json"),
         ("not-array.json", "JSON array")),
    Case("not-object.json", text('[{"reference": "A", "invoice_number": "INV-1", '
                                 '"amount": 1}, 7]'),
         enqueue("not-object.json"), ("not-object.json", "item 2", "JSON object")),
    Case("syntax.json", text('[\n{"reference": "A",}\n]'), enqueue("syntax.json"),
         ("syntax.json", "line 2", "not valid JSON")),
    # -- JSON Lines
    Case("nan.jsonl", text('{"reference": "A", "invoice_number": "INV-1", "amount": 1}\n'
                           '{"reference": "B", "invoice_number": "INV-2", "amount": NaN}\n'),
         enqueue("nan.jsonl"), ("nan.jsonl", "line 2", "NaN")),
    Case("dup-key.jsonl", text('{"reference": "A", "reference": "B"}\n'),
         enqueue("dup-key.jsonl"), ("dup-key.jsonl", "line 1", "'reference' twice")),
    Case("syntax.jsonl", text('{"reference": "A", "invoice_number": "INV-1", "amount": 1}\n'
                              '{"reference": \n'),
         enqueue("syntax.jsonl"), ("syntax.jsonl", "line 2", "not valid JSON")),
    Case("deep.jsonl", text("[" * 5000 + "]" * 5000 + "\n"), enqueue("deep.jsonl"),
         ("deep.jsonl", "line 1", "nested too deeply")),
    # -- XLSX
    Case("corrupt.xlsx", b"PK\x03\x04" + bytes(range(256)) * 4, enqueue("corrupt.xlsx"),
         ("corrupt.xlsx", "XLSX")),
    Case("truncated.xlsx", truncated_xlsx, enqueue("truncated.xlsx"),
         ("truncated.xlsx", "XLSX")),
    Case("no-sheet.xlsx", xlsx_missing_sheet, enqueue("no-sheet.xlsx"),
         ("no-sheet.xlsx", "worksheet")),
    Case("not-zip.xlsx", text("reference\nA\n"), enqueue("not-zip.xlsx"),
         ("not-zip.xlsx", "not an XLSX workbook")),
    Case("formula.xlsx", lambda: xlsx([["reference", "invoice_number", "amount"],
                                       ["INV-1", "INV-1", 1], ["INV-2", "INV-2", "=C2*2"]]),
         enqueue("formula.xlsx"), ("formula.xlsx", "row 3", "cell C3", "formula")),
    Case("dup-header.xlsx", lambda: xlsx([["reference", "amount", "amount"],
                                          ["INV-1", 1, 2]]),
         enqueue("dup-header.xlsx"), ("dup-header.xlsx", "'amount' twice", "B1 and C1")),
    Case("error-cell.xlsx", lambda: xlsx([["reference", "invoice_number", "amount"],
                                          ["INV-1", "INV-1", "#DIV/0!"]]),
         enqueue("error-cell.xlsx"), ("error-cell.xlsx", "cell C2", "#DIV/0!")),
    Case("headless.xlsx", lambda: xlsx([["reference", "invoice_number", "amount", None],
                                        ["INV-1", "INV-1", 1, "stray"]]),
         enqueue("headless.xlsx"), ("headless.xlsx", "cell D2", "no header")),
    Case("float-ref.xlsx", lambda: xlsx([["reference", "invoice_number", "amount"],
                                         [12.5, "INV-1", 1]]),
         enqueue("float-ref.xlsx"), ("float-ref.xlsx", "row 2", "whole number")),
    # -- the file itself
    Case("items.txt", text("reference\nA\n"), enqueue("items.txt"),
         ("items.txt", "unknown file type")),
    Case("missing.csv", None, enqueue("missing.csv"), ("missing.csv", "no such file")),
    Case("unknown-process.csv", csv_file(GOOD_ROW),
         ("enqueue", "no-such-process", "--file", "unknown-process.csv"),
         ("no-such-process",)),
    Case("formulas-flag.csv", csv_file(GOOD_ROW),
         ("enqueue", "invoices", "--file", "formulas-flag.csv", "--formulas", "guess"),
         ("--formulas",)),
]

DATA = [
    (("--data", '{"invoice_number": "INV-1", "amount": NaN}', "-r", "A"), ("--data", "NaN")),
    (("--data", '{"amount": 1, "amount": 2}', "-r", "A"), ("--data", "'amount' twice")),
    (("--data", "[1, 2]", "-r", "A"), ("--data", "JSON object")),
    (("--data", '{"invoice_number": "INV-\\u0000", "amount": 1}', "-r", "A"),
     ("'invoice_number'", "NUL")),
    (("--data", '{"invoice_number": "INV-1", "amount": 1}', "-r", "A\tB"),
     ("reference", "control character")),
    (("--data", '{"invoice_number": "INV-1", "amount": 1, "reference": {"x": 1}}'),
     ("reference", "text or a whole number")),
    (("--data", "[" * 3000 + "]" * 3000, "-r", "A"), ("--data", "nested too deeply")),
]

ARGUMENTS = [
    (("items", "show", "123456789012345678901"), ("item_id",)),
    (("items", "show", "0"), ("item_id",)),
    (("items", "retry", "0"), ("ids",)),
    (("items", "abandon", "99999999999999999999999", "--yes"), ("ids",)),
    (("items", "list", "--limit", "-1"), ("--limit",)),
    (("items", "list", "--limit", "0"), ("--limit",)),
    (("items", "list", "--limit", "123456789012345678901"), ("--limit",)),
    (("items", "list", "--since", "yesterday"), ("--since", "2d")),
    (("items", "list", "--until", "2026-02-30"), ("--until", "2026-11-01")),
    (("audit", "list", "--since", "garbage"), ("--since", "90s")),
    (("audit", "list", "--since", "9" * 400 + "w"), ("--since",)),
    (("audit", "list", "--since", "1d", "--until", "2d"), ("--until", "later than --since")),
    (("audit", "list", "--limit", "0"), ("--limit",)),
    (("audit", "list", "--item", "-3"), ("--item",)),
    (("status", "--risk-window", "forever"), ("--risk-window",)),
    (("status", "--risk-window", ".inf"), ("--risk-window",)),
    (("worker", "--grace", "nan", "--until-empty"), ("--grace",)),
    (("report", "hours", "--fte-hours", "inf"), ("--fte-hours",)),
    (("report", "hours", "--period", "2026-13"), ("period",)),
]

PROCESS_FILES = [
    ("lease: 0", "lease"), ("lease: .inf", "lease"), ("lease: .nan", "lease"),
    ("lease: -5s", "lease"), ("sla: 0s", "sla"), ("sla: 400d", "sla"),
]


def counts(db: Db) -> dict[str, object]:
    """What bad input must leave alone: every table it could write, and the definitions."""
    tables = ("work_items", "attempts", "audit_events", "audit_chains", "processes")
    found: dict[str, object] = {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables}
    found["definitions"] = db.scalar("SELECT coalesce(max(updated_at), 0) FROM processes")
    return found


def refused(cli: Cli, db: Db, args: tuple[str, ...], names: tuple[str, ...]) -> str:
    before = counts(db)
    result = cli(*args)
    assert result.code == 2, str(result)
    message = result.err
    assert "Traceback" not in message and "Traceback" not in result.out
    for fragment in names:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert len(message) < 1500, f"the message quotes too much ({len(message)} characters)"
    assert counts(db) == before
    return message


@pytest.fixture
def seeded(ready: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Both processes registered and one good item in, so 'unchanged' means something."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.csv").write_text(f"{HEADER}\nSEED-1,INV-1000,10\n", encoding="utf-8")
    ready.ok("enqueue", "invoices", "--file", "seed.csv")
    return ready


@pytest.mark.parametrize("case", ITEM_FILES, ids=lambda c: c.name)
def test_bad_item_file_is_refused_naming_where_and_writes_nothing(
        seeded: Cli, db: Db, tmp_path: Path, case: Case) -> None:
    case.write(tmp_path)
    refused(seeded, db, case.args, case.names)


@pytest.mark.parametrize(("args", "names"), DATA, ids=lambda v: str(v)[:40])
def test_bad_data_argument_is_refused(seeded: Cli, db: Db, args: tuple[str, ...],
                                      names: tuple[str, ...]) -> None:
    refused(seeded, db, ("enqueue", "invoices", *args), names)


@pytest.mark.parametrize(("args", "names"), ARGUMENTS, ids=lambda v: " ".join(v)[:50])
def test_bad_argument_is_refused(seeded: Cli, db: Db, args: tuple[str, ...],
                                 names: tuple[str, ...]) -> None:
    refused(seeded, db, args, names)


@pytest.mark.parametrize(("line", "key"), PROCESS_FILES)
def test_bad_process_file_changes_no_definition(seeded: Cli, db: Db, tmp_path: Path,
                                                line: str, key: str) -> None:
    old = "lease: 2m" if key == "lease" else "sla: 2d"
    path = tmp_path / "bad.yaml"
    path.write_text(INVOICES_YAML.replace(old, line), encoding="utf-8")
    message = refused(seeded, db, ("process", "register", str(path)), ("bad.yaml", key))
    assert "line " in message


def test_alias_bomb_is_refused_quickly(seeded: Cli, db: Db, tmp_path: Path) -> None:
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    bomb += [f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
             for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    path = tmp_path / "bomb.yaml"
    path.write_text(INVOICES_YAML + "\n".join(bomb) + "\n", encoding="utf-8")
    refused(seeded, db, ("process", "register", str(path)), ("bomb.yaml", "alias"))


# -- what must still be accepted, exactly as a person reads it ---------------------------------
def test_a_bom_is_accepted_in_every_text_format(seeded: Cli, tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    (tmp_path / "b.csv").write_bytes(bom + csv_file("B-CSV,INV-2,2"))
    (tmp_path / "b.json").write_bytes(bom + text(json.dumps(
        [{"reference": "B-JSON", "invoice_number": "INV-3", "amount": 3}])))
    (tmp_path / "b.jsonl").write_bytes(bom + text(json.dumps(
        {"reference": "B-JSONL", "invoice_number": "INV-4", "amount": 4}) + "\n"))
    for name in ("b.csv", "b.json", "b.jsonl"):
        seeded.ok("enqueue", "invoices", "--file", name)
    assert seeded.references("invoices") == ["B-CSV", "B-JSON", "B-JSONL", "SEED-1"]


def test_xlsx_dates_numbers_and_blank_formulas_read_as_a_person_reads_them(
        seeded: Cli, tmp_path: Path) -> None:
    def dated(book: Workbook) -> None:
        sheet = book.active
        assert sheet is not None
        sheet["E2"].number_format = "yyyy-mm-dd hh:mm"

    (tmp_path / "w.xlsx").write_bytes(xlsx(
        [["reference", "invoice_number", "amount", "due", "received", "total"],
         [1001, "INV-1001", 12.5, date(2026, 11, 30), datetime(2026, 12, 1, 14, 30), "=C2*2"]],
        after=dated))
    seeded.ok("enqueue", "invoices", "--file", "w.xlsx", "--formulas", "blank")
    item = next(i for i in seeded.ok("items", "list", "--json").json()
                if i["reference"] == "1001")
    assert item["payload"] == {"invoice_number": "INV-1001", "amount": 12.5,
                               "due": "2026-11-30", "received": "2026-12-01T14:30:00+01:00",
                               "total": ""}


def test_a_crlf_csv_with_quoted_newlines_round_trips(seeded: Cli, tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_bytes(
        b'reference,invoice_number,amount,note\r\nQ-1,INV-5,5,"two\r\nlines, one ""quote"""\r\n')
    seeded.ok("enqueue", "invoices", "--file", "q.csv")
    item = next(i for i in seeded.ok("items", "list", "--json").json()
                if i["reference"] == "Q-1")
    assert item["payload"]["note"] == 'two\r\nlines, one "quote"'


def test_text_that_looks_like_markup_is_shown_as_written(seeded: Cli) -> None:
    """A reference or owner is data, never Rich markup: '[/bold]' once crashed `items list`."""
    seeded.ok("enqueue", "invoices", "--data", '{"invoice_number": "INV-7", "amount": 1}',
              "--reference", "[/bold]R-7[red]")
    listed = seeded.ok("items", "list").out
    assert "[/bold]R-7[red]" in listed.replace("\n", "")
    item = next(i for i in seeded.ok("items", "list", "--json").json()
                if i["reference"] == "[/bold]R-7[red]")
    assert "[/bold]R-7[red]" in seeded.ok("items", "show", str(item["id"])).out
