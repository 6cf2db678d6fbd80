"""Reading work items from files: CSV, JSON, JSON Lines and XLSX.

Every row is read and checked before anything is written, so a file is
imported whole or not at all; a bad row is reported with its number (the line
a person sees in a spreadsheet: the header is row 1) and what to fix.

Columns `reference`, `priority`, `deadline` and `defer_until` steer the item;
every other column is the payload. Text cells from CSV and XLSX are coerced to
the types the process's JSON Schema asks for (number, integer, boolean), so a
spreadsheet's "12.50" satisfies `"type": "number"`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator.durations import parse_instant
from orchestrator.errors import InputFileError
from queues import NewItem, PayloadInvalid, Priority
from queues.validation import validate_items

CONTROL = ("reference", "priority", "deadline", "defer_until")
FORMATS = (".csv", ".json", ".jsonl", ".ndjson", ".xlsx")


def _coerce(value: Any, kind: Any) -> Any:
    """A cell's text turned into the JSON type the schema expects, where it can be."""
    if not isinstance(value, str) or kind is None:
        return value
    kinds = kind if isinstance(kind, list) else [kind]
    text = value.strip()
    if text == "" and "null" in kinds:
        return None
    for k in kinds:
        try:
            if k == "integer":
                return int(text)
            if k == "number":
                return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            continue
        if k == "boolean" and text.lower() in ("true", "false", "yes", "no", "1", "0"):
            return text.lower() in ("true", "yes", "1")
    return value


def _item(row: dict[str, Any], number: int, schema: dict[str, Any] | None, tz: str,
          coerce: bool) -> NewItem:
    props = (schema or {}).get("properties", {})
    reference = row.get("reference")
    if reference is None or str(reference).strip() == "":
        raise InputFileError(f"row {number}: the 'reference' column is empty or missing "
                             "(every item needs a unique reference)")
    nested = row.get("payload")
    payload_src: dict[str, Any] = nested if isinstance(nested, dict) else {
        k: v for k, v in row.items() if k not in CONTROL and k is not None}
    payload = {k: _coerce(v, props.get(k, {}).get("type")) if coerce else v
               for k, v in payload_src.items()}
    try:
        priority = Priority.parse(row.get("priority")) if row.get("priority") else None
        deadline = parse_instant(str(row["deadline"]), tz) if row.get("deadline") else None
        defer = parse_instant(str(row["defer_until"]), tz) if row.get("defer_until") else None
    except ValueError as err:
        raise InputFileError(f"row {number} (reference {reference!r}): {err}") from None
    return NewItem(reference=str(reference).strip(), payload=payload, priority=priority,
                   deadline=deadline, defer_until=defer)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "reference" not in reader.fieldnames:
            raise InputFileError(f"{path}: the header row must have a 'reference' column "
                                 f"(found: {', '.join(reader.fieldnames or []) or 'nothing'})")
        for row in reader:
            number = reader.line_num
            extra = row.get(None)
            if extra is not None or any(v is None for v in row.values()):
                cells = (len(reader.fieldnames) + len(extra) if extra is not None
                         else sum(v is not None for v in row.values()))
                raise InputFileError(f"{path}: row {number}: has {cells} cells where the "
                                     f"header has {len(reader.fieldnames)}")
            yield number, row


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputFileError(f"{path}: line {err.lineno}: not valid JSON: {err.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InputFileError(f"{path}: expected a JSON array of items (or {{\"items\": [...]}})")
    for index, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise InputFileError(f"{path}: item {index}: expected an object, found "
                                 f"{type(row).__name__}")
        yield index, row


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputFileError(f"{path}: line {number}: not valid JSON: {err.msg}"
                                     ) from None
            if not isinstance(row, dict):
                raise InputFileError(f"{path}: line {number}: expected a JSON object")
            yield number, row


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook
    book = load_workbook(path, read_only=True, data_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    try:
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        if "reference" not in header:
            raise InputFileError(f"{path}: the first row of the first sheet must have a "
                                 "'reference' column")
        for number, values in enumerate(rows, start=2):
            if all(v is None for v in values):
                continue
            row = {h: ("" if v is None else v if not hasattr(v, "isoformat") else v.isoformat())
                   for h, v in zip(header, values, strict=False) if h}
            row = {k: (str(v) if isinstance(v, int | float) and k == "reference" else v)
                   for k, v in row.items()}
            yield number, row
    finally:
        rows.close()  # the row generator holds the file open; book.close() alone does not
        book.close()


def read_items(path: Path, schema: dict[str, Any] | None = None,
               tz: str = "Europe/Oslo", *, check: bool = False) -> list[NewItem]:
    """Every item in the file, or an `InputFileError` naming the first bad row.

    `schema` steers the coercion of text cells; with `check` every payload must
    also satisfy it, and a failure names the file and the spreadsheet row.
    """
    return [item for _, item in read_item_rows(path, schema, tz, check=check)]


def read_item_rows(path: Path, schema: dict[str, Any] | None = None,
                   tz: str = "Europe/Oslo", *, check: bool = False
                   ) -> list[tuple[int, NewItem]]:
    """Every item with its row number (as a spreadsheet counts: the header is row 1)."""
    suffix = path.suffix.lower()
    readers = {".csv": _csv_rows, ".json": _json_rows, ".jsonl": _jsonl_rows,
               ".ndjson": _jsonl_rows, ".xlsx": _xlsx_rows}
    if suffix not in readers:
        raise InputFileError(f"{path}: unknown file type {suffix!r}: use one of "
                             f"{', '.join(FORMATS)}")
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    coerce = suffix in (".csv", ".xlsx")
    items: list[tuple[int, NewItem]] = []
    seen: dict[str, int] = {}
    try:
        for number, row in readers[suffix](path):
            item = _item(row, number, schema, tz, coerce)
            if item.reference in seen:
                raise InputFileError(f"{path}: row {number}: reference {item.reference!r} "
                                     f"already appears in row {seen[item.reference]}")
            seen[item.reference] = number
            items.append((number, item))
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputFileError(f"{path}: cannot be read as {suffix[1:].upper()}: {err}") from None
    if check:
        try:
            validate_items(schema, [item for _, item in items],
                           row_numbers=[number for number, _ in items])
        except PayloadInvalid as err:
            raise InputFileError(f"{path}: {err}") from None
    return items
