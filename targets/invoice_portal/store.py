"""The invoice portal's mutable state: invoice statuses and what is left on each PO.

The generated ``InvoiceData`` stays frozen (it is cached and is the source of the
expected outcomes); everything an approval or rejection changes lives here, behind
one lock, so concurrent bots cannot approve the same invoice twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from targets.invoice_portal.data import Invoice, InvoiceData, PurchaseOrder, Supplier

AWAITING = "awaiting approval"
APPROVED = "approved"
REJECTED = "rejected"


class InvoiceConflict(Exception):
    """The invoice is not awaiting approval any more (answered with HTTP 409)."""


@dataclass
class Decision:
    """Who decided about an invoice, and the rejection comment if any."""

    status: str = AWAITING
    by: str | None = None
    comment: str | None = None


class InvoiceStore:
    """Lookups over the generated data plus the decisions taken since start."""

    def __init__(self, data: InvoiceData) -> None:
        self._lock = threading.Lock()
        self.suppliers: tuple[Supplier, ...] = data.suppliers
        self.invoices: dict[str, Invoice] = {inv.number: inv for inv in data.invoices}
        self.purchase_orders: dict[str, PurchaseOrder] = {
            po.po_number: po for po in data.purchase_orders
        }
        self._decisions: dict[str, Decision] = {n: Decision() for n in self.invoices}
        self._remaining: dict[str, Decimal] = {
            po.po_number: po.remaining_amount for po in data.purchase_orders
        }

    def decision(self, number: str) -> Decision:
        """A copy of the current decision about an invoice."""
        with self._lock:
            found = self._decisions[number]
            return Decision(found.status, found.by, found.comment)

    def remaining(self, po_number: str) -> Decimal:
        """What is left to invoice on a purchase order now."""
        with self._lock:
            return self._remaining[po_number]

    def listed(self, status: str | None) -> list[Invoice]:
        """Invoices in number order, only those with ``status`` when one is given."""
        with self._lock:
            return [
                inv for number, inv in self.invoices.items()
                if status is None or self._decisions[number].status == status
            ]

    def approve(self, number: str, username: str) -> None:
        """Approve and draw the gross amount from the PO (which may go negative).

        The portal deliberately checks no business rule here; only a decision
        already taken stops it.
        """
        with self._lock:
            decision = self._decisions[number]
            self._refuse_if_decided(number, decision)
            decision.status, decision.by = APPROVED, username
            invoice = self.invoices[number]
            if invoice.po_number in self._remaining:
                self._remaining[invoice.po_number] -= invoice.gross

    def reject(self, number: str, username: str, comment: str) -> None:
        """Reject with the approver's comment."""
        with self._lock:
            decision = self._decisions[number]
            self._refuse_if_decided(number, decision)
            decision.status, decision.by, decision.comment = REJECTED, username, comment

    @staticmethod
    def _refuse_if_decided(number: str, decision: Decision) -> None:
        """Raise ``InvoiceConflict`` with the wording a bot can match on."""
        if decision.status == APPROVED:
            raise InvoiceConflict(f"Invoice {number} is already approved.")
        if decision.status == REJECTED:
            raise InvoiceConflict(f"Invoice {number} is already rejected and cannot be changed.")
