"""The demo target portals driven by a real headless Chromium.

Bots are only trustworthy if the systems they are tested against behave like the
real ones, so these tests pin down exactly what a bot can rely on: labels,
headings and button names, status codes, expected outcomes and deterministic
failure injection, as a browser sees them.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from targets import Misbehaviour, TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal import data as invoices
from targets.recruitment_portal import data as applicants
from tests.integration import conftest_targets as fixtures
from tests.integration.conftest_targets import (
    csrf_token,
    fill_applicant,
    first_invoice,
    log_in,
    path_of,
    register,
    value_of,
)

# The fixtures live in conftest_targets.py (tests/conftest.py is owned elsewhere);
# binding them here lets pytest find them for this module only.
playwright_driver = fixtures.playwright_driver
browser = fixtures.browser
page = fixtures.page
invoice_portal = fixtures.invoice_portal
recruitment_portal = fixtures.recruitment_portal


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
