"""The worker and the bots under the trouble production brings.

Gateway errors, sessions that expire, a browser that dies, a worker process
killed mid-item: after each, every item must still reach its expected outcome
and the target must have been changed exactly once per item, because "the robot
approved it twice" is the failure a finance department never forgives. And no
secret may leak into anything the orchestrator writes while all this goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from orchestrator.credentials import fernet_for
from orchestrator.worker.hooks import OutcomeCallback
from orchestrator.worker.run import build_worker
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem, ItemView
from queues.schema import credentials_t
from targets import Misbehaviour, TargetServer
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import (
    APPLICANTS,
    INVOICE_LOGIN,
    INVOICES,
    Pipeline,
    SessionBursts,
    applicant_expectations,
    assert_expected_outcomes,
    browser_roots,
    invoice_expectations,
    kill_quietly,
)

pipeline = fixtures.pipeline
portals = fixtures.portals

pytestmark = pytest.mark.browser

PATIENT = {"max_attempts": 10, "backoff": 0.2, "backoff_max": 1}
"""Enough attempts that a run of bad luck with 20 % errors cannot exhaust an item."""
RPA = Path(sys.executable).with_name("rpa")


def approvals_expected(expected: dict[str, str]) -> int:
    return sum(1 for outcome in expected.values() if outcome == "approve")


def outcomes(items: dict[str, ItemView]) -> Counter[str]:
    """How all attempts of these items ended."""
    return Counter(a.outcome for item in items.values() for a in item.history)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def start_cli_worker(pipeline: Pipeline, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`rpa worker --until-empty` in its own session, stderr (the JSON logs) to `log`."""
    env = {**os.environ, "RPA_DATA_DIR": str(pipeline.data_dir)}
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [str(RPA), "worker", "--until-empty", "--slots", "2", *extra],
            env=env, stdout=stderr, stderr=stderr, start_new_session=True)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill what is left of a worker's process group (its Playwright driver, its Chromium)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# --------------------------------------------------------------------------- gateway errors
