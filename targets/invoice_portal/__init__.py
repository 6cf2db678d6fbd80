"""The invoice approval portal target: a Flask app plus its deterministic sample data."""

from __future__ import annotations

from targets.invoice_portal.app import USERS, create_app
from targets.invoice_portal.data import (
    APPROVE,
    RULE_CODES,
    WORK_ITEM_COLUMNS,
    expected_outcomes,
    generate_invoice_data,
    write_work_items,
)

__all__ = [
    "APPROVE",
    "RULE_CODES",
    "USERS",
    "WORK_ITEM_COLUMNS",
    "create_app",
    "expected_outcomes",
    "generate_invoice_data",
    "write_work_items",
]
