"""The recruitment portal target: a Flask app, sample applicants and the NIN validator."""

from __future__ import annotations

from targets.recruitment_portal.app import USERS, create_app
from targets.recruitment_portal.data import (
    ALREADY_REGISTERED,
    POSITIONS,
    REGISTER,
    RULE_CODES,
    WORK_ITEM_COLUMNS,
    cv_for,
    expected_outcomes,
    generate_applicants,
    write_work_items,
)
from targets.recruitment_portal.nin import is_valid_nin, make_nin, nin_problem
from targets.recruitment_portal.pdf import make_pdf

__all__ = [
    "ALREADY_REGISTERED",
    "POSITIONS",
    "REGISTER",
    "RULE_CODES",
    "USERS",
    "WORK_ITEM_COLUMNS",
    "create_app",
    "cv_for",
    "expected_outcomes",
    "generate_applicants",
    "is_valid_nin",
    "make_nin",
    "make_pdf",
    "nin_problem",
    "write_work_items",
]