def test_gateway_errors_are_retried_until_every_item_is_right(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """20 % 502/503: reads retry in place, unsure writes go back to the queue, nothing twice."""
    chaos = Misbehaviour(error_share=0.2, seed=11)
    invoices = portals("invoice", count=8, misbehaviour=chaos)
    recruitment = portals("recruitment", misbehaviour=chaos)
    pipeline.invoices(invoices, 8, retry=PATIENT)
    pipeline.applicants(recruitment, 12, retry=PATIENT)

    report = pipeline.run()

    expected_invoices, expected_applicants = invoice_expectations(8), applicant_expectations(12)
    invoice_items, applicant_items = pipeline.items(INVOICES), pipeline.items(APPLICANTS)
    assert_expected_outcomes(invoice_items, expected_invoices)
    assert_expected_outcomes(applicant_items, expected_applicants)
    invoice_state, recruitment_state = invoices.state(), recruitment.state()
    assert invoice_state["injected_errors"] > 3 and recruitment_state["injected_errors"] > 3
    assert invoice_state["approvals"] == approvals_expected(expected_invoices)
    assert recruitment_state["registrations"] == Counter(expected_applicants.values())["register"]
    all_items = {**invoice_items, **applicant_items}
    tries = outcomes(all_items)
    assert tries["application_error"] > 0
    assert tries["application_error"] == report.application
    failed = [a for item in all_items.values() for a in item.history
              if a.outcome == "application_error"]
    # the retries were for the portal's gateway errors, and each left its evidence
    assert {a.error_type for a in failed} == {"PortalUnavailable"}
    assert all("HTTP 50" in (a.error_message or "") for a in failed)
    assert all(a.evidence and Path(a.evidence["screenshot"]).is_file() for a in failed)
    retried = [item for item in all_items.values() if item.attempts > 1]
    assert retried and all(item.history[-1].outcome in ("done", "business_error")
                           for item in retried)


# --------------------------------------------------------------------------- sessions
def test_expired_sessions_are_renewed_within_the_attempt(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """Sessions keep expiring (1 s lifetime, in bursts): the worker logs in again, items finish.

    30 items keep the worker busy for several bursts even on a fast machine; with
    10 the run could end before the first burst's expiry hit a request.
    """
    server = portals("invoice", count=30)
    pipeline.invoices(server, 30)

    with capture_logs() as logs, SessionBursts(server) as bursts:
        pipeline.run()

    expected = invoice_expectations(30)
    items = pipeline.items(INVOICES)
    assert_expected_outcomes(items, expected)
    state = server.state()
    assert bursts.count > 0 and state["approvals"] == approvals_expected(expected)
    assert state["logins"] > 2, "two slots log in once each; more means sessions were renewed"
    expired = [e for e in logs if e["event"] == "bot.session_expired"]
    assert expired
    # an expiry noticed mid-item is cured inside the same attempt, not by a queue retry
    ended = {(item.id, a.number): a.outcome for item in items.values() for a in item.history}
    assert any(ended[(e["item_id"], e["attempt"])] in ("done", "business_error")
               for e in expired)


# --------------------------------------------------------------------------- browser crash
def test_a_killed_browser_is_restarted_and_nothing_is_approved_twice(
        pipeline: Pipeline, portals: Callable[..., TargetServer]) -> None:
    """SIGKILL to Chromium after the first item: a new browser, and every item still right."""
    server = portals("invoice", count=12)
    pipeline.invoices(server, 12)
    worker = build_worker(pipeline.store, pipeline.settings, pipeline.options())
    killed: list[int] = []

    async def run_and_kill() -> None:
        first_done: list[int] = []

        def on_outcome(item: ClaimedItem, outcome: Outcome) -> None:
            if outcome.kind == "done":
                first_done.append(item.id)

        def another_in_flight() -> bool:
            return bool(first_done) and any(
                slot.busy and slot.current is not None and slot.current.id != first_done[0]
                for slot in worker.slots)

        worker.hooks.append(OutcomeCallback(on_outcome))
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 60
        while not another_in_flight():  # kill with an item surely mid-way
            assert time.monotonic() < deadline and not running.done()
            await asyncio.sleep(0.01)
        pid = worker.browser.pid()
        assert pid is not None, "the worker's browser process must be found"
        assert pid in browser_roots(os.getpid())
        kill_quietly(pid)
        killed.append(pid)
        await running

    asyncio.run(run_and_kill())

    report = worker.report
    expected = invoice_expectations(12)
    items = pipeline.items(INVOICES)
    assert killed and report.browser_restarts >= 1
    assert_expected_outcomes(items, expected)
    assert server.state()["approvals"] == approvals_expected(expected)
    crashed = [a for item in items.values() for a in item.history
               if a.outcome == "application_error"]
    assert crashed, "the slot working when the browser died must have failed that attempt"
    assert report.application == len(crashed)


# --------------------------------------------------------------------------- worker crash
def test_a_worker_killed_mid_item_loses_its_lease_and_nothing_is_approved_twice(
        pipeline: Pipeline, portals: Callable[..., TargetServer], tmp_path: Path) -> None:
    """SIGKILL to `rpa worker` between an approval and its record: a second worker finishes."""
    expected = invoice_expectations(7)
    server = portals("invoice", count=7,
                     misbehaviour=Misbehaviour(slow_share=1.0, slow_seconds=2))
    refs = pipeline.invoices(server, 7, lease=5.0)  # the shortest lease a process may have
    proc = start_cli_worker(pipeline, tmp_path / "worker.log", "--no-trace")
    try:
        # Every answer takes 2 s, so once the portal counts an approval the worker is
        # still waiting for the confirmation page: the approval is not yet recorded.
        wait_for(lambda: server.state()["approvals"] >= 1, 90, "the first approval")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop_group(proc)
    time.sleep(2.5)  # requests the dead worker had already sent are still handled: let them
    before = pipeline.items(INVOICES)
    in_flight = {ref for ref, item in before.items() if item.status == "in_progress"}
    assert in_flight, "the worker was killed holding items"
    recorded_approvals = sum(1 for item in before.values() if item.status == "done")
    approvals_at_kill = server.state()["approvals"]
    server.misbehave(slow_share=0.0)

    report = pipeline.run()

    items = pipeline.items(INVOICES)
    assert set(refs) == set(items)
    assert_expected_outcomes(items, expected)
    assert server.state()["approvals"] == approvals_expected(expected)
    for ref in in_flight:
        history = items[ref].history
        assert history[0].outcome == "lost" and history[0].error_type == "LeaseExpired"
        assert history[-1].outcome in ("done", "business_error")
        assert history[-1].worker_id != history[0].worker_id
    # an approval that reached the portal but not the store is recognised, not redone
    already = [ref for ref in in_flight
               if (items[ref].output or {}).get("status") == "already_approved"]
    assert len(already) == approvals_at_kill - recorded_approvals >= 1
    finished_before = sum(1 for item in before.values()
                          if item.status in ("done", "business_failed"))
    assert report.done + report.business == len(items) - finished_before


# --------------------------------------------------------------------------- secrets
def test_the_portal_password_appears_nowhere_the_orchestrator_writes(
        pipeline: Pipeline, portals: Callable[..., TargetServer], tmp_path: Path) -> None:
    """Failures, retries, traces, re-logins: the password is in no file, row or log line."""
    password = INVOICE_LOGIN[1]
    server = portals("invoice", count=6, misbehaviour=Misbehaviour(error_share=0.2, seed=5))
    pipeline.invoices(server, 6, retry=PATIENT)
    log = tmp_path / "worker.log"
    proc = start_cli_worker(pipeline, log)
    try:
        with SessionBursts(server):  # re-logins while traces are being recorded
            # a 4 s outage once the slots are logged in and working: some items surely
            # fail mid-way, with a trace (traces start after the login)
            wait_for(lambda: any(i.status in ("done", "business_failed")
                                 for i in pipeline.items(INVOICES).values()), 90,
                     "a first finished item")
            server.misbehave(error_share=1.0)
            time.sleep(4)
            server.misbehave(error_share=0.2)
            assert proc.wait(timeout=150) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        stop_group(proc)

    items = pipeline.items(INVOICES)
    assert_expected_outcomes(items, invoice_expectations(6))
    tries = outcomes(items)
    assert tries["business_error"] > 0 and tries["application_error"] > 0
    assert server.state()["logins"] > 2

    logged = log.read_bytes()
    assert b"item.finished" in logged and b"portal.logged_in" in logged
    assert password.encode() not in logged

    files = [p for p in pipeline.data_dir.rglob("*") if p.is_file()]
    kinds = Counter(p.suffix for p in files if "evidence" in p.parts)
    assert kinds[".png"] > 0 and kinds[".zip"] > 0, kinds  # screenshots and traces to scan
    for path in files:
        assert password not in str(path)
        contents = [path.read_bytes()]
        if zipfile.is_zipfile(path):  # a trace: look inside, not at the compressed bytes
            with zipfile.ZipFile(path) as archive:
                contents = [archive.read(name) for name in archive.namelist()]
        for content in contents:
            assert password.encode() not in content, f"the password is in {path}"

    for event in pipeline.store.audit_events(limit=100_000):
        assert password not in json.dumps(event, default=str)
    for item in items.values():
        assert password not in json.dumps([item.output, item.error_message, item.payload])
        for attempt in item.history:
            assert password not in json.dumps([attempt.error_message, attempt.evidence])

    with pipeline.store.engine.connect() as conn:
        stored = conn.execute(sa.select(credentials_t.c.ciphertext)).scalars().all()
    assert len(stored) == 1 and password not in stored[0]
    assert json.loads(fernet_for(pipeline.settings).decrypt(stored[0].encode()))["p"] == password
