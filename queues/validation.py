"""Payload validation against a process's JSON Schema.

All payloads of a batch are checked before anything is written, so one bad
row rejects the whole batch with its row number and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from queues.errors import PayloadInvalid
from queues.models import NewItem


def validator_for(schema: dict[str, Any] | None) -> jsonschema.protocols.Validator | None:
    """A compiled validator, or None when the process declares no schema."""
    if not schema:
        return None
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def describe(error: jsonschema.ValidationError) -> str:
    """A sentence a person can act on: which field, what was wrong."""
    where = ".".join(str(p) for p in error.absolute_path)
    return f"field {where!r}: {error.message}" if where else error.message


def validate_items(schema: dict[str, Any] | None, items: Sequence[NewItem],
                   row_numbers: Sequence[int] | None = None) -> None:
    """Raise `PayloadInvalid` for the first item whose payload breaks the schema.

    Rows are counted from 1, or taken from `row_numbers` (a file's own numbering).
    """
    validator = validator_for(schema)
    for index, item in enumerate(items):
        row = row_numbers[index] if row_numbers is not None else index + 1
        if not item.reference or not str(item.reference).strip():
            raise PayloadInvalid("the reference is empty", row=row)
        if len(item.reference) > 200:
            raise PayloadInvalid("the reference is longer than 200 characters", row=row)
        if validator is not None:
            error = best_match(validator.iter_errors(item.payload))
            if error is not None:
                raise PayloadInvalid(describe(error), row=row, reference=item.reference)
