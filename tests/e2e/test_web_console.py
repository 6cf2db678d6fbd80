"""The console as its users run it: `rpa web` as a subprocess over the demo's database,
driven in a real headless Chromium; axe-core checks every page (WCAG 2.1 AA)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from orchestrator.db import open_sql_store
from orchestrator.services import accounts
from orchestrator.services.access import cli_principal
from orchestrator.services.processes import register
from orchestrator.settings import load_settings
from queues import NewItem
from tests.e2e.conftest import free_port, wait_healthy
from tests.support.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RPA = Path(sys.executable).with_name("rpa")
AXE = Path(__file__).with_name("web") / "axe-4.14.1.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
PASSWORD = "a long demo password"
ADMIN = cli_principal("os:e2e")
ONE_SHOT = """\
name: one-shot
owner: Digitalisering og IKT
cost_centre: "1000"
bot: noop
manual_minutes_per_item: 2
retry: {max_attempts: 1, backoff: 0s}
"""


@dataclass
class Console:
    url: str
    data: Path
    env: dict[str, str]
    dead_item: int
    sso: OidcProvider


def rpa(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RPA), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("web")
    data = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(data), "XDG_DATA_HOME": str(root / "xdg")}
    demo = rpa(env, "demo", "--data-dir", str(data), "--fresh", "--invoices", "12",
               "--applicants", "8", "--error-share", "0")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    (root / "one-shot.yaml").write_text(ONE_SHOT)
    settings = load_settings(data_dir=data)
    store = open_sql_store(settings, writer="e2e-setup")
    register(store, ADMIN, [root / "one-shot.yaml"])
    accounts.set_password(store, ADMIN, "admin", PASSWORD)  # the demo made the account
    for name, role, owner in (("frida", "finance", None),
                              ("hedda", "owner", "HR service (HR-tjenesten)")):
        accounts.add_account(store, ADMIN, name, role, password=PASSWORD, owner=owner)
    item = store.enqueue("one-shot", [NewItem(reference="ONE-1", payload={"n": 1})],
                         actor="e2e").added["ONE-1"]
    claimed = store.claim("one-shot", "e2e-worker", limit=1)
    assert store.fail_application(claimed[0].id, "e2e-worker", error_type="TimeoutError",
                                  message="the page did not load") == "dead"
    store.close()
    port = free_port()
    sso = OidcProvider(client_id="rpa-console", client_secret="s3cret-for-tests", users={
        "siri": {"name": "Siri Økonomi", "email": "siri@example.no", "groups": ["rpa-finance"]},
        "ola": {"name": "Ola Nordmann", "email": "ola@example.no", "groups": ["everyone"]}},
        redirect_uris=None)  # any loopback callback: the console's port is picked below
    sso.start()
    env |= {"RPA_OIDC_DISCOVERY_URL": sso.discovery_url, "RPA_OIDC_CLIENT_ID": "rpa-console",
            "RPA_OIDC_CLIENT_SECRET": "s3cret-for-tests", "RPA_OIDC_LABEL": "Testkommune ID",
            "RPA_OIDC_ROLES": json.dumps({"rpa-finance": "finance"})}
    with (root / "web.log").open("wb") as log:
        web = subprocess.Popen([str(RPA), "web", "--port", str(port)], env=env, cwd=root,
                               stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, web, root / "web.log")
    except BaseException:
        web.kill()
        raise
    yield Console(url, data, env, item, sso)
    web.terminate()
    web.wait(timeout=15)
    sso.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="nb-NO", bypass_csp=True, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page: Page, console: Console, name: str) -> None:
    page.goto(console.url + "/login")
    page.get_by_label("Brukernavn").fill(name)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()


def axe_violations(page: Page) -> list[dict[str, object]]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def test_log_in_and_see_the_demos_queues(page: Page, console: Console) -> None:
    log_in(page, console, "admin")
    expect(page.get_by_role("heading", name="Oversikt")).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_contain_text("invoice-approval")
    expect(table).to_contain_text("applicant-registration")
    with page.expect_response(lambda r: "/fragments/overview" in r.url, timeout=15_000) as live:
        pass  # htmx (served from /static) asks for the table again every 5 s
    assert live.value.status == 200 and "invoice-approval" in live.value.text()
    expect(page.locator("#queues table")).to_contain_text("applicant-registration")
    cookie = next(c for c in page.context.cookies() if c["name"] == "rpa_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"


def test_a_business_failed_item_shows_its_screenshot(page: Page, console: Console) -> None:
    log_in(page, console, "admin")
    page.goto(console.url + "/items?status=business_failed&process=invoice-approval")
    page.locator("table tbody tr").first.get_by_role("link").first.click()
    shot = page.locator("img.shot").first
    expect(shot).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", shot.element_handle()) > 100
    expect(page.get_by_text("forretningsunntak").first).to_be_visible()


def test_retry_a_dead_item_and_watch_it_finish(page: Page, console: Console) -> None:
    log_in(page, console, "admin")
    page.goto(console.url + "/items?status=dead&process=one-shot")
    page.get_by_label(f"Velg sak {console.dead_item}").check()
    page.get_by_role("button", name="Prøv valgte igjen").click()
    page.get_by_label("Hvorfor (lagres i revisjonsloggen)").fill("the portal is back")
    page.get_by_role("button", name="Ja, prøv igjen").click()
    expect(page.get_by_role("status")).to_contain_text("1 sak(er) satt til nytt forsøk")
    worker = subprocess.Popen([str(RPA), "worker", "--process", "one-shot", "--slots", "1"],
                              env=console.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            page.goto(f"{console.url}/items/{console.dead_item}")
            if page.locator("dd .status").inner_text() == "ferdig":
                break
            time.sleep(1)
        expect(page.locator("dd .status")).to_have_text("ferdig")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    page.goto(f"{console.url}/audit?item={console.dead_item}")
    expect(page.get_by_role("table")).to_contain_text("web:admin")


def test_finance_downloads_the_xlsx_and_its_totals_match_the_cli(page: Page,
                                                                 console: Console) -> None:
    import openpyxl

    log_in(page, console, "frida")
    expect(page.get_by_role("heading", name="Rapporter")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Last ned XLSX").nth(1).click()
    path = info.value.path()
    book = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes()))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert book.sheetnames == ["Rapport", "Metode"]  # downloaded from a bokmål console
    header = rows.index(next(r for r in rows if r and "Kostnad" in r))
    cost = rows[header].index("Kostnad")
    total_nok = sum(r[cost] for r in rows[header + 1:] if r[0] and r[0] != "Sum")
    cli = rpa(console.env, "report", "costs", "--json")
    assert cli.returncode == 0, cli.stderr
    assert round(total_nok * 100) == json.loads(cli.stdout)["total_cost_ore"] > 0


def test_an_owner_cannot_see_another_owners_process(page: Page, console: Console) -> None:
    log_in(page, console, "hedda")
    page.goto(console.url + "/processes")
    expect(page.get_by_role("table")).to_contain_text("applicant-registration")
    expect(page.get_by_role("table")).not_to_contain_text("invoice-approval")
    answer = page.goto(console.url + "/processes/invoice-approval")
    assert answer is not None and answer.status == 404
    page.goto(console.url + "/items")
    expect(page.get_by_role("table")).not_to_contain_text("invoice-approval")


def test_single_sign_on_against_a_local_provider(page: Page, console: Console) -> None:
    page.goto(console.url + "/login")
    page.get_by_role("link", name="Logg inn med Testkommune ID").click()
    page.get_by_label("Username").fill("siri")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Rapporter")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("siri (økonomi)")
    assert console.sso.logins == ["siri"]
    # a directory user whose groups map to no role does not get in
    page.context.clear_cookies()
    page.goto(console.url + "/auth/oidc/login")
    page.get_by_label("Username").fill("ola")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("no role")
    assert page.goto(console.url + "/items") is not None
    expect(page.get_by_label("Passord")).to_be_visible()  # still logged out


def test_a_reviewer_claims_and_resolves_a_task(page: Page, console: Console,
                                              tmp_path: Path) -> None:
    log_in(page, console, "admin")
    page.goto(console.url + "/review")
    expect(page.get_by_role("heading", name="Kontroll")).to_be_visible()
    page.locator("table tbody tr td a").first.click()
    expect(page.get_by_role("heading", name=re.compile("Oppgave til kontroll"))).to_be_visible()
    task_url = page.url
    page.get_by_role("button", name="Ta oppgaven").click()
    expect(page.get_by_text("admin", exact=True)).to_be_visible()
    page.get_by_label("gjort manuelt").check()
    page.get_by_label("Minutter du brukte").fill("4,5")
    page.get_by_role("button", name="Avslutt").click()
    expect(page.get_by_text("gjort manuelt, 4,5 minutter")).to_be_visible()
    page.screenshot(path=str(tmp_path / "review-task.png"), full_page=True)
    assert axe_violations(page) == []
    # the inbox no longer lists it; the report's review column counts the minutes
    page.goto(console.url + "/review")
    assert task_url.rsplit("/", 1)[-1] not in [
        a.inner_text() for a in page.locator("table tbody tr td:first-child a").all()]
    page.goto(console.url + "/reports?by=department")
    expect(page.get_by_role("heading", name="Brutto, kontroll og netto per måned")
           ).to_be_visible()


def test_the_console_works_by_keyboard_alone(page: Page, console: Console) -> None:
    page.goto(console.url + "/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")  # the language link
    page.keyboard.press("Tab")
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Oversikt")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    assert page.evaluate("document.activeElement.id") == "main"


PAGES = ["/", "/items", "/items?status=business_failed", "/processes",
         "/processes/invoice-approval", "/upload", "/workers", "/reports", "/audit",
         "/candidates", "/items/1", "/accounts", "/password", "/review",
         "/review?status=all&overdue=1", "/review/1", "/reports?by=department"]


def test_every_page_passes_axe(page: Page, console: Console) -> None:
    page.set_content('<html lang="en"><title>t</title><body><input></body></html>')
    assert {v["id"] for v in axe_violations(page)} == {"label"}  # axe does find faults
    page.goto(console.url + "/login")
    assert axe_violations(page) == []
    log_in(page, console, "admin")
    for path in PAGES:
        for lang in ("nb", "en"):
            page.goto(f"{console.url}{path}{'&' if '?' in path else '?'}lang={lang}")
            found = axe_violations(page)
            assert found == [], (path, lang, [(v["id"], v["help"]) for v in found])
    page.goto(console.url + "/items?status=business_failed")
    page.locator("table tbody input[type=checkbox]").first.check()
    page.get_by_role("button", name="Retry chosen").click()
    assert axe_violations(page) == []
