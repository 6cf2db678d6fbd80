"""The review inbox on real work: the bots stop items on business rules in the bundled
portals (real Chromium, the real worker, a real SQLite file), people resolve the
tasks, the corrected items go through on the next run, and the hours report's
gross, review and net match the figures worked out here by hand.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from orchestrator.reports import service
from orchestrator.services import review
from orchestrator.services.access import cli_principal
from queues.review_store import TaskFilter
from targets import TargetServer
from targets.recruitment_portal.nin import make_nin
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import APPLICANTS, INVOICES, Pipeline

pipeline = fixtures.pipeline
portals = fixtures.portals

ADMIN = cli_principal("os:reviewer")
INVOICE_COUNT = 28  # 21 to approve, one of each of the seven rule codes
APPLICANT_COUNT = 12  # one of each of the four rule codes
MANUAL, EXCEPTION = 6, 2  # the pipeline's minutes per item and per business exception


def test_exceptions_are_reviewed_and_the_net_is_exact(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    pipeline.invoices(portals("invoice"), INVOICE_COUNT)
    pipeline.applicants(portals("recruitment"), APPLICANT_COUNT)
    first = pipeline.run()
    business = first.business
    assert business >= 7 + 4  # at least one of each rule code of the two portals

    # every business exception has exactly one open task, and nothing else has one
    review.refresh(pipeline.store)
    tasks = pipeline.store.review.find(TaskFilter(limit=1000))
    stopped = {i.id: i for p in (INVOICES, APPLICANTS) for i in pipeline.items(p).values()
               if i.status == "business_failed"}
    assert sorted(t.item_id for t in tasks) == sorted(stopped)
    assert all(t.kind == "business_exception" and t.due_at for t in tasks)
    by_code = {stopped[t.item_id].error_code: t for t in sorted(tasks, key=lambda t: -t.id)}

    # a person corrects the applicant's identity number: the item goes again
    nin_task = by_code["NIN_INVALID"]
    item = stopped[nin_task.item_id]
    fixed = dict(item.payload)
    fixed["national_id"] = make_nin(date(1980, 5, 17), random.Random(7))
    review.resolve(pipeline.store, ADMIN, nin_task.id, "fixed_and_retried", minutes=3,
                   payload=fixed)
    # the e-mail address too, found in the CV
    email_task = by_code["EMAIL_INVALID"]
    email_item = stopped[email_task.item_id]
    review.resolve(pipeline.store, ADMIN, email_task.id, "fixed_and_retried", minutes=4,
                   payload={**email_item.payload, "email": "kari.nordmann@example.no"})
    # two invoices handled by hand, one dismissed; the others stay open (estimated)
    hand = [by_code["PO_CLOSED"], by_code["VAT_MISMATCH"]]
    for task, minutes in zip(hand, (10, "7,5"), strict=True):
        review.claim(pipeline.store, ADMIN, task.id)
        review.resolve(pipeline.store, ADMIN, task.id, "done_by_hand", minutes=minutes)
    review.resolve(pipeline.store, ADMIN, by_code["SUPPLIER_UNKNOWN"].id, "no_action",
                   reason="supplier closed down; the invoice was cancelled")

    second = pipeline.run()
    assert second.done == 2 and second.business == 0
    done_again = pipeline.store.get_item(nin_task.item_id)
    assert done_again.status == "done" and done_again.output is not None
    assert pipeline.store.get_item(email_task.item_id).status == "done"

    # By hand. Items done: 21 invoices + the applicants done in the first run + 2 retried.
    done = Counter(i.status for p in (INVOICES, APPLICANTS)
                   for i in pipeline.items(p).values())["done"]
    assert done == first.done + 2
    gross = Decimal(done * MANUAL)
    # review: recorded 3 + 4 + 10 + 7.5 + 0 (no_action); estimated: the business - 5
    # tasks left open, at the configured 2 minutes each
    recorded, estimated = Decimal("24.5"), Decimal((business - 5) * EXCEPTION)
    outcome = service.hours_report(pipeline.store, "this-year", by="process",
                                   settings=pipeline.settings)
    total = outcome.report.total
    assert round(total.gross_hours * 60, 6) == gross
    assert round(total.review_hours * 60, 6) == recorded + estimated
    assert round(total.estimated_hours * 60, 6) == estimated
    assert round(total.freed_minutes, 6) == gross - recorded - estimated
    assert pipeline.store.verify_audit().ok
