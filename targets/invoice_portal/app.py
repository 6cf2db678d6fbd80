"""The invoice approval portal: invoice list and pages, approve/reject, reference data.

It behaves like the supplier-invoice module of an ERP: an approver opens an
invoice, compares it with the supplier register and the purchase order, then
approves or rejects it. Like many real systems it trusts the approver completely:
it enforces only login, CSRF and "decide once"; the business rules are the bot's.
"""

from __future__ import annotations

import math
from decimal import Decimal

from flask import Flask, abort, current_app, jsonify, redirect, render_template, request
from werkzeug.wrappers.response import Response

from targets.control import counters
from targets.invoice_portal.data import (
    APPROVAL_LIMITS,
    CURRENCY,
    DEFAULT_COUNT,
    DEFAULT_SEED,
    Invoice,
    InvoiceData,
    generate_invoice_data,
)
from targets.invoice_portal.store import (
    APPROVED,
    AWAITING,
    REJECTED,
    InvoiceConflict,
    InvoiceStore,
)
from targets.misbehave import Misbehaviour
from targets.views import Cell, arrange, details, element_id
from targets.web import PortalUser, create_portal_app, current_user, flash, layout_changed

PAGE_SIZE = 20
_STORE_KEY = "targets.invoice_store"
_STATUS_FILTERS: dict[str, tuple[str | None, str]] = {
    "awaiting": (AWAITING, "Invoices awaiting approval"),
    "approved": (APPROVED, "Approved invoices"),
    "rejected": (REJECTED, "Rejected invoices"),
    "all": (None, "All invoices"),
}
_LIST_COLUMNS = (
    ("number", "Invoice number"),
    ("supplier", "Supplier"),
    ("gross", "Gross amount"),
    ("due", "Due date"),
    ("status", "Status"),
)
_SUPPLIER_COLUMNS = (("name", "Name"), ("org", "Org. number"), ("rate", "VAT rate"))
COMMENT_FIELD = "comment"
USERS: dict[str, PortalUser] = {
    "approver": PortalUser(
        "approver", "approver-pass", "Anne Approver", APPROVAL_LIMITS["approver"]
    ),
    "junior": PortalUser("junior", "junior-pass", "Jonas Junior", APPROVAL_LIMITS["junior"]),
}


def _store() -> InvoiceStore:
    """The state of the app handling the current request."""
    store: InvoiceStore = current_app.extensions[_STORE_KEY]
    return store


def _invoice_or_404(number: str) -> Invoice:
    """Look an invoice up by number, answering 404 for an unknown one."""
    invoice = _store().invoices.get(number)
    if invoice is None:
        abort(404, description=f"Invoice {number} was not found.")
    return invoice


def _rate_text(rate: Decimal) -> str:
    """A VAT rate as people write it: ``Decimal('0.25')`` → ``"25 %"``."""
    return f"{int(rate * 100)} %"


