"""Payload validation: storable JSON first, then the process's JSON Schema.

All payloads of a batch are checked before anything is written, so one bad
row rejects the whole batch with its row number and reason. The storable check
runs in the store itself, so every way in (a file, `--data`, a feeder, the API)
meets the same rule, and SQLite and PostgreSQL see the same data: PostgreSQL
cannot hold a NUL or a lone surrogate, and neither database's JSON can hold NaN
or Infinity, so those are refused here, naming the row and the field, instead of
surfacing as a driver error (or, on SQLite, as rows no reader can show).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from queues.errors import PayloadInvalid
from queues.models import NewItem

MAX_REFERENCE = 200  # characters
MAX_DEPTH = 32  # nested objects and arrays in one payload
MAX_PAYLOAD = 1_000_000  # characters of text, roughly the stored size
MAX_INTEGER = 2**63 - 1  # what every database and most JSON readers keep exactly
QUOTE = 200  # characters of a value an error message quotes at most

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def clip(text: str, limit: int = QUOTE) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def validator_for(schema: dict[str, Any] | None) -> jsonschema.protocols.Validator | None:
    """A compiled validator, or None when the process declares no schema.

    Cached by the schema's canonical text: checking a schema against its
    metaschema cost three quarters of a single-item enqueue.
    """
    if not schema:
        return None
    return _compiled(json.dumps(schema, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> jsonschema.protocols.Validator:
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def describe(error: jsonschema.ValidationError) -> str:
    """A sentence a person can act on: which field, what was wrong, quoting little."""
    where = ".".join(str(p) for p in error.absolute_path)
    message = error.message
    if len(message) > QUOTE + 40:
        shown = repr(error.instance)
        message = (message.replace(shown, clip(shown)) if shown in message
                   else clip(message, QUOTE + 40))
    return f"field {where!r}: {message}" if where else message


def _text_problem(text: str) -> str | None:
    bad = _BAD_TEXT.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "holds a NUL character (\\u0000)"
    return f"holds a lone surrogate (\\u{ord(bad.group()):04x}), which is not text"


class _Walk:
    """One payload checked as storable JSON; `problem` says the first thing wrong."""

    def __init__(self) -> None:
        self.size = 0

    def check(self, value: Any, path: str, depth: int) -> tuple[str, str] | None:
        if depth > MAX_DEPTH:
            return path, f"is nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, str):
            self.size += len(value)
            problem = _text_problem(value)
            return (path, problem) if problem else None
        if value is None or isinstance(value, bool):
            self.size += 4
            return None
        if isinstance(value, int):
            self.size += 8
            if abs(value) > MAX_INTEGER:
                return path, f"is an integer beyond ±{MAX_INTEGER}: store it as text"
            return None
        if isinstance(value, float):
            self.size += 8
            if not math.isfinite(value):
                return path, f"is {value!r}, not a finite number: write a number or null"
            return None
        if isinstance(value, dict):
            return self._object(value, path, depth)
        if isinstance(value, list | tuple):
            for index, element in enumerate(value):
                found = self.check(element, f"{path}[{index}]", depth + 1)
                if found:
                    return found
            return None
        return path, f"is a {type(value).__name__}, which JSON cannot hold"

    def _object(self, value: dict[Any, Any], path: str, depth: int) -> tuple[str, str] | None:
        for key, element in value.items():
            if not isinstance(key, str):
                return path, f"has the key {clip(repr(key))}, which is not text"
            problem = _text_problem(key)
            if problem:
                return path, f"has a key that {problem}"
            self.size += len(key)
            found = self.check(element, f"{path}.{key}" if path else key, depth + 1)
            if found:
                return found
        return None


def check_storable(payload: Any, *, row: int | None = None,
                   reference: str | None = None) -> None:
    """Raise `PayloadInvalid` unless `payload` is a JSON object every database keeps as is."""
    if not isinstance(payload, dict):
        raise PayloadInvalid(f"the payload must be a JSON object, not {type(payload).__name__}",
                             row=row, reference=reference)
    walk = _Walk()
    found = walk.check(payload, "", 0)
    if found:
        path, problem = found
        subject = f"field {clip(path)!r}" if path else "the payload"
        raise PayloadInvalid(f"{subject} {problem}", row=row, reference=reference)
    if walk.size > MAX_PAYLOAD:
        raise PayloadInvalid(f"the payload holds about {walk.size:,} characters; the limit is "
                             f"{MAX_PAYLOAD:,} (keep documents outside the queue and pass "
                             "their address)", row=row, reference=reference)


def check_reference(reference: Any, *, row: int | None = None) -> None:
    """Raise `PayloadInvalid` unless `reference` is usable text of at most 200 characters."""
    if not isinstance(reference, str) or not reference.strip():
        raise PayloadInvalid("the reference is empty", row=row)
    if len(reference) > MAX_REFERENCE:
        raise PayloadInvalid(f"the reference is {len(reference):,} characters long; the "
                             f"limit is {MAX_REFERENCE}", row=row)
    problem = _text_problem(reference)
    if problem is None and _CONTROL.search(reference):
        problem = "holds a control character (a tab, line break or similar)"
    if problem:
        raise PayloadInvalid(f"the reference {problem}", row=row)


def validate_items(schema: dict[str, Any] | None, items: Sequence[NewItem],
                   row_numbers: Sequence[int] | None = None) -> None:
    """Raise `PayloadInvalid` for the first item that cannot be stored or breaks the schema.

    Rows are counted from 1, or taken from `row_numbers` (a file's own numbering).
    """
    validator = validator_for(schema)
    for index, item in enumerate(items):
        row = row_numbers[index] if row_numbers is not None else index + 1
        check_reference(item.reference, row=row)
        check_storable(item.payload, row=row, reference=item.reference)
        if validator is not None and not validator.is_valid(item.payload):
            error = best_match(validator.iter_errors(item.payload))
            if error is not None:
                raise PayloadInvalid(describe(error), row=row, reference=item.reference)
