"""The REST API, endpoint by endpoint, against a real SQLite file and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import FINANCE_OWNER, ROOT, Web


@pytest.fixture
def web(web_any: Web) -> Web:
    return web_any


def test_health_needs_no_login(web: Web) -> None:
    assert web.client.get("/api/v1/health").json() == {"status": "ok"}


def test_me_names_the_token_and_role(web: Web) -> None:
    me = web.client.get("/api/v1/me", headers=web.as_("fiona")).json()
    assert me["role"] == "owner" and me["owner"] == FINANCE_OWNER
    assert me["actor"].startswith("token:fiona#")


def test_status_counts_each_queue(web: Web) -> None:
    rows = {q["process"]: q for q in
            web.client.get("/api/v1/status", headers=web.as_("otto")).json()["queues"]}
    assert rows["invoice-approval"]["new"] == 4  # five added, one failed
    assert rows["applicant-registration"]["waiting"] == 1
    for key in ("per_minute", "seconds_to_empty", "oldest_waiting_seconds", "sla_at_risk",
                "sla_broken", "active_workers"):
        assert key in rows["invoice-approval"]


def test_enqueue_one_then_the_same_reference_again(web: Web) -> None:
    body = {"items": [{"reference": "API-1", "payload": {"invoice_number": "INV-2026-9000"}}]}
    first = web.client.post("/api/v1/processes/invoice-approval/items", json=body,
                            headers=web.as_("otto"))
    assert first.status_code == 200, first.text
    assert first.json()["added"] == 1
    again = web.client.post("/api/v1/processes/invoice-approval/items", json=body,
                            headers=web.as_("otto")).json()
    assert again["added"] == 0 and again["already_present"] == 1
    assert again["existing_ids"]["API-1"] == first.json()["ids"]["API-1"]
    event = web.store.audit_events(limit=1, action="items.enqueued")[0]
    assert event["actor"].startswith("token:otto#")


def test_bulk_enqueue_is_all_or_nothing_and_names_the_bad_index(web: Web) -> None:
    items = [{"reference": f"B-{n}", "payload": {"invoice_number": f"INV-2026-{2000 + n}"}}
             for n in range(50)]
    items[37]["payload"] = {"amount": 5}  # no invoice_number
    answer = web.client.post("/api/v1/processes/invoice-approval/items", json={"items": items},
                             headers=web.as_("ada"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["index"] == 37 and "items[37]" in problem["detail"]
    assert "invoice_number" in problem["detail"]
    listed = web.client.get("/api/v1/items?process=invoice-approval&limit=500",
                            headers=web.as_("ada")).json()["items"]
    assert not [i for i in listed if i["reference"].startswith("B-")]


def test_items_page_through_with_a_cursor(web: Web) -> None:
    web.client.post("/api/v1/processes/invoice-approval/items", headers=web.as_("ada"), json={
        "items": [{"reference": f"P-{n}", "payload": {"invoice_number": "INV-2026-3000"}}
                  for n in range(23)]})
    seen: list[int] = []
    url = "/api/v1/items?limit=10"
    while url:
        page = web.client.get(url, headers=web.as_("ada")).json()
        seen += [i["id"] for i in page["items"]]
        url = f"/api/v1/items?limit=10&cursor={page['next_cursor']}" if page["next_cursor"] \
            else ""
    assert len(seen) == len(set(seen)) == 23 + 6


def test_item_payload_is_masked_for_an_auditor_without_the_grant(web: Web) -> None:
    item_id = web.items["hr1"]
    plain = web.client.get(f"/api/v1/items/{item_id}", headers=web.as_("audp")).json()
    masked = web.client.get(f"/api/v1/items/{item_id}", headers=web.as_("aud")).json()
    assert plain["payload"]["national_id"] == "01010112345"
    assert masked["payload"] == dict.fromkeys(plain["payload"], "•••")
    assert "01010112345" not in json.dumps(masked)


def test_retry_and_abandon_are_audited_as_the_user(web: Web) -> None:
    failed = web.items["failed"]
    done = web.client.post("/api/v1/items/retry", json={"ids": [failed, web.items["inv5"]],
                                                        "reason": "fixed the amount"},
                           headers=web.as_("otto")).json()
    assert done == {"done": [failed], "skipped": [web.items["inv5"]]}
    assert web.store.get_item(failed).status == "new"
    gone = web.client.post("/api/v1/items/abandon", json={"ids": [failed], "reason": "dup"},
                           headers=web.as_("otto")).json()
    assert gone["done"] == [failed]
    actors = {e["action"]: e["actor"] for e in web.store.audit_events(item_id=failed)}
    assert actors["item.retried"].startswith("token:otto#")
    assert actors["item.abandoned"].startswith("token:otto#")


def test_abandon_needs_a_reason(web: Web) -> None:
    answer = web.client.post("/api/v1/items/abandon", json={"ids": [web.items["inv2"]]},
                             headers=web.as_("otto"))
    assert answer.status_code == 422 and "reason" in answer.json()["detail"]
    assert web.store.get_item(web.items["inv2"]).status == "new"


def test_pause_and_resume(web: Web) -> None:
    assert web.client.post("/api/v1/processes/invoice-approval/pause",
                           headers=web.as_("otto")).json()["paused"] is True
    assert web.store.get_process("invoice-approval").paused
    web.client.post("/api/v1/processes/invoice-approval/resume", headers=web.as_("otto"))
    assert not web.store.get_process("invoice-approval").paused


def test_register_a_process_file_over_the_api(web: Web) -> None:
    text = (ROOT / "config" / "processes" / "invoice-approval.yaml").read_text("utf-8")
    answer = web.client.post("/api/v1/processes", content=text.encode(),
                             headers=web.as_("ada") | {"content-type": "application/yaml"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["processes"] == [{"name": "invoice-approval", "created": False}]


def test_register_names_the_bad_line(web: Web) -> None:
    bad = "name: x\nowner: y\nbot: invoice-approval\nmanual_minutes_per_item: -3\n"
    answer = web.client.post("/api/v1/processes", content=bad.encode(),
                             headers=web.as_("ada") | {"content-type": "application/yaml"})
    assert answer.status_code == 422
    assert "line 4" in answer.json()["detail"]
    assert "x" not in {p["name"] for p in web.client.get(
        "/api/v1/processes", headers=web.as_("ada")).json()}


def test_reports_match_the_report_service(web: Web) -> None:
    hours = web.client.get("/api/v1/reports/hours?period=this-year&by=process",
                           headers=web.as_("frank")).json()
    costs = web.client.get("/api/v1/reports/costs?period=this-year",
                           headers=web.as_("frank")).json()
    assert hours["group_by"] == "process" and "rows" in hours
    # one business exception at 2 estimated minutes, nothing done yet: net -2 min
    invoices = next(r for r in hours["rows"] if r["key"] == "invoice-approval")
    assert (invoices["gross_hours"], invoices["review_hours"],
            invoices["review_estimated_hours"], invoices["freed_hours"]) == \
        ("0.00", "0.03", "0.03", "-0.03")
    by_unit = web.client.get("/api/v1/reports/hours?by=sector", headers=web.as_("frank"))
    assert by_unit.status_code == 200 and by_unit.json()["group_by"] == "sector"
    assert web.client.get("/api/v1/reports/hours?by=planet",
                          headers=web.as_("frank")).status_code == 422
    assert costs["total_cost_ore"] == costs["allocated_ore"] + costs["unallocated_ore"]


def test_an_owner_sees_only_their_own_processes_and_items(web: Web) -> None:
    names = {p["name"] for p in web.client.get("/api/v1/processes",
                                               headers=web.as_("fiona")).json()}
    assert names == {"invoice-approval"}
    other = web.client.get(f"/api/v1/items/{web.items['hr1']}", headers=web.as_("fiona"))
    assert other.status_code == 404
    assert web.client.get("/api/v1/processes/applicant-registration",
                          headers=web.as_("fiona")).status_code == 404
    listed = web.client.get("/api/v1/items", headers=web.as_("fiona")).json()["items"]
    assert {i["process"] for i in listed} == {"invoice-approval"}
    queues = web.client.get("/api/v1/status", headers=web.as_("fiona")).json()["queues"]
    assert [q["process"] for q in queues] == ["invoice-approval"]
    enqueue = web.client.post("/api/v1/processes/applicant-registration/items",
                              headers=web.as_("fiona"),
                              json={"items": [{"reference": "z", "payload": {}}]})
    assert enqueue.status_code == 404


def test_audit_events_and_verify(web: Web) -> None:
    events = web.client.get("/api/v1/audit/events?action=account.*&limit=100",
                            headers=web.as_("aud")).json()
    assert {e["details"]["account"] for e in events if e["action"] == "account.added"} \
        >= {"ada", "fiona"}
    verdict = web.client.post("/api/v1/audit/verify", headers=web.as_("aud")).json()
    assert verdict["ok"] is True and verdict["events"] > 10


def test_candidates_list_and_add(web: Web) -> None:
    added = web.client.post("/api/v1/candidates", headers=web.as_("frank"), json={
        "name": "travel-claims", "owner": FINANCE_OWNER, "volume_per_month": 400,
        "minutes_per_item": 6, "rule_based_share": 0.8, "stability": "high", "digital": True})
    assert added.status_code == 201, added.text
    rows = web.client.get("/api/v1/candidates", headers=web.as_("frank")).json()
    assert [r["name"] for r in rows] == ["travel-claims"]


def test_workers_list(web: Web) -> None:
    assert web.client.get("/api/v1/workers", headers=web.as_("otto")).json() == []


def test_openapi_document_lists_the_api(web: Web) -> None:
    doc = web.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/processes/{name}/items" in doc["paths"]
    assert "requestBody" in doc["paths"]["/api/v1/processes/{name}/items"]["post"]


def test_review_inbox_claim_and_resolve_through_the_api(web_any: Web) -> None:
    web = web_any
    tasks = web.client.get("/api/v1/review/tasks", headers=web.as_("otto")).json()["tasks"]
    [task] = [t for t in tasks if t["item_id"] == web.items["failed"]]
    assert task["group"] == "faktura-kontroll" and task["code"] == "AMOUNT_MISMATCH"
    url = f"/api/v1/review/tasks/{task['id']}"
    # an owner of another process does not learn the task exists
    assert web.client.get(url, headers=web.as_("hans")).status_code == 404
    assert web.client.post(f"{url}/claim", headers=web.as_("otto")).json()["claimed_by"] == "otto"
    taken = web.client.post(f"{url}/resolve", headers=web.as_("ada"),
                            json={"outcome": "done_by_hand", "minutes": 4})
    assert taken.status_code == 409 and "claimed by otto" in taken.json()["detail"]
    for body, status in [({"outcome": "done_by_hand", "minutes": -1}, 422),
                         ({"outcome": "no_action"}, 422),
                         ({"outcome": "fixed_and_retried", "payload": {"amount": "x"}}, 422),
                         ({"outcome": "shrug"}, 422),
                         ({"outcome": "done_by_hand", "extra": 1}, 422)]:
        answer = web.client.post(f"{url}/resolve", headers=web.as_("otto"), json=body)
        assert answer.status_code == status, (body, answer.text)
    bad = web.client.post(f"{url}/resolve", headers={**web.as_("otto"),
                                                     "content-type": "application/json"},
                          content=b'{"outcome": "done_by_hand", "minutes": NaN}')
    assert bad.status_code == 400
    fixed = web.client.post(f"{url}/resolve", headers=web.as_("otto"), json={
        "outcome": "fixed_and_retried", "minutes": 2,
        "payload": {"invoice_number": "INV-2026-1001", "amount": 101}})
    assert fixed.status_code == 200 and fixed.json()["status"] == "resolved"
    assert web.client.get(f"/api/v1/items/{web.items['failed']}",
                          headers=web.as_("otto")).json()["status"] == "new"
    again = web.client.post(f"{url}/resolve", headers=web.as_("otto"),
                            json={"outcome": "no_action", "reason": "x"})
    assert again.status_code == 409