def invoice_list() -> str:
    """Paginated invoices, by default those awaiting approval."""
    status_key = request.args.get("status", "awaiting")
    if status_key not in _STATUS_FILTERS:
        abort(400, description=f"Unknown status filter {status_key!r}.")
    status, heading = _STATUS_FILTERS[status_key]
    page = request.args.get("page", 1, type=int) or 1
    invoices = _store().listed(status)
    pages = max(1, math.ceil(len(invoices) / PAGE_SIZE))
    if not 1 <= page <= pages:
        abort(404, description=f"There is no page {page}; the last page is {pages}.")
    shown = invoices[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    rows = [
        {
            "number": Cell(inv.number, href=f"/invoices/{inv.number}"),
            "supplier": Cell(inv.supplier_name),
            "gross": Cell(str(inv.gross), numeric=True),
            "due": Cell(inv.due_date.isoformat()),
            "status": Cell(_store().decision(inv.number).status.capitalize()),
        }
        for inv in shown
    ]
    return render_template(
        "invoices.html", heading=heading, rows=rows, page=page, pages=pages,
        columns=arrange(_LIST_COLUMNS, layout_changed()), status_key=status_key,
        filters=_STATUS_FILTERS, total=len(invoices),
    )


def find_invoice() -> Response:
    """Jump from the search box to an invoice page."""
    number = request.args.get("number", "").strip().upper()
    _invoice_or_404(number)
    return redirect(f"/invoices/{number}", code=303)


def _invoice_page(invoice: Invoice, error: str | None = None, status: int = 200
                  ) -> tuple[str, int]:
    """Render one invoice with its labelled values and, if undecided, the decision forms."""
    changed = layout_changed()
    decision = _store().decision(invoice.number)
    rows: list[tuple[str, str, str] | tuple[str, str, str, str | None]] = [
        ("invoice-number", "Invoice number", invoice.number),
        ("supplier-name", "Supplier", invoice.supplier_name),
        ("supplier-org-number", "Supplier org. number", invoice.supplier_org_number),
        ("po-number", "PO number", invoice.po_number, f"/purchase-orders/{invoice.po_number}"),
        ("net-amount", "Net amount", str(invoice.net)),
        ("vat-amount", "VAT", str(invoice.vat)),
        ("gross-amount", "Gross amount", str(invoice.gross)),
        ("currency", "Currency", invoice.currency),
        ("due-date", "Due date", invoice.due_date.isoformat()),
        ("status", "Status", decision.status.capitalize()),
    ]
    if decision.by:
        rows.append(("decided-by", "Decided by", decision.by))
    if decision.comment:
        rows.append(("rejection-comment", "Rejection comment", decision.comment))
    page = render_template(
        "invoice.html", invoice=invoice, items=details(rows, changed),
        undecided=decision.status == AWAITING, error=error,
        comment_id=element_id(COMMENT_FIELD, changed),
    )
    return page, status


def invoice_page(number: str) -> tuple[str, int]:
    """One invoice."""
    return _invoice_page(_invoice_or_404(number))


def approve(number: str) -> Response:
    """Approve, whatever the rules say; 409 if the invoice was already decided."""
    invoice = _invoice_or_404(number)
    try:
        _store().approve(invoice.number, current_user().username)
    except InvoiceConflict as exc:
        abort(409, description=str(exc))
    counters().bump("approvals")
    flash(f"Invoice {invoice.number} approved.")
    return redirect(f"/invoices/{invoice.number}", code=303)


def reject(number: str) -> Response | tuple[str, int]:
    """Reject with a required comment; 409 if the invoice was already decided."""
    invoice = _invoice_or_404(number)
    comment = (request.form.get(COMMENT_FIELD) or request.form.get(
        element_id(COMMENT_FIELD, changed=True)) or "").strip()
    if not comment:
        return _invoice_page(invoice, error="Enter a comment to reject the invoice.", status=400)
    try:
        _store().reject(invoice.number, current_user().username, comment)
    except InvoiceConflict as exc:
        abort(409, description=str(exc))
    counters().bump("rejections")
    flash(f"Invoice {invoice.number} rejected.")
    return redirect(f"/invoices/{invoice.number}", code=303)


def supplier_register() -> str:
    """The supplier register: name, organisation number and VAT rate of each supplier."""
    rows = [
        {"name": Cell(s.name), "org": Cell(s.org_number), "rate": Cell(_rate_text(s.vat_rate))}
        for s in _store().suppliers
    ]
    return render_template("suppliers.html", rows=rows,
                           columns=arrange(_SUPPLIER_COLUMNS, layout_changed()))


def _po_facts(po_number: str) -> dict[str, str]:
    """A purchase order's current facts, as strings, or 404."""
    po = _store().purchase_orders.get(po_number)
    if po is None:
        abort(404, description=f"Purchase order {po_number} was not found.")
    return {
        "po_number": po.po_number,
        "supplier_org_number": po.supplier_org_number,
        "status": po.status,
        "ordered_amount": str(po.ordered_amount),
        "remaining_amount": str(_store().remaining(po.po_number)),
        "currency": CURRENCY,
    }


def purchase_order_lookup() -> Response | str:
    """A search box for purchase orders; redirects to the PO page when a number is given."""
    number = request.args.get("po", "").strip().upper()
    if number:
        return redirect(f"/purchase-orders/{number}", code=303)
    return render_template("purchase_order_lookup.html")


def purchase_order_page(po_number: str) -> str:
    """One purchase order with its status and remaining amount."""
    facts = _po_facts(po_number)
    rows: list[tuple[str, str, str] | tuple[str, str, str, str | None]] = [
        ("po-number", "PO number", facts["po_number"]),
        ("supplier-org-number", "Supplier org. number", facts["supplier_org_number"]),
        ("po-status", "Status", facts["status"].capitalize()),
        ("ordered-amount", "Ordered amount", facts["ordered_amount"]),
        ("remaining-amount", "Remaining amount", facts["remaining_amount"]),
        ("currency", "Currency", facts["currency"]),
    ]
    return render_template("purchase_order.html", po_number=po_number,
                           items=details(rows, layout_changed()))


def api_suppliers() -> Response:
    """The supplier register as JSON, VAT rates as decimal strings (``"0.25"``)."""
    return jsonify({"suppliers": [
        {"name": s.name, "org_number": s.org_number, "vat_rate": str(s.vat_rate)}
        for s in _store().suppliers
    ]})


def api_purchase_order(po_number: str) -> Response:
    """One purchase order as JSON, amounts as decimal strings."""
    return jsonify(_po_facts(po_number))


def create_app(data: InvoiceData | None = None, misbehaviour: Misbehaviour | None = None,
               *, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> Flask:
    """Build the portal over ``data`` (generated from ``seed``/``count`` if not given)."""
    app = create_portal_app(
        __name__,
        title="Invoice Approval Portal",
        users=USERS,
        cookie_name="invoice_portal_session",
        home="/invoices",
        nav=(("Invoices", "/invoices"), ("Suppliers", "/suppliers"),
             ("Purchase orders", "/purchase-orders")),
        misbehaviour=misbehaviour,
    )
    app.extensions[_STORE_KEY] = InvoiceStore(data or generate_invoice_data(seed, count))
    app.add_url_rule("/invoices", view_func=invoice_list)
    app.add_url_rule("/invoices/find", view_func=find_invoice)
    app.add_url_rule("/invoices/<number>", view_func=invoice_page)
    app.add_url_rule("/invoices/<number>/approve", view_func=approve, methods=["POST"])
    app.add_url_rule("/invoices/<number>/reject", view_func=reject, methods=["POST"])
    app.add_url_rule("/suppliers", view_func=supplier_register)
    app.add_url_rule("/purchase-orders", view_func=purchase_order_lookup)
    app.add_url_rule("/purchase-orders/<po_number>", view_func=purchase_order_page)
    app.add_url_rule("/api/suppliers", view_func=api_suppliers)
    app.add_url_rule("/api/purchase-orders/<po_number>", view_func=api_purchase_order)
    return app
