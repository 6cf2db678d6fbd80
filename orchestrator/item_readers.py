"""The four work-item file formats, read strictly into numbered rows of plain values.

Each reader yields `(row number, {column: value})`, numbering rows as a person
finds them: the spreadsheet row for CSV and XLSX (the header is row 1), the line
for JSON Lines, the item's place in the array for JSON. A reader raises
`BadRow(number, message)` for what it cannot read; `item_files` adds the file's
name, so every message says where. Nothing here knows about processes or stores.

Strict means: a CSV quote that is never closed, a ragged row, a duplicate or
blank header, a JSON duplicate key, NaN or Infinity, and an XLSX formula that
was never calculated are all refused, never guessed at.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

Row = tuple[int, dict[str, Any]]


class BadRow(Exception):
    """A row (or the file, when `number` is None) that cannot be read."""

    def __init__(self, number: int | None, message: str, *, unit: str = "row"):
        self.number = number
        self.unit = unit
        super().__init__(message)

    def where(self) -> str:
        return f"{self.unit} {self.number}: " if self.number is not None else ""


class BadFile(BadRow):
    """The file as a whole cannot be read: not a workbook, not an array, empty."""

    def __init__(self, message: str):
        super().__init__(None, message)


class DuplicateKeys(dict[str, Any]):
    """A JSON object that named a key twice: refused with its row, once the row is known."""

    duplicate: str = ""


class NotANumber:
    """What JSON's NaN, Infinity and -Infinity parse to: refused with their row and key."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            marked = DuplicateKeys(pairs)
            marked.duplicate = key
            return marked
        out[key] = value
    return out


def _parse_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_pairs, parse_constant=NotANumber)


def _header(names: list[str], unit: str, cell: Any,
            key_columns: Sequence[str] = ("reference",)) -> list[str]:
    """Header names stripped of spaces; a blank or repeated one is refused, naming it, and
    so is a header without the column(s) the queue key comes from."""
    header = [name.strip() for name in names]
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in seen:
            raise BadRow(1, f"the header names {name!r} twice ({cell(seen[name])} and "
                            f"{cell(index)}): every column needs a name of its own",
                         unit=unit)
        if name:
            seen[name] = index
    missing = [c for c in key_columns if c not in seen]
    if missing:
        named = ", ".join(repr(c) for c in missing)
        raise BadRow(1, f"the header must have a {named} column (found: "
                        f"{', '.join(h for h in header if h) or 'nothing'})", unit=unit)
    return header


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter
    return str(get_column_letter(index + 1))


def csv_rows(path: Path, key_columns: Sequence[str] = ("reference",)) -> Iterator[Row]:
    """Rows of a UTF-8 CSV file (a BOM is allowed), quoting as RFC 4180 says, strictly."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        start = 1
        try:
            first = next(reader, None)
            if first is None:
                raise BadFile("is empty: the first line must be a header with a "
                                   "'reference' column")
            header = _header(first, "line", lambda i: f"column {i + 1}", key_columns)
            for index, name in enumerate(header):
                if not name:
                    raise BadRow(1, f"column {index + 1} of the header has no name",
                                 unit="line")
            start = reader.line_num + 1
            for cells in reader:
                number = start
                start = reader.line_num + 1
                if not cells:
                    continue  # a blank line
                if len(cells) != len(header):
                    raise BadRow(number, f"has {len(cells)} cells where the header has "
                                         f"{len(header)}")
                yield number, dict(zip(header, cells, strict=True))
        except csv.Error as err:
            message = str(err)
            if "unexpected end of data" in message:
                message = ("a quoted field opened here is never closed (a \" is missing), "
                           "so the rest of the file would be read into it")
            elif "expected after" in message:
                message = ("a quoted field is followed by more text before the next comma: "
                           "write a quote inside a quoted field as \"\"")
            elif "NUL" in message:
                message = "holds a NUL character"
            elif "field larger" in message:
                message = f"holds a field over {csv.field_size_limit():,} characters"
            raise BadRow(start, message, unit="line") from None


def _json_row(row: Any, number: int, unit: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise BadRow(number, f"expected a JSON object, found {_json_type(row)}", unit=unit)
    _refuse_markers(row, number, unit, "")
    return row


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _refuse_markers(value: Any, number: int, unit: str, path: str) -> None:
    """Find a duplicate key or a NaN the parser marked, and refuse it with its row."""
    if isinstance(value, DuplicateKeys):
        where = f" in {path!r}" if path else ""
        raise BadRow(number, f"names the key {value.duplicate!r} twice{where}: a key may "
                             "appear once", unit=unit)
    if isinstance(value, NotANumber):
        raise BadRow(number, f"field {path!r} is {value.text}, which is not a number: write "
                             "a number or null", unit=unit)
    if isinstance(value, dict):
        for key, element in value.items():
            _refuse_markers(element, number, unit, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, element in enumerate(value):
            _refuse_markers(element, number, unit, f"{path}[{index}]")


def parse_json_object(text: str) -> dict[str, Any]:
    """One JSON object given on a command line, read as strictly as a file's rows."""
    try:
        value = _parse_json(text)
    except json.JSONDecodeError as err:
        raise BadFile(_json_error(err)) from None
    except RecursionError:
        raise BadFile("is nested too deeply to read") from None
    if not isinstance(value, dict):
        raise BadFile(f"must be a JSON object, e.g. '{{\"invoice\": \"F-1001\"}}', not "
                      f"{_json_type(value)}")
    try:
        _refuse_markers(value, 0, "", "")
    except BadRow as bad:
        raise BadFile(str(bad)) from None
    return value


def _json_error(err: json.JSONDecodeError) -> str:
    return f"not valid JSON: {err.msg} (column {err.colno})"


