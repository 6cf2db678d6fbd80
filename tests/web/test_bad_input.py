"""Bad requests get a clear 4xx as problem+json and write nothing."""

from __future__ import annotations

import time

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.services import accounts
from queues import ItemFilter
from tests.web.conftest import ADMIN, Web

ENQUEUE = "/api/v1/processes/invoice-approval/items"


def count(web: Web) -> int:
    return len(web.store.list_items(ItemFilter(limit=0)))


def post_raw(web: Web, body: bytes, who: str = "ada", kind: str = "application/json"
             ) -> httpx2.Response:
    return web.client.post(ENQUEUE, content=body,
                            headers=web.as_(who) | {"content-type": kind})


@pytest.mark.parametrize(("body", "says"), [
    (b"{", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"items": []}', "items"),
    (b'{"items": [{"reference": "a", "payload": {"x": NaN}}]}', "NaN"),
    (b'{"items": [{"reference": "a", "payload": {"x": Infinity}}]}', "Infinity"),
    (b'{"items": [{"reference": "a", "reference": "b", "payload": {}}]}', "twice"),
    (b'{"items": [{"reference": true, "payload": {}}]}', "reference"),
    (b'{"items": [{"reference": 1.5, "payload": {}}]}', "reference"),
    (b'{"items": [{"reference": "a", "payload": []}]}', "payload"),
    (b'{"items": [{"reference": "a", "payload": {}, "extra": 1}]}', "extra"),
    (b'{"items": [{"reference": "a", "payload": {}, "priority": "urgent"}]}', "priority"),
    (b'{"items": [{"reference": "a", "payload": {}, "deadline": "2026-01-01T00:00"}]}', "zone"),
    (b'{"items": [{"reference": "", "payload": {"invoice_number": "INV-2026-1111"}}]}',
     "reference"),
    (b'{"items": [{"reference": "a\\u0000b", "payload": {"invoice_number": "INV-2026-1111"}}]}',
     "NUL"),
    (b'{"items": [{"reference": "a", "payload": {"invoice_number": "\\ud800"}}]}',
     "surrogate"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested"),
])
def test_a_bad_body_is_refused_and_nothing_is_written(web: Web, body: bytes, says: str) -> None:
    before = count(web)
    answer = post_raw(web, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says.lower() in answer.json()["detail"].lower(), answer.json()
    assert count(web) == before


def test_a_body_over_the_limit_gets_413(web: Web) -> None:
    big = b'{"items": [{"reference": "a", "payload": {"x": "' + b"y" * 11_000_000 + b'"}}]}'
    answer = post_raw(web, big)
    assert answer.status_code == 413
    assert "bytes" in answer.json()["detail"]


def test_the_wrong_content_type_gets_415(web: Web) -> None:
    assert post_raw(web, b"reference=a", kind="application/x-www-form-urlencoded"
                    ).status_code == 415


def test_an_unknown_process_gets_404(web: Web) -> None:
    answer = web.client.post("/api/v1/processes/no-such/items", headers=web.as_("ada"),
                             json={"items": [{"reference": "a", "payload": {}}]})
    assert answer.status_code == 404 and "no-such" in answer.json()["detail"]


def test_sql_and_script_strings_are_stored_as_given_and_shown_escaped(web: Web) -> None:
    nasty = "x'); DROP TABLE work_items; -- <script>alert(1)</script>"
    answer = web.client.post(ENQUEUE, headers=web.as_("ada"), json={"items": [
        {"reference": nasty, "payload": {"invoice_number": "INV-2026-4242", "note": nasty}}]})
    assert answer.status_code == 200, answer.text
    item_id = answer.json()["ids"][nasty]
    assert web.store.get_item(item_id).payload["note"] == nasty
    listed = web.client.get(f"/api/v1/items?reference={nasty}", headers=web.as_("ada")).json()
    assert [i["id"] for i in listed["items"]] == [item_id]
    client = web.login("ada")
    page = client.get(f"/items/{item_id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    search = client.get("/items", params={"error_code": nasty, "process": "invoice-approval"})
    assert search.status_code == 200 and "<script>alert" not in search.text


def test_bad_query_parameters_get_422(web: Web) -> None:
    for url in ("/api/v1/items?limit=0", "/api/v1/items?limit=100000",
                "/api/v1/items?status=bogus", "/api/v1/items?since=yesterday",
                "/api/v1/items?cursor=%00%00", "/api/v1/items/0", "/api/v1/items/abc",
                "/api/v1/reports/hours?by=nothing", "/api/v1/reports/hours?period=1999-13",
                "/api/v1/items?since=2026-01-01T00:00:00"):
        answer = web.client.get(url, headers=web.as_("ada"))
        assert 400 <= answer.status_code < 500, (url, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", url
        assert "Traceback" not in answer.text


def test_an_expired_or_revoked_token_gets_401(web: Web) -> None:
    text, _ = accounts.create_token(web.store, ADMIN, "otto", expires_in=1)
    assert web.client.get("/api/v1/me", headers={"authorization": f"Bearer {text}"}
                          ).status_code == 200
    time.sleep(1.1)
    assert web.client.get("/api/v1/me", headers={"authorization": f"Bearer {text}"}
                          ).status_code == 401
    ada_token = web.store.accounts.tokens("ada")[0].id
    assert accounts.revoke_token(web.store, ADMIN, ada_token)
    answer = web.client.get("/api/v1/me", headers=web.as_("ada"))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    for header in ("Bearer rpa_notatoken", "Basic YWRhOnB3", "Bearer", "rpa_x"):
        assert web.client.get("/api/v1/me", headers={"authorization": header}
                              ).status_code == 401


def test_a_post_without_the_csrf_token_is_refused(web: Web) -> None:
    client = web.login("otto")
    before = web.store.get_process("invoice-approval").paused
    answer = client.post("/processes/invoice-approval/pause", data={},
                         headers={"accept": "text/html"})
    assert answer.status_code == 403
    assert web.store.get_process("invoice-approval").paused == before
    api = client.post("/api/v1/processes/invoice-approval/pause")  # cookie, no header
    assert api.status_code == 403
    wrong = client.post("/processes/invoice-approval/pause", data={"csrf": "guess"})
    assert wrong.status_code == 403
    assert web.store.get_process("invoice-approval").paused == before


def test_a_login_post_without_its_form_token_is_refused(web: Web) -> None:
    answer = web.client.post("/login", data={"name": "ada", "password": "x" * 20,
                                             "csrf": "made-up"})
    assert answer.status_code == 403


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda kids: st.lists(kids, max_size=4)
                 | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                 max_leaves=12).map(lambda v: __import__("json").dumps({"items": v}).encode()),
))
def test_no_body_makes_a_server_error(web: Web, body: bytes) -> None:
    answer = post_raw(web, body)
    assert answer.status_code < 500, answer.text
