"""Approve supplier invoices that pass the finance rules; stop the others for a person.

The portal trusts its approver completely: it approves whatever is clicked. So
the bot reads the invoice as an approver would, checks it against the supplier
register and the purchase order, and clicks Approve only when every rule holds.
A broken rule is a `BusinessRuleError` with a stable code, and the invoice is
left awaiting approval: rejecting it is a person's decision, not a robot's.

The bot is idempotent: an invoice found already approved (by an earlier attempt
whose confirmation was lost, by another worker, by a person) is reported done
with status `already_approved`, and the portal's "already approved" conflict is
read the same way. Money is `Decimal` throughout; VAT is rounded half up to øre,
as the Norwegian rules (and the portal's reference rules) do.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from urllib.parse import quote

from playwright.async_api import Page
from pydantic import BaseModel, ConfigDict, Field

from bots import Bot, BotContext, BusinessRuleError
from bots.builtin import _portal as portal

CENT = Decimal("0.01")
DEFAULT_APPROVAL_LIMIT = "100000.00"
DEFAULT_CREDENTIAL = "invoice-portal"
REGISTER_MAX_AGE = 600.0
"""Seconds the supplier register is trusted before it is read again."""
REGISTER_RECHECK_AFTER = 60.0
"""An org. number missing from a register older than this makes the bot read it again."""
LABELS = ("Invoice number", "Supplier", "Supplier org. number", "PO number", "Net amount",
          "VAT", "Gross amount", "Status")

# The codes of the rules, in the order they are checked.
SUPPLIER_UNKNOWN = "SUPPLIER_UNKNOWN"
PO_NOT_FOUND = "PO_NOT_FOUND"
PO_CLOSED = "PO_CLOSED"
PO_INSUFFICIENT = "PO_INSUFFICIENT"
VAT_MISMATCH = "VAT_MISMATCH"
GROSS_MISMATCH = "GROSS_MISMATCH"
OVER_APPROVAL_LIMIT = "OVER_APPROVAL_LIMIT"
# Not rules about the amounts, but still for a person to look at.
INVOICE_NOT_FOUND = "INVOICE_NOT_FOUND"
ALREADY_REJECTED = "ALREADY_REJECTED"


class InvoiceInput(BaseModel):
    """A work item: only the invoice number; everything else is read from the portal."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    invoice_number: str = Field(pattern=r"^INV-[0-9]{4}-[0-9]{4,}$",
                                description="e.g. INV-2026-10001")


class InvoiceOutput(BaseModel):
    """What the bot did: `status` is `approved` (by this attempt) or `already_approved`."""

    invoice_number: str
    supplier_org_number: str
    po_number: str
    gross: Decimal
    decision: Literal["approved"] = "approved"
    status: Literal["approved", "already_approved"]


@dataclass(frozen=True)
class Invoice:
    """The values the invoice page shows, parsed."""

    number: str
    supplier: str
    supplier_org_number: str
    po_number: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    status: str  # lower-case, as shown: "awaiting approval", "approved", "rejected"


@dataclass(frozen=True)
class _Register:
    """The supplier register (org. number -> VAT rate) and when it was read."""

    read_at: float
    rates: dict[str, Decimal]


def vat_for(net: Decimal, rate: Decimal) -> Decimal:
    """VAT on `net` at `rate`, rounded half up to whole øre."""
    return (net * rate).quantize(CENT, rounding=ROUND_HALF_UP)


