"""Fuzzing the work-item readers: a clean refusal or an exact round trip, never an exception.

For every format: arbitrary bytes and text either read or raise `InputFileError`
naming the file; rows written by the format's own writer read back exactly;
and JSON's hostile values (NaN, Infinity, NUL, lone surrogates, duplicate keys,
deep nesting) are refused naming the item or line.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from orchestrator.errors import InputFileError
from orchestrator.item_files import CONTROL, read_items

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = (".csv", ".json", ".jsonl", ".xlsx")
SCHEMA = {"type": "object", "properties": {"amount": {"type": "number"}}}


@contextmanager
def file_with(suffix: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"items{suffix}"
        path.write_bytes(data)
        yield path


def read_or_refuse(path: Path, check: bool) -> list[Any] | None:
    """The items, or None after a refusal that names the file; anything else fails."""
    try:
        return read_items(path, SCHEMA, check=check)
    except InputFileError as err:
        assert str(err).startswith(str(path)), str(err)
        return None


@pytest.mark.parametrize("suffix", SUFFIXES)
@FAST
@given(data=st.binary(max_size=400), check=st.booleans())
def test_arbitrary_bytes_are_read_or_refused(suffix: str, data: bytes, check: bool) -> None:
    with file_with(suffix, data) as path:
        read_or_refuse(path, check)


@pytest.mark.parametrize("suffix", (".csv", ".json", ".jsonl"))
@FAST
@given(text=st.text(max_size=300), check=st.booleans())
def test_arbitrary_text_is_read_or_refused(suffix: str, text: str, check: bool) -> None:
    with file_with(suffix, text.encode("utf-8", "surrogatepass")) as path:
        read_or_refuse(path, check)


def workbook_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_WORKBOOK = workbook_bytes([["reference", "amount"], ["A", 1.5], ["B", 2]])


@FAST
@given(cuts=st.lists(st.tuples(st.integers(0, len(GOOD_WORKBOOK) - 1), st.integers(0, 255)),
                     min_size=1, max_size=8),
       truncate=st.integers(0, len(GOOD_WORKBOOK)))
def test_a_damaged_workbook_is_read_or_refused(cuts: list[tuple[int, int]],
                                               truncate: int) -> None:
    data = bytearray(GOOD_WORKBOOK)
    for at, value in cuts:
        data[at] = value
    with file_with(".xlsx", bytes(data[:max(truncate, 1)])) as path:
        read_or_refuse(path, check=True)


# -- round trips ----------------------------------------------------------------------------
NAMES = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8) \
    .filter(lambda n: n not in CONTROL and n != "payload")
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
REFERENCE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                    min_size=1, max_size=20)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63) + 1, 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(NAMES, inner, max_size=3), max_leaves=8)


def rows_of(values: Any) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.tuples(REFERENCE, st.dictionaries(NAMES, values, max_size=4))
    return st.lists(row, min_size=1, max_size=5, unique_by=lambda r: r[0].strip()).map(
        lambda rows: [{"reference": ref, **payload} for ref, payload in rows])


def no_schema(path: Path) -> list[Any]:
    return read_items(path)


@FAST
@given(rows=rows_of(JSON_VALUES))
def test_json_and_jsonl_round_trip(rows: list[dict[str, Any]]) -> None:
    for suffix, data in ((".json", json.dumps(rows)),
                         (".jsonl", "\n".join(json.dumps(r) for r in rows))):
        with file_with(suffix, data.encode()) as path:
            back = no_schema(path)
        assert [(i.reference, i.payload) for i in back] == [
            (r["reference"].strip(), {k: v for k, v in r.items() if k != "reference"})
            for r in rows]


@FAST
@given(rows=rows_of(TEXT.filter(lambda t: "\r" not in t)))
def test_csv_round_trips(rows: list[dict[str, Any]]) -> None:
    columns = ["reference", *sorted({k for r in rows for k in r if k != "reference"})]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    with file_with(".csv", out.getvalue().encode()) as path:
        back = no_schema(path)
    assert [(i.reference, i.payload) for i in back] == [
        (r["reference"].strip(), {c: r.get(c, "") for c in columns[1:]}) for r in rows]


def excel_text(text: str) -> bool:
    return not ILLEGAL_CHARACTERS_RE.search(text) and not text.startswith("=") and \
        text.strip() == text and text != ""


@FAST
@given(rows=rows_of(TEXT.filter(excel_text) | st.integers(-(2**40), 2**40)))
def test_xlsx_round_trips(rows: list[dict[str, Any]]) -> None:
    rows = [r for r in rows if excel_text(r["reference"])]
    columns = ["reference", *sorted({k for r in rows for k in r if k != "reference"})]
    data = workbook_bytes([columns, *([r.get(c) for c in columns] for r in rows)])
    with file_with(".xlsx", data) as path:
        back = no_schema(path) if rows else []
    assert [(i.reference, i.payload) for i in back] == [
        (r["reference"], {c: r.get(c, "") for c in columns[1:]}) for r in rows]


# -- hostile JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "needle"), [
    ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "Infinity"),
    ('"a\\u0000b"', "NUL"), ('"\\ud800"', "surrogate"), ("[" * 2000 + "]" * 2000, "nested"),
])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_hostile_json_values_are_refused_naming_the_row(value: str, needle: str,
                                                        suffix: str) -> None:
    row = '{"reference": "B", "amount": 1, "x": ' + value + "}"
    good = '{"reference": "A", "amount": 1}'
    text = f"[{good}, {row}]" if suffix == ".json" else f"{good}\n{row}\n"
    with file_with(suffix, text.encode()) as path, pytest.raises(InputFileError) as err:
        read_items(path, SCHEMA, check=True)
    message = str(err.value)
    # a JSON document too deep to parse is named by its line: one line here
    where = "line 1" if needle == "nested" and suffix == ".json" else None
    assert needle in message and (where or "item 2" in message or "line 2" in message) \
        and (where is None or where in message), message


def test_a_duplicate_key_is_refused_naming_the_item() -> None:
    with file_with(".json", b'[{"reference": "A"}, {"reference": "B", "a": 1, "a": 2}]') \
            as path, pytest.raises(InputFileError) as err:
        read_items(path)
    assert "item 2" in str(err.value) and "'a' twice" in str(err.value)
