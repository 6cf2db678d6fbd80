"""The approval rules the invoice portal does NOT enforce, written once as a reference.

The portal accepts any approval; checking the rules is the bot's job. This module
is the oracle the tests (and the data generator's self-check) compare against, so
the expected outcome of every generated invoice is provably what the rules say.
Rules are checked in the order of ``RULE_CODES``; the generated data breaks at most
one rule per invoice, so the order never changes an expected outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from targets.invoice_portal.data import APPROVE, Invoice, PurchaseOrder, Supplier, vat_for


def evaluate(
    invoice: Invoice,
    suppliers: Mapping[str, Supplier],
    purchase_orders: Mapping[str, PurchaseOrder],
    approval_limit: Decimal,
    remaining: Mapping[str, Decimal] | None = None,
) -> str:
    """Return ``"approve"`` or the code of the first rule ``invoice`` breaks.

    Args:
        suppliers: the supplier register keyed by organisation number.
        purchase_orders: purchase orders keyed by PO number.
        approval_limit: the logged-in approver's limit (gross, NOK).
        remaining: current remaining amounts by PO number, when some were used up.
    """
    supplier = suppliers.get(invoice.supplier_org_number)
    if supplier is None:
        return "SUPPLIER_UNKNOWN"
    po = purchase_orders.get(invoice.po_number)
    if po is None:
        return "PO_NOT_FOUND"
    if po.status != "open":
        return "PO_CLOSED"
    left = (remaining or {}).get(po.po_number, po.remaining_amount)
    if left < invoice.gross:
        return "PO_INSUFFICIENT"
    if invoice.vat != vat_for(invoice.net, supplier.vat_rate):
        return "VAT_MISMATCH"
    if invoice.gross != invoice.net + invoice.vat:
        return "GROSS_MISMATCH"
    if invoice.gross > approval_limit:
        return "OVER_APPROVAL_LIMIT"
    return APPROVE
