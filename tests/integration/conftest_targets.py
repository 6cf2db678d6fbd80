"""Fixtures and helpers for the target-portal tests: servers, headless Chromium, login.

Kept out of ``conftest.py`` (owned elsewhere); ``test_targets.py`` imports the
fixtures by name. Chromium is Debian's, because ``playwright install`` cannot
download browsers in this environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from targets import TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal import data as invoices
from targets.recruitment_portal import data as applicants

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """One Playwright driver per test module."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium, shared by the tests of a module."""
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context, so no cookie leaks between tests."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture
def invoice_portal() -> Iterator[TargetServer]:
    """A well-behaved invoice portal over the default 300 invoices."""
    with start_invoice_portal() as server:
        yield server


@pytest.fixture
def recruitment_portal() -> Iterator[TargetServer]:
    """A well-behaved recruitment portal with no registrations."""
    with start_recruitment_portal() as server:
        yield server


def log_in(page: Page, base_url: str, username: str, password: str, path: str = "/") -> None:
    """Open ``path``, get sent to the login page, and log in by label and button name."""
    page.goto(base_url + path)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def value_of(page: Page, label: str) -> str:
    """The value of a ``<dt>``/``<dd>`` pair, found by role and accessible name only."""
    group = page.get_by_role("group", name=label, exact=True)
    return group.get_by_role("definition").inner_text().strip()


def csrf_token(page: Page) -> str:
    """The CSRF token of the current page's first form."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    return token


def path_of(url: str) -> str:
    """The path and query of a URL, for assertions on redirects."""
    return re.sub(r"^https?://[^/]+", "", url)


def statuses(server: TargetServer, path: str, count: int) -> list[int]:
    """Status codes of ``count`` GETs, without following redirects."""
    with httpx.Client(base_url=server.url) as client:
        return [client.get(path).status_code for _ in range(count)]


def first_invoice(expected: str) -> invoices.Invoice:
    """The first default invoice with a given expected outcome."""
    return next(i for i in invoices.generate_invoice_data().invoices if i.expected == expected)


def fill_applicant(page: Page, person: applicants.Applicant, consent: bool = True) -> None:
    """Fill the applicant form by visible labels only."""
    page.get_by_label("Full name").fill(person.full_name)
    page.get_by_label("National identity number").fill(person.national_id)
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Phone").fill(person.phone)
    page.get_by_label("Position").select_option(person.position)
    page.get_by_label("CV (PDF, max 2 MB)").set_input_files(
        {"name": "cv.pdf", "mimeType": "application/pdf", "buffer": applicants.cv_for(person)}
    )
    page.get_by_label("I consent to the processing").set_checked(consent)


def register(page: Page, base_url: str, person: applicants.Applicant) -> int:
    """Submit the form for ``person``; return the status of the POST."""
    page.goto(base_url + "/applicants/new")
    fill_applicant(page, person)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Register applicant").click()
    return posted.value.status
