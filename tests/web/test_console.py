"""The console as a browser uses it: login, sessions, forms with CSRF, pages, downloads."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from orchestrator.reports import service
from orchestrator.services import accounts
from tests.web.conftest import ADMIN, PASSWORD, ROOT, Web, csrf_of


def test_login_sets_a_guarded_cookie_and_logout_ends_the_session(web: Web) -> None:
    client = web.login("otto")
    cookie = next(c for c in client.cookies.jar if c.name == "rpa_session")
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"
    home = client.get("/")
    assert home.status_code == 200 and "invoice-approval" in home.text
    session = cookie.value
    client.post("/logout", data={"csrf": csrf_of(home.text)})
    stranger = TestClient(web.client.app, base_url="https://testserver")
    stranger.cookies.set("rpa_session", session)
    replay = stranger.get("/", headers={"accept": "text/html"})
    assert replay.status_code == 401
    events = [e["action"] for e in web.store.audit_events(action="account.*", limit=10)]
    assert "account.login" in events and "account.logout" in events


def test_security_headers(web: Web) -> None:
    answer = web.client.get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_five_wrong_passwords_lock_the_account(web: Web) -> None:
    client = web.client
    for _ in range(5):
        form = client.get("/login")
        answer = client.post("/login", data={"name": "frank", "password": "wrong password!",
                                             "csrf": csrf_of(form.text)})
        assert answer.status_code == 401
    form = client.get("/login")
    answer = client.post("/login", data={"name": "frank", "password": PASSWORD,
                                         "csrf": csrf_of(form.text)})
    assert answer.status_code == 401 and "kontoen er låst" in answer.text
    locked = web.store.audit_events(action="account.locked", limit=1)[0]
    assert json.loads(locked["details"])["account"] == "frank"


def test_logins_from_one_address_are_rate_limited(web: Web) -> None:
    statuses = []
    for n in range(12):
        form = web.client.get("/login")
        statuses.append(web.client.post("/login", data={
            "name": f"nobody{n}", "password": "x" * 12, "csrf": csrf_of(form.text)}).status_code)
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_a_disabled_account_is_logged_out_at_once(web: Web) -> None:
    client = web.login("otto")
    assert client.get("/items").status_code == 200
    accounts.set_disabled(web.store, ADMIN, "otto", True)
    assert client.get("/items", headers={"accept": "text/html"}).status_code == 401


def test_language_and_number_format(web: Web) -> None:
    client = web.login("ada")
    web.store.enqueue("invoice-approval", [
        __import__("queues").NewItem(reference=f"N-{n}",
                                     payload={"invoice_number": "INV-2026-5555"})
        for n in range(1500)], actor="test")
    nb = client.get("/?lang=nb").text
    assert "Oversikt" in nb and 'lang="nb"' in nb and "1\xa0504" in nb
    en = client.get("/?lang=en").text
    assert "Overview" in en and "1,504" in en
    assert "Overview" in client.get("/").text  # the choice is remembered


def test_retry_from_the_list_with_a_confirmation(web: Web) -> None:
    client = web.login("otto")
    listing = client.get("/items?status=business_failed")
    failed = web.items["failed"]
    assert f'value="{failed}"' in listing.text
    confirm = client.post("/items/confirm", data={"csrf": csrf_of(listing.text),
                                                  "action": "retry", "ids": [str(failed)]})
    assert confirm.status_code == 200 and "Ja, prøv igjen" in confirm.text
    assert web.store.get_item(failed).status == "business_failed"  # nothing yet
    done = client.post("/items/operate", data={"csrf": csrf_of(confirm.text),
                                               "action": "retry", "ids": [str(failed)],
                                               "reason": "amount fixed in the ERP"})
    assert done.status_code == 200
    assert web.store.get_item(failed).status == "new"
    event = web.store.audit_events(item_id=failed, action="item.retried")[0]
    assert event["actor"] == "web:otto"


def test_upload_shows_the_bad_line_and_registers_a_good_file(web: Web) -> None:
    client = web.login("fiona")
    form = client.get("/upload")
    bad = b"name: invoice-approval\nowner: x\nbot: invoice-approval\nlease: 1s\n"
    answer = client.post("/upload", data={"csrf": csrf_of(form.text)},
                         files={"file": ("../../etc/passwd.yaml", bad, "application/yaml")})
    assert answer.status_code == 422
    assert re.search(r"line \d", answer.text) and "passwd.yaml" in answer.text
    good = (ROOT / "config" / "processes" / "invoice-approval.yaml").read_bytes()
    answer = client.post("/upload", data={"csrf": csrf_of(form.text)},
                         files={"file": ("invoice.yaml", good, "application/yaml")})
    assert answer.status_code == 200 and "invoice-approval" in answer.text
    other = (ROOT / "config" / "processes" / "applicant-registration.yaml").read_bytes()
    refused = client.post("/upload", data={"csrf": csrf_of(form.text)},
                          files={"file": ("hr.yaml", other, "application/yaml")})
    assert refused.status_code == 422 and "not yours" in refused.text


def test_finance_lands_on_reports_and_the_xlsx_matches_the_report(web: Web) -> None:
    client = web.login("frank")
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/reports"
    page = client.get("/reports?period=this-year")
    assert page.status_code == 200 and "<svg" in page.text
    download = client.get("/reports/download?kind=costs&format=xlsx&period=this-year")
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["Rapport", "Metode"]  # the console's language, bokmål
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r and "Kostnad" in r))
    cost = rows[header].index("Kostnad")
    total = sum(r[cost] for r in rows[header + 1:] if r[0] and r[0] != "Sum")
    outcome = service.costs_report(web.store, "this-year", settings=web.settings)
    assert total * 100 == outcome.result.total_cost_ore > 0
    csv = client.get("/reports/download?kind=hours&format=csv&period=this-year")
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("key")


def test_an_owner_cannot_open_another_owners_process_or_item(web: Web) -> None:
    client = web.login("fiona")
    page = client.get("/processes")
    assert "invoice-approval" in page.text and "applicant-registration" not in page.text
    assert client.get("/processes/applicant-registration",
                      headers={"accept": "text/html"}).status_code == 404
    assert client.get(f"/items/{web.items['hr1']}", headers={"accept": "text/html"}
                      ).status_code == 404


def test_audit_page_and_verify(web: Web) -> None:
    client = web.login("aud")
    page = client.get("/audit?action=account.*")
    assert page.status_code == 200 and "account.added" in page.text
    verified = client.post("/audit/verify", data={"csrf": csrf_of(page.text)})
    assert verified.status_code == 200 and "OK" in verified.text


def test_candidates_page_adds_one(web: Web) -> None:
    client = web.login("frank")
    page = client.get("/candidates")
    answer = client.post("/candidates", data={
        "csrf": csrf_of(page.text), "name": "travel-claims", "owner": "Finance",
        "volume_per_month": "400", "minutes_per_item": "6,5", "rule_based_share": "80%",
        "stability": "high", "digital": "yes"})
    assert answer.status_code == 200 and "travel-claims" in answer.text
    bad = client.post("/candidates", data={
        "csrf": csrf_of(page.text), "name": "x", "owner": "y", "volume_per_month": "NaN",
        "minutes_per_item": "1", "rule_based_share": "0.5", "stability": "high"},
        headers={"accept": "text/html"})
    assert bad.status_code == 422


def test_pause_and_resume_from_the_process_page(web: Web) -> None:
    client = web.login("otto")
    page = client.get("/processes/invoice-approval")
    assert "Sett på pause" in page.text
    client.post("/processes/invoice-approval/pause", data={"csrf": csrf_of(page.text)})
    assert web.store.get_process("invoice-approval").paused
    assert web.store.audit_events(action="process.paused", limit=1)[0]["actor"] == "web:otto"


def test_a_one_time_login_link_works_once(web: Web) -> None:
    secret = accounts.one_time_login(web.store, ADMIN, "ada")
    assert web.client.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"}
                          ).status_code == 401  # not an API token
    browser = TestClient(web.client.app, base_url="https://testserver")
    first = browser.get(f"/login/once/{secret}", follow_redirects=False)
    assert first.status_code == 303 and "rpa_session" in first.headers["set-cookie"]
    assert browser.get("/items").status_code == 200
    again = TestClient(web.client.app, base_url="https://testserver").get(
        f"/login/once/{secret}")
    assert again.status_code == 401
    assert web.client.get("/login/once/rpa_forged", headers={"accept": "text/html"}
                          ).status_code == 401


def test_an_owner_may_not_point_a_process_at_new_code(web: Web) -> None:
    client = web.login("fiona")
    form = client.get("/upload")
    text = (ROOT / "config" / "processes" / "invoice-approval.yaml").read_text("utf-8")
    text += "\ntriggers:\n  - interval: 1h\nfeeder: orchestrator.settings:load_settings\n"
    answer = client.post("/upload", data={"csrf": csrf_of(form.text)},
                         files={"file": ("invoice.yaml", text.encode(), "application/yaml")})
    assert answer.status_code == 422 and "administrator" in answer.text
    assert "feeder" not in web.store.get_process("invoice-approval").spec.definition


def test_an_admin_invites_a_person_who_then_sets_a_password(web: Web) -> None:
    admin = web.login("ada")
    page = admin.get("/accounts")
    assert "otto" in page.text
    invited = admin.post("/accounts", data={"csrf": csrf_of(page.text), "name": "nina",
                                            "role": "owner", "owner": "HR service"})
    assert invited.status_code == 200, invited.text[:500]
    wizard = admin.post("/accounts", data={"csrf": csrf_of(page.text), "name": "merlin",
                                           "role": "wizard"}, headers={"accept": "text/html"})
    assert wizard.status_code == 422 and "unknown role" in wizard.text
    assert web.store.accounts.get("merlin") is None
    link = re.search(r'value="(https://testserver/login/once/[^"]+)"', invited.text)
    assert link is not None
    nina = TestClient(web.client.app, base_url="https://testserver")
    assert nina.get(link.group(1).removeprefix("https://testserver"),
                    follow_redirects=False).status_code == 303
    form = nina.get("/password")
    changed = nina.post("/password", data={"csrf": csrf_of(form.text), "current": "",
                                           "new": "nina's own password", "again":
                                           "nina's own password"}, follow_redirects=False)
    assert changed.status_code == 303
    assert nina.get("/items", headers={"accept": "text/html"}).status_code == 401  # logged out
    web.login("nina", "nina's own password")
    again = web.login("nina", "nina's own password")
    form = again.get("/password")
    wrong = again.post("/password", data={"csrf": csrf_of(form.text), "current": "guess",
                                          "new": "x" * 12, "again": "x" * 12},
                       headers={"accept": "text/html"})
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    page = admin.get("/accounts")
    admin.post("/accounts/nina/disable", data={"csrf": csrf_of(page.text)})
    assert web.store.accounts.get("nina").disabled  # type: ignore[union-attr]
    assert again.get("/items", headers={"accept": "text/html"}).status_code == 401


def test_an_owner_may_not_name_a_bot_from_the_bots_folder(
        web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "robots" / "owner_bots"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("", encoding="utf-8")
    (folder / "sneaky.py").write_text(
        "from bots.builtin.noop import NoopBot\n\nclass Sneaky(NoopBot):\n    name = 'sneaky'\n",
        encoding="utf-8")
    monkeypatch.setenv("RPA_BOTS_PATH", str(tmp_path / "robots"))
    client = web.login("fiona")
    form = client.get("/upload")
    text = (ROOT / "config" / "processes" / "invoice-approval.yaml").read_text("utf-8")
    text = text.replace("bot: invoice-approval", "bot: owner_bots.sneaky:Sneaky")
    answer = client.post("/upload", data={"csrf": csrf_of(form.text)},
                         files={"file": ("invoice.yaml", text.encode(), "application/yaml")})
    assert answer.status_code == 422 and "administrator" in answer.text, answer.text[:500]
    assert web.store.get_process("invoice-approval").spec.bot == "invoice-approval"
