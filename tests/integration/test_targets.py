"""The demo target portals: their data, their rules, their misbehaviour, driven by Chromium.

Bots are only trustworthy if the systems they are tested against behave like the
real ones, so these tests pin down exactly what a bot can rely on: labels,
headings and button names, status codes, expected outcomes and deterministic
failure injection.
"""

from __future__ import annotations

import csv
import random
import re
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, expect

from targets import Misbehaviour, TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal import data as invoices
from targets.invoice_portal.app import create_app as create_invoice_app
from targets.invoice_portal.rules import evaluate
from targets.mod11 import is_valid_org_number
from targets.recruitment_portal import data as applicants
from targets.recruitment_portal.forms import EMAIL_PATTERN
from targets.recruitment_portal.nin import birth_date, is_valid_nin, make_nin, nin_problem
from targets.recruitment_portal.pdf import make_pdf
from tests.integration import conftest_targets as fixtures
from tests.integration.conftest_targets import (
    csrf_token,
    fill_applicant,
    first_invoice,
    log_in,
    path_of,
    register,
    statuses,
    value_of,
)

# The fixtures live in conftest_targets.py (tests/conftest.py is owned elsewhere);
# binding them here lets pytest find them for this module only.
playwright_driver = fixtures.playwright_driver
browser = fixtures.browser
page = fixtures.page
invoice_portal = fixtures.invoice_portal
recruitment_portal = fixtures.recruitment_portal

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


def test_control_endpoints(invoice_portal: TargetServer) -> None:
    """State has every counter; misbehave changes only the given fields; bad bodies are 400."""
    state = invoice_portal.state()
    for key in ("approvals", "rejections", "registrations", "injected_errors"):
        assert state[key] == 0
    assert invoice_portal.misbehave(slow_share=0.5)["slow_share"] == 0.5
    assert invoice_portal.state()["misbehaviour"]["slow_share"] == 0.5
    bad = httpx.post(f"{invoice_portal.url}/__control/misbehave", json={"error_share": "x"})
    assert bad.status_code == 400
    remote = create_invoice_app(count=5).test_client()
    response = remote.get("/__control/state", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert response.status_code == 403


def test_injected_errors_follow_the_share_and_the_seed() -> None:
    """About 25 % of answers are 502/503, the same ones for the same seed; hooks never fail."""
    chaos = Misbehaviour(error_share=0.25, seed=42)
    with start_invoice_portal(count=5, misbehaviour=chaos) as one:
        first = statuses(one, "/login", 200)
        assert one.state()["injected_errors"] == sum(s in (502, 503) for s in first)
        one.misbehave(error_share=1.0)
        assert set(statuses(one, "/static/style.css", 5)) == {200}
        assert set(statuses(one, "/__control/state", 5)) == {200}
        assert set(statuses(one, "/login", 5)) <= {502, 503}
    with start_recruitment_portal(misbehaviour=chaos) as two:
        assert statuses(two, "/login", 200) == first
    failed = sum(s in (502, 503) for s in first)
    assert 30 <= failed <= 70 and {502, 503} <= set(first)


def test_slow_responses_are_delayed() -> None:
    """A slow share of 1 delays every page but never the static assets."""
    with start_invoice_portal(count=5, misbehaviour=Misbehaviour(1.0, 0.3)) as server:
        started = time.monotonic()
        statuses(server, "/static/style.css", 2)
        assert time.monotonic() - started < 0.3
        statuses(server, "/login", 1)
        assert time.monotonic() - started >= 0.3
        assert server.state()["slow_responses"] == 1


# --------------------------------------------------------------------------- invoice portal


@pytest.mark.browser
def test_login_and_wrong_password(page: Page, invoice_portal: TargetServer) -> None:
    """Wrong credentials show an alert; right ones land on the invoice list."""
    page.goto(invoice_portal.url + "/invoices")
    page.get_by_label("Username").fill("approver")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    page.get_by_label("Username").fill("approver")
    page.get_by_label("Password").fill("approver-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Invoices awaiting approval")).to_be_visible()