def _too_deep_line(text: str, limit: int = 500) -> int:
    """The line where `text` first nests deeper than `limit` (strings skipped)."""
    depth, line, in_string, escaped = 0, 1, False, False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth -= 1
    return line


def json_rows(path: Path) -> Iterator[Row]:
    """Items of a JSON array, or of `{"items": [...]}`; a BOM is allowed."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = _parse_json(text)
    except json.JSONDecodeError as err:
        raise BadRow(err.lineno, _json_error(err), unit="line") from None
    except RecursionError:
        raise BadRow(_too_deep_line(text), "is nested too deeply to read (more than a few "
                     "hundred levels)", unit="line") from None
    if isinstance(data, DuplicateKeys) and data.duplicate == "items":
        raise BadFile("names the key 'items' twice")
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise BadFile("expected a JSON array of items (or {\"items\": [...]}), found "
                           f"{_json_type(data)}")
    for index, row in enumerate(data, start=1):
        yield index, _json_row(row, index, "item")


def jsonl_rows(path: Path) -> Iterator[Row]:
    """One JSON object per line; blank lines are skipped; a BOM is allowed."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = _parse_json(line)
            except json.JSONDecodeError as err:
                raise BadRow(number, _json_error(err), unit="line") from None
            except RecursionError:
                raise BadRow(number, "is nested too deeply to read", unit="line") from None
            yield number, _json_row(row, number, "line")


class XlsxOptions:
    """How a workbook's cells become values.

    `formulas`: "refuse" a formula the workbook holds no calculated value for
    (Excel saves one; files written by scripts often do not), or "blank" it.
    `timezone`: the zone the workbook's dates and times are in: XLSX stores
    wall-clock times with no zone, so they are read as this one's.
    """

    def __init__(self, formulas: str = "refuse", timezone: str = "Europe/Oslo",
                 key_columns: Sequence[str] = ("reference",)):
        if formulas not in ("refuse", "blank"):
            raise ValueError(f"formulas must be 'refuse' or 'blank', not {formulas!r}")
        self.formulas = formulas
        self.timezone = timezone
        self.key_columns = tuple(key_columns)  # the header must have these


def _cell_value(value: Any, number_format: str | None, tz: str) -> Any:
    """A cell as a person reads it: dates as ISO dates, date-times with their zone."""
    if isinstance(value, datetime):
        fmt = (number_format or "").lower()
        if value.time() == time(0) and not any(c in fmt for c in "hs"):
            return value.date().isoformat()
        return value.replace(tzinfo=ZoneInfo(tz)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _open_workbook(path: Path, data_only: bool) -> Any:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, InvalidFileException) as err:
        raise BadFile(f"is not an XLSX workbook ({err})") from None
    except Exception as err:  # openpyxl reports a damaged part with whatever broke
        raise BadFile("is a damaged XLSX workbook: open and save it again in a "
                           f"spreadsheet ({type(err).__name__})") from None


def xlsx_rows(path: Path, options: XlsxOptions | None = None) -> Iterator[Row]:
    """Rows of the workbook's first sheet; row 1 is the header."""
    options = options or XlsxOptions()
    values_book = _open_workbook(path, data_only=True)
    formula_book = _open_workbook(path, data_only=False)
    try:
        yield from _sheet_rows(values_book, formula_book, options)
    except BadRow:
        raise
    except Exception as err:  # a part that opened but cannot be read to the end
        raise BadFile("is a damaged XLSX workbook: open and save it again in a "
                           f"spreadsheet ({type(err).__name__})") from None
    finally:
        values_book.close()
        formula_book.close()


def _sheet_rows(values_book: Any, formula_book: Any, options: XlsxOptions) -> Iterator[Row]:
    sheets = values_book.worksheets
    if not sheets or not hasattr(sheets[0], "iter_rows"):
        raise BadFile("has no worksheet to read items from")
    values = sheets[0].iter_rows()
    formulas = formula_book.worksheets[0].iter_rows()
    try:
        first = next(values, ())
        next(formulas, ())
        names = ["" if c.value is None else str(c.value) for c in first]
        header = _header(names, "row", lambda i: f"{_column_letter(i)}1",
                         options.key_columns)
        for number, (cells, formula_cells) in enumerate(zip(values, formulas, strict=False),
                                                        start=2):
            row = _xlsx_row(number, header, cells, formula_cells, options)
            if row is not None:
                yield number, row
    finally:
        values.close()  # the row generators hold the file open; closing the book does not
        formulas.close()


def _xlsx_row(number: int, header: list[str], cells: Any, formula_cells: Any,
              options: XlsxOptions) -> dict[str, Any] | None:
    row: dict[str, Any] = {}
    empty = True
    for index, (cell, formula_cell) in enumerate(zip(cells, formula_cells, strict=False)):
        value = cell.value
        where = f"cell {_column_letter(index)}{number}"
        uncomputed = value is None and getattr(formula_cell, "data_type", None) == "f"
        if uncomputed and options.formulas == "refuse":
            raise BadRow(number, f"{where} holds a formula the workbook has no "
                                     "calculated value for: open and save it in a "
                                     "spreadsheet, or pass --formulas blank")
        if getattr(cell, "data_type", None) == "e":
            raise BadRow(number, f"{where} holds the spreadsheet error {value}")
        if value is None:
            continue
        empty = False
        name = header[index] if index < len(header) else ""
        if not name:
            raise BadRow(number, f"{where} has a value but its column has no header")
        row[name] = _cell_value(value, getattr(cell, "number_format", None), options.timezone)
    if empty:
        return None
    return {name: row.get(name, "") for name in header if name}
