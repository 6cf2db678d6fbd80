"""Reading work items from files: CSV, JSON, JSON Lines and XLSX.

Every row is read and checked before anything is written, so a file is
imported whole or not at all; a bad row is reported with the file's name, its
row or line (as a person finds it: the header is row 1) and what to fix. The
formats themselves are read, strictly, in `item_readers`.

Columns `reference`, `priority`, `deadline` and `defer_until` steer the item;
every other column is the payload. Text cells from CSV and XLSX are coerced to
the types the process's JSON Schema asks for (number, integer, boolean), so a
spreadsheet's "12.50" satisfies `"type": "number"`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.durations import parse_instant
from orchestrator.errors import InputFileError
from orchestrator.item_readers import (
    BadFile,
    BadRow,
    Row,
    XlsxOptions,
    csv_rows,
    json_rows,
    jsonl_rows,
    xlsx_rows,
)
from queues import NewItem, PayloadInvalid, Priority
from queues.validation import clip, validate_items

CONTROL = ("reference", "priority", "deadline", "defer_until")
FORMATS = (".csv", ".json", ".jsonl", ".ndjson", ".xlsx")
MAX_FILE_BYTES = 512 * 1024 * 1024  # a bigger file is a mistake, or should be split
MAX_ITEMS = 1_000_000  # per file


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


def _reference(value: Any) -> str:
    """A reference as text: it must be text or a whole number, never a guess at more."""
    if value is None:
        raise BadRow(None, "the 'reference' column is empty or missing (every item needs "
                           "a unique reference)")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = "an object" if isinstance(value, dict) else (
            "a list" if isinstance(value, list) else
            "true/false" if isinstance(value, bool) else type(value).__name__)
        raise BadRow(None, f"the reference must be text or a whole number, not {kind}")
    if isinstance(value, float):
        if not value.is_integer():
            raise BadRow(None, f"the reference {value!r} is not a whole number: write it as "
                               "text if it is one")
        value = int(value)
    text = str(value).strip()
    if not text:
        raise BadRow(None, "the 'reference' column is empty or missing (every item needs "
                           "a unique reference)")
    return text


def _key(row: dict[str, Any], columns: Sequence[str]) -> str:
    """The reference built from named columns (kept in the payload), joined by " / "."""
    parts = []
    for column in columns:
        if column not in row:
            raise BadRow(None, f"has no column {column!r}, which the reference is built from")
        value = row[column]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadRow(None, f"column {column!r} is empty, and the reference is built from "
                               f"{', '.join(columns)}")
        parts.append(_reference(value))
    return " / ".join(parts)


def _item(row: dict[str, Any], schema: dict[str, Any] | None, tz: str,
          coerce: bool, reference_from: Sequence[str] | None = None) -> NewItem:
    props = (schema or {}).get("properties", {})
    if reference_from:
        reference = _key(row, reference_from)
        steering = tuple(c for c in CONTROL if c != "reference")
    else:
        reference = _reference(row.get("reference"))
        steering = CONTROL
    nested = row.get("payload")
    payload_src: dict[str, Any] = nested if isinstance(nested, dict) else {
        k: v for k, v in row.items() if k not in steering}
    payload = {k: _coerce(v, props.get(k, {}).get("type")) if coerce else v
               for k, v in payload_src.items()}
    try:
        priority = Priority.parse(str(row["priority"])) if row.get("priority") else None
        deadline = parse_instant(str(row["deadline"]), tz) if row.get("deadline") else None
        defer = parse_instant(str(row["defer_until"]), tz) if row.get("defer_until") else None
    except ValueError as err:
        raise BadRow(None, f"reference {clip(reference, 60)!r}: {clip(str(err))}") from None
    return NewItem(reference=reference, payload=payload, priority=priority,
                   deadline=deadline, defer_until=defer)


def _readers(tz: str, formulas: str, key_columns: Sequence[str] = ("reference",)
             ) -> dict[str, Callable[[Path], Iterator[Row]]]:
    xlsx = XlsxOptions(formulas=formulas, timezone=tz, key_columns=key_columns)
    return {".csv": lambda path: csv_rows(path, key_columns), ".json": json_rows,
            ".jsonl": jsonl_rows, ".ndjson": jsonl_rows,
            ".xlsx": lambda path: xlsx_rows(path, xlsx)}


def _undecodable_line(path: Path) -> int:
    """The line holding the first byte that is not UTF-8 (the decoder reads ahead of rows)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return raw.count(b"\n", 0, err.start) + 1
    return 1