@pytest.mark.browser
def test_csrf_token_is_required(page: Page, invoice_portal: TargetServer) -> None:
    """A tampered token and a missing token both get a 400 page that says why."""
    page.goto(invoice_portal.url + "/login")
    page.locator("input[name=csrf_token]").evaluate("el => el.value = 'forged'")
    page.get_by_label("Username").fill("approver")
    page.get_by_label("Password").fill("approver-pass")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Log in").click()
    assert posted.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text("CSRF token is missing or invalid")
    log_in(page, invoice_portal.url, "approver", "approver-pass")
    bare = page.request.post(invoice_portal.url + "/invoices/INV-2026-10001/approve", form={})
    assert bare.status == 400 and "CSRF" in bare.text()
    assert invoice_portal.state()["approvals"] == 0


@pytest.mark.browser
def test_session_expiry_redirects_and_returns(page: Page, invoice_portal: TargetServer) -> None:
    """After the lifetime, pages send the bot to log in again, then back where it was."""
    log_in(page, invoice_portal.url, "approver", "approver-pass")
    invoice_portal.misbehave(session_lifetime=0.3)
    time.sleep(0.5)
    page.goto(invoice_portal.url + "/invoices/INV-2026-10005")
    assert path_of(page.url).startswith("/login?next=%2Finvoices%2FINV-2026-10005")
    expect(page.get_by_text("Your session has expired")).to_be_visible()
    api = page.request.get(invoice_portal.url + "/api/suppliers")
    assert api.status == 401
    invoice_portal.misbehave(session_lifetime=None)
    page.get_by_label("Username").fill("approver")
    page.get_by_label("Password").fill("approver-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Invoice INV-2026-10005")).to_be_visible()


@pytest.mark.browser
def test_approve_reads_values_and_refuses_a_second_time(
    page: Page, invoice_portal: TargetServer
) -> None:
    """Values are readable by label; approving draws on the PO; a stale second approve is 409."""
    invoice = first_invoice("approve")
    url = f"{invoice_portal.url}/invoices/{invoice.number}"
    log_in(page, invoice_portal.url, "approver", "approver-pass", f"/invoices/{invoice.number}")
    assert value_of(page, "Gross amount") == str(invoice.gross)
    assert value_of(page, "Supplier org. number") == invoice.supplier_org_number
    assert value_of(page, "Status") == "Awaiting approval"
    po_api = f"{invoice_portal.url}/api/purchase-orders/{invoice.po_number}"
    before = Decimal(page.request.get(po_api).json()["remaining_amount"])
    stale = page.context.new_page()
    stale.goto(url)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text(f"Invoice {invoice.number} approved.")
    assert value_of(page, "Status") == "Approved"
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert Decimal(page.request.get(po_api).json()["remaining_amount"]) == before - invoice.gross
    with stale.expect_response(lambda r: r.request.method == "POST") as posted:
        stale.get_by_role("button", name="Approve").click()
    assert posted.value.status == 409
    expect(stale.get_by_role("alert")).to_contain_text("already approved")
    assert invoice_portal.state()["approvals"] == 1
    page.goto(invoice_portal.url + "/invoices")
    expect(page.get_by_role("link", name=invoice.number, exact=True)).to_have_count(0)
    page.get_by_role("link", name="Approved invoices").click()
    expect(page.get_by_role("link", name=invoice.number, exact=True)).to_be_visible()


