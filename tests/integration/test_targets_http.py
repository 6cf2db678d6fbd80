"""The demo target portals over real HTTP, without a browser: the control endpoints,
deterministic error injection and slow responses.

Status codes and failure injection are what a bot relies on; the pure logic is in
tests/unit/test_targets_data.py and the Chromium-driven tests in
tests/integration/test_targets_browser.py.
"""

from __future__ import annotations

import time

import httpx

from targets import Misbehaviour, TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal.app import create_app as create_invoice_app
from tests.integration import conftest_targets as fixtures
from tests.integration.conftest_targets import statuses

# The fixtures live in conftest_targets.py (tests/conftest.py is owned elsewhere);
# binding them here lets pytest find them for this module only.
invoice_portal = fixtures.invoice_portal


# --------------------------------------------------------------------------- misbehaviour

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