def read_items(path: Path, schema: dict[str, Any] | None = None,
               tz: str = "Europe/Oslo", *, check: bool = False,
               formulas: str = "refuse",
               reference_from: Sequence[str] | None = None) -> list[NewItem]:
    """Every item in the file, or an `InputFileError` naming the file and the first bad row.

    `schema` steers the coercion of text cells; with `check` every payload must
    also satisfy it and be storable. `formulas` says what an XLSX formula
    without a calculated value becomes: "refuse" (the default) or "blank".
    `reference_from` names the column(s) the queue key is built from (kept in the
    payload, a `reference` column too); by default it is the `reference` column.
    """
    return [item for _, item in read_item_rows(path, schema, tz, check=check,
                                               formulas=formulas,
                                               reference_from=reference_from)]


def read_item_rows(path: Path, schema: dict[str, Any] | None = None,
                   tz: str = "Europe/Oslo", *, check: bool = False,
                   formulas: str = "refuse", reference_from: Sequence[str] | None = None
                   ) -> list[tuple[int, NewItem]]:
    """Every item with its row number (as a spreadsheet counts: the header is row 1)."""
    unit = _unit(path)
    items: list[tuple[int, NewItem]] = []
    seen: dict[str, int] = {}
    for number, item in _item_rows(path, schema, tz, formulas, reference_from):
        _once(path, unit, number, item.reference, seen)
        items.append((number, item))
    if check:
        _check(path, schema, items)
    return items


def item_chunks(path: Path, schema: dict[str, Any] | None = None, tz: str = "Europe/Oslo",
                *, formulas: str = "refuse", reference_from: Sequence[str] | None = None,
                size: int = 1000) -> Iterator[list[tuple[int, NewItem]]]:
    """The file's items in checked chunks of `size`, read as they are needed.

    Memory follows the chunk, not the file: a million-row CSV streams. What a
    chunk cannot see, a reference repeated from an earlier chunk, the store's
    `enqueue_stream` finds (the row it had written in the same transaction).
    Bad rows raise `InputFileError` when their chunk is reached; the caller's
    single transaction then writes nothing.
    """
    chunk: list[tuple[int, NewItem]] = []
    seen: dict[str, int] = {}  # within the chunk: the row a repeat is named against
    unit = _unit(path)
    for number, item in _item_rows(path, schema, tz, formulas, reference_from):
        _once(path, unit, number, item.reference, seen)
        chunk.append((number, item))
        if len(chunk) >= size:
            _check(path, schema, chunk)
            yield chunk
            chunk, seen = [], {}
    if chunk:
        _check(path, schema, chunk)
        yield chunk


def _once(path: Path, unit: str, number: int, reference: str, seen: dict[str, int]) -> None:
    """Note `reference` at row `number`; InputFileError if `seen` has it already."""
    if reference in seen:
        raise InputFileError(f"{path}: {unit} {number}: reference {clip(reference, 60)!r} "
                             f"already appears in {unit} {seen[reference]}")
    seen[reference] = number


def _unit(path: Path) -> str:
    return {".csv": "row", ".xlsx": "row", ".json": "item"}.get(path.suffix.lower(), "line")


def _check(path: Path, schema: dict[str, Any] | None,
           items: Sequence[tuple[int, NewItem]]) -> None:
    try:
        validate_items(schema, [item for _, item in items],
                       row_numbers=[number for number, _ in items])
    except PayloadInvalid as err:
        ref = f" (reference {clip(err.reference, 60)!r})" if err.reference else ""
        raise InputFileError(f"{path}: {_unit(path)} {err.row}{ref}: {err.reason}") from None


def _item_rows(path: Path, schema: dict[str, Any] | None, tz: str, formulas: str,
               reference_from: Sequence[str] | None) -> Iterator[tuple[int, NewItem]]:
    """(row number, item) as the file is read; InputFileError names the first bad row."""
    suffix = path.suffix.lower()
    readers = _readers(tz, formulas, tuple(reference_from or ("reference",)))
    if suffix not in readers:
        raise InputFileError(f"{path}: unknown file type {suffix!r}: use one of "
                             f"{', '.join(FORMATS)}")
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputFileError(f"{path}: is {path.stat().st_size / 2**20:,.0f} MB; files of up "
                             f"to {MAX_FILE_BYTES // 2**20} MB are read: split it")
    coerce = suffix in (".csv", ".xlsx")
    number: int | None = None
    unit = _unit(path)
    count = 0
    try:
        for number, row in readers[suffix](path):
            item = _item(row, schema, tz, coerce, reference_from)
            count += 1
            if count > MAX_ITEMS:
                raise BadFile(f"holds more than {MAX_ITEMS:,} items: split it")
            yield number, item
    except BadRow as bad:
        if bad.number is None and number is not None and not isinstance(bad, BadFile):
            bad = BadRow(number, str(bad), unit=unit)  # a row's content: name the row
        raise InputFileError(f"{path}: {bad.where()}{bad}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: line {_undecodable_line(path)}: is not UTF-8 text: "
                             "save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')"
                             ) from None
    except OSError as err:
        raise InputFileError(f"{path}: cannot be read: {err.strerror or err}") from None