class InvoiceApprovalBot(Bot):
    """Checks each invoice against the supplier register and its PO, then approves it.

    One instance serves every slot of a worker, so it holds nothing about an
    item, only the supplier register it caches (per portal address).
    """

    name = "invoice-approval"
    description = ("Approves supplier invoices in the invoice portal when supplier, purchase "
                   "order, VAT, gross and approval limit all check out; otherwise stops the "
                   "invoice with the rule it breaks for a person to decide.")
    Input = InvoiceInput
    Output = InvoiceOutput
    reuse_context = True
    item_timeout = 30.0

    def __init__(self) -> None:
        self._registers: dict[str, _Register] = {}
        self._register_lock = asyncio.Lock()

    async def login(self, page: Page, ctx: BotContext) -> None:
        """Log in as the approver whose limit the rules assume."""
        await portal.log_in(page, ctx, default_credential=DEFAULT_CREDENTIAL)

    async def handle(self, item: InvoiceInput, page: Page, ctx: BotContext) -> InvoiceOutput:
        """Read, check, approve and confirm one invoice."""
        base = portal.base_url(ctx)
        invoice = await self._read_invoice(page, ctx, base, item.invoice_number)
        if invoice.status == "approved":
            ctx.log.info("invoice.already_approved", invoice=invoice.number)
            return self._output(invoice, "already_approved")
        if invoice.status == "rejected":
            raise BusinessRuleError(f"invoice {invoice.number} was already rejected by a "
                                    "person; it cannot be approved", ALREADY_REJECTED)
        if invoice.status != "awaiting approval":
            raise portal.UnexpectedPage(f"invoice {invoice.number} has status "
                                        f"{invoice.status!r}, which the bot does not know")
        try:
            await self._check_rules(invoice, page, ctx, base)
        except BusinessRuleError as err:
            # Approving an invoice draws its gross from the PO. If another item (or a
            # person) approved this very invoice after we read it, the PO now looks short
            # because of that approval: the honest answer is "already approved".
            if err.code == PO_INSUFFICIENT:
                now = await self._read_invoice(page, ctx, base, invoice.number)
                if now.status == "approved":
                    ctx.log.info("invoice.already_approved", invoice=invoice.number)
                    return self._output(now, "already_approved")
            raise
        return await self._approve(invoice, page)

    # -- reading ---------------------------------------------------------------------
    async def _read_invoice(self, page: Page, ctx: BotContext, base: str,
                            number: str) -> Invoice:
        """Open the invoice page (retried on gateway errors) and read its values by label."""
        url = f"{base}/invoices/{quote(number, safe='')}"
        status = await portal.retrying(
            ctx, lambda: portal.open_page(page, url, f"opening invoice {number}"))
        if status == 404:
            raise BusinessRuleError(f"invoice {number} does not exist in the portal",
                                    INVOICE_NOT_FOUND)
        if status != 200:
            problem = await portal.alert_text(page)
            raise portal.UnexpectedPage(f"invoice {number}: the portal answered HTTP {status}"
                                        f"{': ' + problem if problem else ''}")
        values = dict(zip(LABELS, await asyncio.gather(
            *(portal.value_of(page, label) for label in LABELS)), strict=True))
        if values["Invoice number"] != number:
            raise portal.UnexpectedPage(f"asked for invoice {number}, the portal showed "
                                        f"{values['Invoice number']!r}")
        return Invoice(
            number=number,
            supplier=values["Supplier"],
            supplier_org_number=values["Supplier org. number"].replace(" ", ""),
            po_number=values["PO number"],
            net=portal.parse_amount(values["Net amount"], "net amount"),
            vat=portal.parse_amount(values["VAT"], "VAT"),
            gross=portal.parse_amount(values["Gross amount"], "gross amount"),
            status=values["Status"].strip().lower(),
        )

    async def _fetch_register(self, page: Page, base: str) -> _Register:
        status, body = await portal.api_get(page, f"{base}/api/suppliers",
                                            "reading the supplier register")
        if status != 200 or not isinstance(body, dict):
            raise portal.UnexpectedPage(f"the supplier register answered HTTP {status}")
        rates = {str(s["org_number"]).replace(" ", ""): Decimal(str(s["vat_rate"]))
                 for s in body.get("suppliers", [])}
        return _Register(read_at=time.monotonic(), rates=rates)

    async def _supplier_rate(self, page: Page, ctx: BotContext, base: str,
                             org_number: str) -> Decimal | None:
        """The supplier's VAT rate from the cached register, or None if not registered.

        The register is read once per instance and portal and reused across
        items and slots; it is read again when it is old, or when an org. number
        is missing from a copy that is no longer fresh (a supplier added today).
        """
        async with self._register_lock:
            register = self._registers.get(base)
            if register is None or self._stale(register, org_number):
                register = await portal.retrying(ctx, lambda: self._fetch_register(page, base))
                self._registers[base] = register
                ctx.log.info("invoice.supplier_register_read", suppliers=len(register.rates))
        return register.rates.get(org_number)

    @staticmethod
    def _stale(register: _Register, org_number: str) -> bool:
        age = time.monotonic() - register.read_at
        return age > REGISTER_MAX_AGE or (org_number not in register.rates
                                          and age > REGISTER_RECHECK_AFTER)

    async def _purchase_order(self, page: Page, base: str,
                              po_number: str) -> dict[str, str] | None:
        status, body = await portal.api_get(
            page, f"{base}/api/purchase-orders/{quote(po_number, safe='')}",
            f"reading purchase order {po_number}")
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise portal.UnexpectedPage(f"purchase order {po_number}: HTTP {status}")
        return {k: str(v) for k, v in body.items()}

    # -- the rules -------------------------------------------------------------------
    async def _check_rules(self, inv: Invoice, page: Page, ctx: BotContext, base: str) -> None:
        """Raise `BusinessRuleError` for the first rule the invoice breaks, in a fixed order."""
        rate = await self._supplier_rate(page, ctx, base, inv.supplier_org_number)
        if rate is None:
            raise BusinessRuleError(
                f"supplier {inv.supplier} (org. number {inv.supplier_org_number}) is not in "
                "the supplier register", SUPPLIER_UNKNOWN)
        po = await portal.retrying(ctx, lambda: self._purchase_order(page, base, inv.po_number))
        if po is None:
            raise BusinessRuleError(f"purchase order {inv.po_number} does not exist",
                                    PO_NOT_FOUND)
        if po.get("status", "").lower() != "open":
            raise BusinessRuleError(f"purchase order {inv.po_number} is {po.get('status')}, "
                                    "not open", PO_CLOSED)
        remaining = portal.parse_amount(po.get("remaining_amount", ""), "remaining amount")
        if remaining < inv.gross:
            raise BusinessRuleError(
                f"purchase order {inv.po_number} has {remaining} left, the invoice's gross "
                f"amount is {inv.gross}", PO_INSUFFICIENT)
        expected_vat = vat_for(inv.net, rate)
        if inv.vat != expected_vat:
            raise BusinessRuleError(
                f"VAT is {inv.vat}; {rate:%} of the net amount {inv.net} is {expected_vat}",
                VAT_MISMATCH)
        if inv.gross != inv.net + inv.vat:
            raise BusinessRuleError(
                f"gross amount {inv.gross} is not net {inv.net} plus VAT {inv.vat} "
                f"(= {inv.net + inv.vat})", GROSS_MISMATCH)
        limit = Decimal(str(ctx.config.get("approval_limit", DEFAULT_APPROVAL_LIMIT)))
        if inv.gross > limit:
            raise BusinessRuleError(
                f"gross amount {inv.gross} is over the approval limit {limit}",
                OVER_APPROVAL_LIMIT)

    # -- deciding --------------------------------------------------------------------
    async def _approve(self, inv: Invoice, page: Page) -> InvoiceOutput:
        """Click Approve once and confirm it; never retried in place.

        After a gateway error nobody knows whether the approval went through, so
        the error goes to the queue, and the next attempt reads the invoice first
        and finds it approved or still awaiting.
        """
        status = await portal.submit(page, page.get_by_role("button", name="Approve",
                                                            exact=True),
                                     f"approving invoice {inv.number}")
        if status == 409:
            problem = await portal.alert_text(page)
            if "already approved" in problem:
                return self._output(inv, "already_approved")
            if "rejected" in problem:
                raise BusinessRuleError(f"invoice {inv.number} was rejected by a person "
                                        "while the bot checked it", ALREADY_REJECTED)
            raise portal.UnexpectedPage(f"approving {inv.number}: conflict: {problem}")
        if status != 200:
            problem = await portal.alert_text(page)
            raise portal.UnexpectedPage(f"approving {inv.number}: the portal answered HTTP "
                                        f"{status}{': ' + problem if problem else ''}")
        confirmation = page.get_by_role("status").filter(has_text=f"Invoice {inv.number} "
                                                                  "approved")
        await confirmation.wait_for(state="visible")
        shown = (await portal.value_of(page, "Status")).lower()
        if shown != "approved":
            raise portal.UnexpectedPage(f"after approving, invoice {inv.number} shows "
                                        f"status {shown!r}")
        return self._output(inv, "approved")

    @staticmethod
    def _output(inv: Invoice, status: Literal["approved", "already_approved"]
                ) -> InvoiceOutput:
        return InvoiceOutput(invoice_number=inv.number,
                             supplier_org_number=inv.supplier_org_number,
                             po_number=inv.po_number, gross=inv.gross, status=status)
