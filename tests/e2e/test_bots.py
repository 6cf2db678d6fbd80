"""The built-in bots against the demo portals, through the real worker and a real Chromium.

What matters about an approval robot is not that it clicks, but that it approves
exactly the invoices that pass every rule, exactly once, and stops each of the
others with the right reason; and that a recruitment robot never registers a
person twice. These tests judge the bots by the portals' own counters and by the
items' final states, against the data generators' expected outcomes.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots import load_bot
from bots.builtin import _portal
from bots.builtin.applicant_registration import nin_problem
from bots.builtin.invoice_approval import vat_for
from queues import NewItem
from targets import Misbehaviour, TargetServer
from targets.invoice_portal import data as invoice_data
from targets.recruitment_portal import data as applicant_data
from targets.recruitment_portal.nin import is_valid_nin, make_nin
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import (
    APPLICANTS,
    INVOICES,
    Pipeline,
    applicant_expectations,
    assert_expected_outcomes,
    invoice_expectations,
)

pipeline = fixtures.pipeline
portals = fixtures.portals


ALL_INVOICES = 28  # 21 to approve and one of each of the seven rule codes
ALL_APPLICANTS = 12  # 7 to register (3 people twice), a repeat, one of each rule code


def approvals_expected(expected: dict[str, str]) -> int:
    return sum(1 for outcome in expected.values() if outcome == "approve")


def test_bots_are_registered_and_described() -> None:
    """Both built-ins load by name, say what they do and take the fields the CSVs carry."""
    invoices = load_bot(INVOICES)
    applicants = load_bot(APPLICANTS)
    assert invoices.description and applicants.description
    assert invoices.reuse_context and applicants.reuse_context
    assert 0 < invoices.item_timeout <= 60 and 0 < applicants.item_timeout <= 60
    assert set(invoices.input_fields()) == {"invoice_number"}
    assert {"full_name", "national_id", "email", "phone", "position", "consent",
            "cv_file"} == set(applicants.input_fields())


@settings(max_examples=300, deadline=None)
@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(2039, 12, 31)),
       seed=st.integers(0, 10_000), d_number=st.booleans(), position=st.integers(0, 10),
       delta=st.integers(0, 9), noise=st.text("0123456789", min_size=11, max_size=11))
def test_the_bots_own_nin_check_agrees_with_the_portal(
        born: date, seed: int, d_number: bool, position: int, delta: int, noise: str) -> None:
    """The bot's mod-11 check (written independently) accepts exactly what the portal does."""
    nin = make_nin(born, random.Random(seed), d_number=d_number)
    typo = nin[:position] + str((int(nin[position]) + delta) % 10) + nin[position + 1:]
    for candidate in (nin, typo, noise, nin[:10], nin + "0"):
        assert (nin_problem(candidate) is None) == is_valid_nin(candidate), candidate


def test_amounts_and_vat_are_exact() -> None:
    """Amounts parse as people print them; VAT rounds half up to øre, as the rules say."""
    assert _portal.parse_amount("12500.00", "x") == Decimal("12500.00")
    assert _portal.parse_amount("12\u00a0500,50", "x") == Decimal("12500.50")
    assert _portal.parse_amount("1,234.56", "x") == Decimal("1234.56")
    with pytest.raises(_portal.UnexpectedPage):
        _portal.parse_amount("n/a", "x")
    assert vat_for(Decimal("0.10"), Decimal("0.25")) == Decimal("0.03")  # 0.025 rounds up
    assert vat_for(Decimal("100.02"), Decimal("0.15")) == Decimal("15.00")  # 15.003