@pytest.mark.browser
def test_reject_needs_a_comment(page: Page, invoice_portal: TargetServer) -> None:
    """Reject requires a comment; a rejected invoice cannot be approved."""
    invoice = first_invoice("VAT_MISMATCH")
    log_in(page, invoice_portal.url, "approver", "approver-pass", f"/invoices/{invoice.number}")
    stale = page.context.new_page()
    stale.goto(f"{invoice_portal.url}/invoices/{invoice.number}")
    token = csrf_token(page)
    empty = page.request.post(
        f"{invoice_portal.url}/invoices/{invoice.number}/reject",
        form={"csrf_token": token, "comment": "  "},
    )
    assert empty.status == 400 and "Enter a comment" in empty.text()
    page.get_by_label("Comment").fill("VAT is not 25 % of net")
    page.get_by_role("button", name="Reject").click()
    assert value_of(page, "Status") == "Rejected"
    assert value_of(page, "Rejection comment") == "VAT is not 25 % of net"
    with stale.expect_response(lambda r: r.request.method == "POST") as posted:
        stale.get_by_role("button", name="Approve").click()
    assert posted.value.status == 409
    assert invoice_portal.state()["rejections"] == 1


@pytest.mark.browser
def test_pagination(page: Page) -> None:
    """20 rows a page, Next/Previous links only where there is a page to go to."""
    with start_invoice_portal(count=45) as server:
        log_in(page, server.url, "approver", "approver-pass")
        rows = page.get_by_role("table").locator("tbody tr")
        expect(rows).to_have_count(20)
        expect(page.get_by_role("link", name="Previous")).to_have_count(0)
        page.get_by_role("link", name="Next").click()
        expect(page.get_by_text("Page 2 of 3")).to_be_visible()
        page.get_by_role("link", name="Next").click()
        expect(rows).to_have_count(5)
        expect(page.get_by_role("link", name="Next")).to_have_count(0)
        page.get_by_role("link", name="Previous").click()
        assert "page=2" in page.url
        assert page.request.get(server.url + "/invoices?page=4").status == 404


@pytest.mark.browser
def test_reference_data_pages_and_api(page: Page, invoice_portal: TargetServer) -> None:
    """The supplier register, a PO page and their JSON twins agree."""
    data = invoices.generate_invoice_data()
    log_in(page, invoice_portal.url, "approver", "approver-pass", "/suppliers")
    table = page.get_by_role("table", name="Registered suppliers")
    expect(table.get_by_role("columnheader")).to_have_text(["Name", "Org. number", "VAT rate"])
    expect(table.locator("tbody tr")).to_have_count(len(data.suppliers))
    food = next(s for s in data.suppliers if s.vat_rate == Decimal("0.15"))
    expect(table.get_by_role("row", name=food.name)).to_contain_text("15 %")
    api = page.request.get(invoice_portal.url + "/api/suppliers").json()["suppliers"]
    assert {s["org_number"] for s in api} == {s.org_number for s in data.suppliers}
    po = next(p for p in data.purchase_orders if p.status == "closed")
    page.get_by_role("link", name="Purchase orders").click()
    page.get_by_label("PO number").fill(po.po_number)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"Purchase order {po.po_number}")).to_be_visible()
    assert value_of(page, "Status") == "Closed"
    assert value_of(page, "Remaining amount") == str(po.remaining_amount)
    missing = page.request.get(invoice_portal.url + "/api/purchase-orders/PO-000000")
    assert missing.status == 404


@pytest.mark.browser
def test_changed_layout_is_still_reachable_by_label(page: Page) -> None:
    """Other ids, names and order; the same labels, headings and buttons still work."""
    with start_invoice_portal(misbehaviour=Misbehaviour(changed_layout=True)) as server:
        invoice = first_invoice("GROSS_MISMATCH")
        log_in(page, server.url, "junior", "junior-pass", f"/invoices/{invoice.number}")
        expect(page.locator("#comment, #gross-amount")).to_have_count(0)
        assert page.locator("dt").first.inner_text() == "Status"
        assert value_of(page, "Net amount") == str(invoice.net)
        page.get_by_label("Comment").fill("gross is not net plus VAT")
        page.get_by_role("button", name="Reject").click()
        assert value_of(page, "Status") == "Rejected"
        server.misbehave(changed_layout=False)
        page.reload()
        assert page.locator("dt").first.inner_text() == "Invoice number"


