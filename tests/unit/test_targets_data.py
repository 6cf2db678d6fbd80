"""The demo target portals' pure logic, with no server and no browser: check digits,
the sample data generators and their expected outcomes, the CV PDFs, and how
misbehaviour settings are updated.

Bots are only trustworthy if the systems they are tested against behave like the
real ones; the HTTP-level tests are in tests/integration/test_targets_http.py and the
Chromium-driven ones in tests/integration/test_targets_browser.py.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targets import Misbehaviour
from targets.invoice_portal import data as invoices
from targets.invoice_portal.rules import evaluate
from targets.mod11 import is_valid_org_number
from targets.recruitment_portal import data as applicants
from targets.recruitment_portal.forms import EMAIL_PATTERN
from targets.recruitment_portal.nin import birth_date, is_valid_nin, make_nin, nin_problem
from targets.recruitment_portal.pdf import make_pdf

# --------------------------------------------------------------------------- check digits

def test_org_number_known_answers() -> None:
    """Brønnøysundregistrene's own number is valid; a changed digit is not."""
    assert is_valid_org_number("974760673")
    assert not is_valid_org_number("974760674")
    assert not is_valid_org_number("97476067")


def test_nin_known_answers() -> None:
    """A hand-computed fødselsnummer, its D-number twin rules and typical mistakes."""
    assert is_valid_nin("01019012480")  # K1 = 8, K2 = 0, worked out by hand
    assert birth_date("01019012480") == date(1990, 1, 1)
    assert nin_problem("01019012481") is not None  # wrong K2
    assert nin_problem("0101901248") is not None  # ten digits
    assert nin_problem("31029012480") is not None  # 31 February
    d_number = make_nin(date(1985, 7, 14), random.Random(1), d_number=True)
    assert d_number.startswith("54") and is_valid_nin(d_number)
    assert not is_valid_nin(d_number, allow_d_number=False)


@settings(max_examples=200, deadline=None)
@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2039, 12, 31)),
    seed=st.integers(0, 10_000),
    d_number=st.booleans(),
    position=st.integers(0, 10),
    delta=st.integers(1, 9),
)
def test_nin_any_single_digit_change_fails(
    born: date, seed: int, d_number: bool, position: int, delta: int
) -> None:
    """Generated numbers validate and decode; changing any one digit breaks the checks."""
    nin = make_nin(born, random.Random(seed), d_number=d_number)
    assert is_valid_nin(nin) and birth_date(nin) == born
    altered = nin[:position] + str((int(nin[position]) + delta) % 10) + nin[position + 1 :]
    assert not is_valid_nin(altered)


# --------------------------------------------------------------------------- sample data

def test_invoice_data_matches_the_rules_in_any_order() -> None:
    """Every expected outcome is what the rules say, before and during a shuffled run."""
    data = invoices.generate_invoice_data()
    suppliers = {s.org_number: s for s in data.suppliers}
    pos = {p.po_number: p for p in data.purchase_orders}
    limit = invoices.APPROVAL_LIMITS["approver"]
    outcomes = [inv.expected for inv in data.invoices]
    assert len(outcomes) == 300 and 0.7 <= outcomes.count("approve") / 300 <= 0.8
    assert set(outcomes) == {"approve", *invoices.RULE_CODES}
    remaining = {p.po_number: p.remaining_amount for p in data.purchase_orders}
    for inv in random.Random(5).sample(list(data.invoices), len(data.invoices)):
        assert evaluate(inv, suppliers, pos, limit, remaining) == inv.expected, inv
        if inv.expected == "approve":
            remaining[inv.po_number] -= inv.gross
    for inv in data.invoices:
        assert inv.net == inv.net.quantize(Decimal("0.01")) and inv.gross > 0
    assert all(is_valid_org_number(s.org_number) for s in data.suppliers)
    assert {s.vat_rate for s in data.suppliers} == {Decimal("0.25"), Decimal("0.15"), Decimal(0)}
    assert invoices.generate_invoice_data(7, 50) != invoices.generate_invoice_data(8, 50)


def test_invoice_work_items(tmp_path: Path) -> None:
    """The CSV carries only reference, invoice number and expected outcome."""
    path = invoices.write_work_items(tmp_path / "items.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == ("reference", "invoice_number", "expected")
    assert {r["invoice_number"]: r["expected"] for r in rows} == invoices.expected_outcomes()
    assert len({r["reference"] for r in rows}) == 300


def test_applicant_data_and_work_items(tmp_path: Path) -> None:
    """Outcomes are as labelled, repeats follow their originals, CVs are PDFs."""
    people = applicants.generate_applicants()
    seen: dict[tuple[str, str], str] = {}
    for a in people:
        key = (a.national_id, a.position)
        assert is_valid_nin(a.national_id) == (a.expected != "NIN_INVALID")
        assert bool(EMAIL_PATTERN.match(a.email)) == (a.expected != "EMAIL_INVALID")
        known = a.position in {p.code for p in applicants.POSITIONS}
        assert known == (a.expected != "POSITION_UNKNOWN")
        assert a.consent == (a.expected != "NO_CONSENT")
        if a.expected == "already_registered":
            assert key in seen
        elif a.expected == "register":
            assert key not in seen
            seen[key] = a.reference
    nins = [a.national_id for a in people if a.expected == "register"]
    assert len(nins) > len(set(nins)), "someone should apply for two positions"
    path = applicants.write_work_items(tmp_path / "applicants.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == applicants.WORK_ITEM_COLUMNS and len(rows) == 200
    assert {r["reference"]: r["expected"] for r in rows} == applicants.expected_outcomes()
    assert Path(rows[0]["cv_file"]).read_bytes().startswith(b"%PDF-1.4")


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7])
def test_small_applicant_runs_have_exactly_the_count_asked_for(count: int) -> None:
    """`rpa demo --applicants 3` once crashed: too few registrations to pair."""
    people = applicants.generate_applicants(count=count)
    assert len(people) == count
    assert len({a.reference for a in people}) == count


def test_pdf_cross_reference_points_at_xref() -> None:
    """The generated PDF's ``startxref`` offset is right, so strict readers accept it."""
    pdf = make_pdf("CV (test)", ("line one",))
    offset = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[offset:].startswith(b"xref") and pdf.endswith(b"%%EOF\n")


# --------------------------------------------------------------------------- misbehaviour

def test_misbehaviour_updates_are_validated() -> None:
    """Partial updates keep other fields; wrong names and types are refused."""
    base = Misbehaviour(error_share=0.1, seed=3)
    assert base.updated({"changed_layout": True}) == Misbehaviour(0, 0, 0.1, None, True, 3)
    for bad in ({"nope": 1}, {"error_share": 2}, {"changed_layout": 1}, {"seed": 1.5}):
        with pytest.raises(ValueError):
            base.updated(bad)
    env = {"RPA_TARGETS_MISBEHAVE": '{"session_lifetime": 60}'}
    assert Misbehaviour.from_env(env).session_lifetime == 60