@pytest.mark.browser
def test_invoices_reach_their_expected_outcomes(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """Every rule code is met once; the approvable ones are approved, each exactly once."""
    expected = invoice_expectations(ALL_INVOICES)
    assert set(expected.values()) == {"approve", *invoice_data.RULE_CODES}
    server = portals("invoice", count=ALL_INVOICES)
    pipeline.invoices(server, ALL_INVOICES)

    report = pipeline.run()

    items = pipeline.items(INVOICES)
    assert_expected_outcomes(items, expected)
    data = {inv.number: inv for inv in invoice_data.generate_invoice_data(count=ALL_INVOICES)
            .invoices}
    for ref, item in items.items():
        if expected[ref] == "approve":
            assert item.output == {
                "invoice_number": ref, "supplier_org_number": data[ref].supplier_org_number,
                "po_number": data[ref].po_number, "gross": str(data[ref].gross),
                "decision": "approved", "status": "approved"}
        else:
            assert item.output is None and item.error_message
            assert [a.outcome for a in item.history] == ["business_error"]
    state = server.state()
    assert state["approvals"] == approvals_expected(expected)
    assert state["rejections"] == 0  # rule breaks are left for a person to reject
    assert report.done == approvals_expected(expected)
    assert report.business == len(invoice_data.RULE_CODES)
    assert report.application == 0 and report.browser_restarts == 0


@pytest.mark.browser
def test_an_approved_invoice_is_done_again_without_a_second_approval(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """Re-running an approved invoice, or two items racing for one, approves it once."""
    expected = invoice_expectations(10)
    first, second = [n for n, outcome in expected.items() if outcome == "approve"][:2]
    server = portals("invoice", count=10)
    pipeline.register(INVOICES, server)
    pipeline.set_credential(INVOICES, *fixtures.INVOICE_LOGIN)
    pipeline.store.enqueue(INVOICES, [NewItem(first, {"invoice_number": first})],
                           actor="test:e2e")
    pipeline.run()
    assert server.state()["approvals"] == 1

    # the two items for one invoice come first, so the two slots take them together
    pipeline.store.enqueue(INVOICES, [
        NewItem(f"{second}-a", {"invoice_number": second}),
        NewItem(f"{second}-b", {"invoice_number": second}),
        NewItem(f"again-{first}", {"invoice_number": first}),
        NewItem("no-such-invoice", {"invoice_number": "INV-2026-99999"}),
    ], actor="test:e2e")
    report = pipeline.run()

    items = pipeline.items(INVOICES)
    missing = items.pop("no-such-invoice")
    assert (missing.status, missing.error_code) == ("business_failed", "INVOICE_NOT_FOUND")
    assert {ref: item.status for ref, item in items.items()} == dict.fromkeys(items, "done")
    assert (items[first].output or {}).get("status") == "approved"
    again = items[f"again-{first}"]
    assert again.output is not None and again.output["status"] == "already_approved"
    assert again.output["invoice_number"] == first and again.attempts == 1
    racing = [items[f"{second}-a"].output, items[f"{second}-b"].output]
    assert sorted(str(o and o["status"]) for o in racing) == ["already_approved", "approved"]
    assert server.state()["approvals"] == 2
    assert (report.done, report.business, report.application) == (3, 1, 0)


@pytest.mark.browser
def test_applicants_are_registered_exactly_once(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """Valid applicants are registered once; repeats are found; bad ones never submitted."""
    expected = applicant_expectations(ALL_APPLICANTS)
    assert set(expected.values()) == {"register", "already_registered",
                                      *applicant_data.RULE_CODES}
    server = portals("recruitment")
    pipeline.applicants(server, ALL_APPLICANTS)

    report = pipeline.run()

    items = pipeline.items(APPLICANTS)
    assert_expected_outcomes(items, expected)
    people = {a.reference: a for a in applicant_data.generate_applicants(count=ALL_APPLICANTS)}
    numbers: dict[tuple[str, str], set[str]] = {}
    statuses: Counter[tuple[str, str]] = Counter()
    for ref, item in items.items():
        if item.status != "done":
            assert item.output is None
            continue
        assert item.output is not None
        key = (people[ref].national_id, people[ref].position)
        assert item.output["position"] == people[ref].position
        numbers.setdefault(key, set()).add(item.output["registration_number"])
        statuses[key] += item.output["status"] == "registered"
    registrations = sum(1 for outcome in expected.values() if outcome == "register")
    # one registration per person and position, and every copy points at it
    assert len(numbers) == registrations
    assert all(len(found) == 1 for found in numbers.values())
    assert set(statuses.values()) == {1}
    assert len({n for found in numbers.values() for n in found}) == registrations
    # the same person applying for two positions is two registrations, not a repeat
    by_person = Counter(nin for nin, _ in numbers)
    assert max(by_person.values()) == 2
    state = server.state()
    assert state["registrations"] == registrations
    assert report.done == registrations + Counter(expected.values())["already_registered"]
    assert report.business == len(applicant_data.RULE_CODES)

    # Sent again under a new reference: found by the search, not even submitted.
    registered = next(ref for ref, outcome in expected.items() if outcome == "register")
    again = {**items[registered].payload, "phone": "+47 400 00 000"}
    # Passes the bot's checks but not the portal's (a one-letter name): refused, not retried.
    short = {**again, "full_name": "A", "position": applicant_data.POSITIONS[0].code,
             "national_id": make_nin(date(1990, 5, 17), random.Random(1))}
    pipeline.store.enqueue(APPLICANTS, [NewItem("again", again), NewItem("short-name", short)],
                           actor="test:e2e")
    pipeline.run()

    rerun = pipeline.store.get_item(pipeline.item_ids(APPLICANTS)["again"])
    assert rerun.output == {**(items[registered].output or {}), "status": "already_registered"}
    refused = pipeline.store.get_item(pipeline.item_ids(APPLICANTS)["short-name"])
    assert (refused.status, refused.error_code) == ("business_failed", "FORM_REJECTED")
    assert "Full name" in str(refused.error_message) and refused.attempts == 1
    after = server.state()
    assert after["registrations"] == registrations
    assert after["duplicate_attempts"] == state["duplicate_attempts"]


@pytest.mark.browser
def test_bots_work_after_the_portals_change_their_layout(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """Other ids, names and order, the same labels: one worker serves both bots unchanged."""
    upgraded = Misbehaviour(changed_layout=True)
    invoices = portals("invoice", count=8, misbehaviour=upgraded)
    recruitment = portals("recruitment", misbehaviour=upgraded)
    pipeline.invoices(invoices, 8)
    pipeline.applicants(recruitment, 12)

    pipeline.run()

    expected_invoices = invoice_expectations(8)
    expected_applicants = applicant_expectations(12)
    assert_expected_outcomes(pipeline.items(INVOICES), expected_invoices)
    assert_expected_outcomes(pipeline.items(APPLICANTS), expected_applicants)
    invoice_state, recruitment_state = invoices.state(), recruitment.state()
    assert invoice_state["misbehaviour"]["changed_layout"] is True
    assert recruitment_state["misbehaviour"]["changed_layout"] is True
    assert invoice_state["approvals"] == approvals_expected(expected_invoices)
    assert recruitment_state["registrations"] == Counter(expected_applicants.values())["register"]
    gross = [Decimal(i.output["gross"]) for i in pipeline.items(INVOICES).values() if i.output]
    assert len(gross) == approvals_expected(expected_invoices) and all(g > 0 for g in gross)


@pytest.mark.browser
@pytest.mark.parametrize("slots", [1, 2])
def test_slots_taking_turns_between_processes_keep_each_login(
        pipeline: Pipeline, portals: Callable[..., TargetServer], slots: int) -> None:
    """Processes take turns for slots; a slot keeps a session per bot, so it logs in to
    each portal once, not at every switch (it once logged in again for half the items)."""
    invoices, applicants = portals("invoice", count=12), portals("applicant", count=12)
    pipeline.invoices(invoices, 12)
    pipeline.applicants(applicants, 12)
    order: list[str] = []

    report = pipeline.run(lambda item, _outcome: order.append(item.process), slots=slots)

    assert report.done + report.business == 24 and report.application == 0
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= 8, order  # the processes really took turns
    assert 1 <= invoices.state()["logins"] <= slots  # at most once per slot
    assert 1 <= applicants.state()["logins"] <= slots