@pytest.mark.browser
def test_injected_error_reaches_the_browser(page: Page, invoice_portal: TargetServer) -> None:
    """A bot sees a real 502/503 page; the stylesheet is never affected."""
    invoice_portal.misbehave(error_share=1.0)
    response = page.goto(invoice_portal.url + "/login")
    assert response is not None and response.status in (502, 503)
    expect(page.get_by_role("heading")).to_contain_text(str(response.status))
    invoice_portal.misbehave(error_share=0.0)
    assert page.request.get(invoice_portal.url + "/static/style.css").ok


# --------------------------------------------------------------------------- recruitment


@pytest.mark.browser
def test_register_search_and_duplicate(page: Page, recruitment_portal: TargetServer) -> None:
    """Register, find by NIN, refuse the same person for the same position (409)."""
    people = applicants.generate_applicants()
    first = next(a for a in people if a.expected == "register")
    url = recruitment_portal.url
    log_in(page, url, "hr", "hr-pass")
    expect(page.get_by_role("heading", name="Open positions")).to_be_visible()
    assert register(page, url, first) == 303
    expect(page.get_by_role("status")).to_contain_text("Applicant registered")
    number = value_of(page, "Registration number")
    assert number == "REG-2026-000001"
    page.get_by_role("link", name="Find applicants").click()
    page.get_by_label("National identity number").fill(first.national_id)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=number)).to_be_visible()
    assert register(page, url, first) == 409
    expect(page.get_by_role("alert")).to_contain_text(
        f"already registered for this position (registration number {number})"
    )
    expect(page.get_by_label("Full name")).to_have_value(first.full_name)
    other = next(p.code for p in applicants.POSITIONS if p.code != first.position)
    assert register(page, url, replace(first, position=other)) == 303
    state = recruitment_portal.state()
    assert (state["registrations"], state["duplicate_attempts"]) == (2, 1)


@pytest.mark.browser
def test_validation_errors_sit_next_to_fields(
    page: Page, recruitment_portal: TargetServer
) -> None:
    """Errors are described on their fields, values are kept, nothing is registered."""
    person = next(a for a in applicants.generate_applicants() if a.expected == "register")
    bad_nin = person.national_id[:-1] + str((int(person.national_id[-1]) + 1) % 10)
    log_in(page, recruitment_portal.url, "hr", "hr-pass", "/applicants/new")
    fill_applicant(page, person, consent=False)
    page.get_by_label("National identity number").fill(bad_nin)
    page.get_by_label("Email").fill("someone@example")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Register applicant").click()
    assert posted.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    nin_field = page.get_by_label("National identity number")
    expect(nin_field).to_have_value(bad_nin)
    expect(nin_field).to_have_accessible_description(re.compile("check digits do not match"))
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("I consent to the processing")).to_have_accessible_description(
        "The applicant must consent before they can be registered."
    )
    expect(page.get_by_label("Position")).to_have_value(person.position)
    assert recruitment_portal.state()["registrations"] == 0


@pytest.mark.browser
def test_recruitment_changed_layout(page: Page) -> None:
    """Reordered, renamed fields are still filled by label, and the form still works."""
    with start_recruitment_portal(misbehaviour=Misbehaviour(changed_layout=True)) as server:
        person = next(a for a in applicants.generate_applicants() if a.expected == "register")
        log_in(page, server.url, "hr", "hr-pass", "/applicants/new")
        expect(page.locator("#national_id, [name=email]")).to_have_count(0)
        first_label = page.locator("form.stacked label").first.inner_text()
        assert first_label == "Position"
        fill_applicant(page, person)
        page.get_by_role("button", name="Register applicant").click()
        expect(page.get_by_role("status")).to_contain_text("Applicant registered")
        assert server.state()["registrations"] == 1
