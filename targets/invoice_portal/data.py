"""Deterministic sample data for the invoice portal, each invoice with its expected outcome.

A bot is judged by whether it approves exactly the invoices that pass every rule
and stops the others with the right reason. So the generator plans the outcome
first (about 75 % ``approve``, the rest spread over the rule codes) and then builds
an invoice that breaks exactly that one rule and no other. Each invoice that may be
approved gets a purchase order of its own (or shares one that covers both), so the
expected outcomes hold whatever order a bot works in.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from targets.mod11 import complete_org_number

DEFAULT_SEED = 2026
DEFAULT_COUNT = 300
CURRENCY = "NOK"
APPROVE = "approve"
RULE_CODES: tuple[str, ...] = (
    "SUPPLIER_UNKNOWN",
    "PO_NOT_FOUND",
    "PO_CLOSED",
    "PO_INSUFFICIENT",
    "VAT_MISMATCH",
    "GROSS_MISMATCH",
    "OVER_APPROVAL_LIMIT",
)
APPROVE_SHARE = 0.75
APPROVAL_LIMITS: dict[str, Decimal] = {
    "approver": Decimal("100000.00"),
    "junior": Decimal("10000.00"),
}
EXPECTED_FOR_USER = "approver"
"""Expected outcomes assume the bot logs in as this user (limit 100,000.00)."""
WORK_ITEM_COLUMNS: tuple[str, ...] = ("reference", "invoice_number", "expected")
CENT = Decimal("0.01")

_REGULAR = (
    "Bjørke Sikkerhet AS", "Elvedal Maskin AS", "Fjordkraft Kontorservice AS",
    "Granitt Elektro AS", "Hardanger Grafisk AS", "Havbris Transport AS",
    "Kystlinje Telecom AS", "Lofoten Data AS", "Midnattsol Trykkeri AS",
    "Nidaros Vaktmester AS", "Nordlys IT-drift AS", "Polar Kontormøbler AS",
    "Romsdal Ventilasjon AS", "Sognefjord Skilt AS", "Solberg Konsulent AS",
    "Steinkjer Rør AS", "Tinde Renhold AS", "Trollheim Logistikk AS",
    "Varanger Verktøy AS", "Vestland Bygg og Anlegg AS",
)
_FOOD = ("Bakergaarden Matleveranser AS", "Fjordfisk Storkjøkken AS", "Gårdsmat Engros AS")
_ZERO_RATED = ("Bokhuset Fagbøker AS", "Nordisk Avisdistribusjon AS")
_UNREGISTERED = ("Falsk Faktura AS", "Nettbutikk Global AS", "Skygge Konsult AS",
                 "Ukjent Leverandør ENK")
_RATES = (Decimal("0.25"), Decimal("0.15"), Decimal("0.00"))


@dataclass(frozen=True)
class Supplier:
    """An entry of the supplier register."""

    name: str
    org_number: str
    vat_rate: Decimal


@dataclass(frozen=True)
class PurchaseOrder:
    """A purchase order as it stands before any invoice is approved."""

    po_number: str
    supplier_org_number: str
    status: str  # "open" | "closed"
    ordered_amount: Decimal
    remaining_amount: Decimal


@dataclass(frozen=True)
class Invoice:
    """An incoming invoice awaiting approval, with the outcome a correct bot reaches."""

    number: str
    supplier_name: str
    supplier_org_number: str
    po_number: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    due_date: date
    expected: str
    currency: str = CURRENCY


@dataclass(frozen=True)
class InvoiceData:
    """Everything the portal starts with."""

    suppliers: tuple[Supplier, ...]
    purchase_orders: tuple[PurchaseOrder, ...]
    invoices: tuple[Invoice, ...]


@dataclass
class _PoDraft:
    """A purchase order while the generator is still adding invoices to it."""

    po_number: str
    supplier: Supplier
    status: str
    ordered: Decimal
    remaining: Decimal
    shared: bool = False
    invoices: list[str] = field(default_factory=list)


def vat_for(net: Decimal, rate: Decimal) -> Decimal:
    """VAT as the portal's rules define it: net * rate, rounded half up to øre."""
    return (net * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(value: float) -> Decimal:
    """A float amount truncated to whole øre, as an exact Decimal."""
    return Decimal(int(value * 100)) / 100


def _org_numbers(rng: random.Random, count: int) -> list[str]:
    """Distinct valid organisation numbers (starting with 8 or 9, like real ones)."""
    found: list[str] = []
    while len(found) < count:
        number = complete_org_number(str(rng.randint(80_000_000, 99_999_999)))
        if number is not None and number not in found:
            found.append(number)
    return found


def _suppliers(rng: random.Random) -> tuple[list[Supplier], list[Supplier]]:
    """The register (sorted by name) and a few real-looking suppliers missing from it."""
    names = [*_REGULAR, *_FOOD, *_ZERO_RATED]
    rates = [_RATES[0]] * len(_REGULAR) + [_RATES[1]] * len(_FOOD) + [_RATES[2]] * len(_ZERO_RATED)
    orgs = _org_numbers(rng, len(names) + len(_UNREGISTERED))
    register = sorted(
        (Supplier(n, o, r) for n, o, r in zip(names, orgs, rates, strict=False)),
        key=lambda s: s.name,
    )
    unknown = [Supplier(n, o, _RATES[0]) for n, o in zip(_UNREGISTERED, orgs[len(names):],
                                                         strict=True)]
    return register, unknown


def _outcome_plan(rng: random.Random, count: int) -> list[str]:
    """The expected outcome of every invoice, in invoice order."""
    approvals = round(count * APPROVE_SHARE)
    problems = [RULE_CODES[i % len(RULE_CODES)] for i in range(count - approvals)]
    plan = [APPROVE] * approvals + problems
    rng.shuffle(plan)
    return plan


def _amounts(rng: random.Random, outcome: str, rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Net, VAT and gross for an invoice that breaks (at most) the rule ``outcome``."""
    limit = APPROVAL_LIMITS[EXPECTED_FOR_USER]
    if outcome == "OVER_APPROVAL_LIMIT":
        net = _cents(rng.uniform(float(limit) * 1.02, float(limit) * 3) / float(1 + rate))
    else:
        net = _cents(math.exp(rng.uniform(math.log(200), math.log(70_000))))
    vat = vat_for(net, rate)
    if outcome == "VAT_MISMATCH":
        if rng.random() < 0.5:
            vat = vat_for(net, rng.choice([r for r in _RATES if r != rate]))
        else:
            vat = max(Decimal(0), vat + rng.choice((-1, 1)) * Decimal(rng.randint(100, 5000)) / 100)
            if vat == vat_for(net, rate):
                vat += Decimal("1.00")
    gross = net + vat
    if outcome == "GROSS_MISMATCH":
        biggest = max(100, min(90_000, int(gross * 50)))
        gross += rng.choice((-1, 1)) * Decimal(rng.randint(100, biggest)) / 100
    return net, vat, gross


def _new_po(rng: random.Random, number: str, supplier: Supplier, outcome: str,
            need: Decimal) -> _PoDraft:
    """A purchase order that covers ``need`` unless the outcome says otherwise."""
    if outcome == "PO_INSUFFICIENT":
        remaining = _cents(float(need) * rng.uniform(0.05, 0.9))
        remaining = min(remaining, need - Decimal("1.00"))
    else:
        remaining = need + _cents(float(need) * rng.uniform(0, 1))
    consumed = _cents(float(need) * rng.uniform(0, 2))
    status = "closed" if outcome == "PO_CLOSED" else "open"
    return _PoDraft(number, supplier, status, remaining + consumed, remaining)


@lru_cache(maxsize=8)
def generate_invoice_data(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> InvoiceData:
    """Suppliers, purchase orders and ``count`` invoices, identical for identical arguments."""
    rng = random.Random(seed)
    register, unknown = _suppliers(rng)
    po_numbers = iter(f"PO-{n}" for n in rng.sample(range(450_000, 460_000), count))
    missing_pos = iter(f"PO-{n}" for n in rng.sample(range(460_000, 470_000), count))
    drafts: list[_PoDraft] = []
    last_approved: _PoDraft | None = None
    invoices: list[Invoice] = []
    for index, outcome in enumerate(_outcome_plan(rng, count)):
        share = outcome == APPROVE and last_approved is not None and not last_approved.shared
        if share and last_approved is not None and rng.random() < 0.15:
            supplier = last_approved.supplier
        else:
            share = False
            supplier = rng.choice(unknown if outcome == "SUPPLIER_UNKNOWN" else register)
        net, vat, gross = _amounts(rng, outcome, supplier.vat_rate)
        need = max(gross, net + vat_for(net, supplier.vat_rate))
        if outcome == "PO_NOT_FOUND":
            po_number = next(missing_pos)
        elif share and last_approved is not None:
            last_approved.ordered += need
            last_approved.remaining += need
            last_approved.shared = True
            po_number = last_approved.po_number
        else:
            draft = _new_po(rng, next(po_numbers), supplier, outcome, need)
            drafts.append(draft)
            po_number = draft.po_number
            if outcome == APPROVE:
                last_approved = draft
        invoices.append(Invoice(
            number=f"INV-2026-{10_001 + index}",
            supplier_name=supplier.name,
            supplier_org_number=supplier.org_number,
            po_number=po_number,
            net=net,
            vat=vat,
            gross=gross,
            due_date=date(2026, 3, 2) + timedelta(days=rng.randint(0, 75)),
            expected=outcome,
        ))
    purchase_orders = tuple(sorted(
        (PurchaseOrder(d.po_number, d.supplier.org_number, d.status, d.ordered, d.remaining)
         for d in drafts),
        key=lambda po: po.po_number,
    ))
    return InvoiceData(tuple(register), purchase_orders, tuple(invoices))


def expected_outcomes(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> dict[str, str]:
    """Invoice number → ``"approve"`` or the rule code a correct bot reports."""
    return {inv.number: inv.expected for inv in generate_invoice_data(seed, count).invoices}


def write_work_items(path: Path | str, seed: int = DEFAULT_SEED,
                     count: int = DEFAULT_COUNT) -> Path:
    """Write the work-item CSV (``reference,invoice_number,expected``) for these invoices.

    The payload is only the invoice number: the bot is meant to read everything
    else from the portal, as it would in production.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(WORK_ITEM_COLUMNS)
        for inv in generate_invoice_data(seed, count).invoices:
            writer.writerow((inv.number, inv.number, inv.expected))
    return target
