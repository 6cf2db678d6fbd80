"""Every route refuses a caller without credentials (401) and a role without the right (403).

The expected rights are written out here from the issue's role table, not read
from the code, so a route that forgets its check fails this test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from tests.web.conftest import Web

OPEN = {  # (method, path): why it needs no login
    ("GET", "/api/v1/health"): "liveness",
    ("GET", "/login"): "the login form", ("POST", "/login"): "the login itself",
    ("GET", "/login/once/{secret}"): "a one-time login link",
    ("GET", "/auth/oidc/login"): "single sign-on", ("GET", "/auth/oidc/callback"): "its return",
    ("GET", "/api/v1/openapi.json"): "the API's description",
    ("GET", "/api/docs"): "the API's docs",
}
ALL = {"ada", "otto", "fiona", "hans", "frank", "aud", "audp"}
READERS = {"ada", "otto", "fiona", "hans", "aud", "audp"}  # queues, items, processes
OPERATORS = {"ada", "otto", "fiona", "hans"}  # retry, abandon, enqueue
REPORTS = {"ada", "fiona", "hans", "frank", "aud", "audp"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/me"): ALL,
    ("GET", "/api/v1/status"): READERS,
    ("GET", "/api/v1/workers"): {"ada", "otto", "aud", "audp"},
    ("GET", "/api/v1/processes"): READERS,
    ("GET", "/api/v1/processes/{name}"): READERS,
    ("POST", "/api/v1/processes/{name}/pause"): {"ada", "otto"},
    ("POST", "/api/v1/processes/{name}/resume"): {"ada", "otto"},
    ("POST", "/api/v1/processes"): {"ada", "fiona", "hans"},
    ("POST", "/api/v1/processes/{name}/items"): OPERATORS,
    ("GET", "/api/v1/items"): READERS,
    ("GET", "/api/v1/items/{item_id}"): READERS,
    ("POST", "/api/v1/items/retry"): OPERATORS,
    ("POST", "/api/v1/items/abandon"): OPERATORS,
    ("GET", "/api/v1/reports/hours"): REPORTS,
    ("GET", "/api/v1/reports/costs"): REPORTS,
    ("GET", "/api/v1/audit/events"): {"ada", "aud", "audp"},
    ("POST", "/api/v1/audit/verify"): {"ada", "aud", "audp"},
    ("GET", "/api/v1/candidates"): {"ada", "fiona", "hans", "frank", "aud", "audp"},
    ("POST", "/api/v1/candidates"): {"ada", "frank"},
    # console pages
    ("GET", "/"): ALL,  # everyone lands somewhere: finance is sent to the reports
    ("GET", "/fragments/overview"): READERS,
    ("GET", "/items"): READERS, ("GET", "/items/{item_id}"): READERS,
    ("GET", "/items/{item_id}/evidence/{attempt}/{kind}"): {"ada", "otto", "fiona", "hans",
                                                            "audp"},
    ("POST", "/items/confirm"): OPERATORS, ("POST", "/items/operate"): OPERATORS,
    ("GET", "/processes"): READERS, ("GET", "/processes/{name}"): READERS,
    ("POST", "/processes/{name}/pause"): {"ada", "otto"},
    ("POST", "/processes/{name}/resume"): {"ada", "otto"},
    ("GET", "/upload"): {"ada", "fiona", "hans"}, ("POST", "/upload"): {"ada", "fiona", "hans"},
    ("GET", "/workers"): {"ada", "otto", "aud", "audp"},
    ("GET", "/reports"): REPORTS, ("GET", "/reports/download"): REPORTS,
    ("GET", "/audit"): {"ada", "aud", "audp"}, ("POST", "/audit/verify"): {"ada", "aud", "audp"},
    ("GET", "/candidates"): {"ada", "fiona", "hans", "frank", "aud", "audp"},
    ("POST", "/candidates"): {"ada", "frank"},
    ("POST", "/logout"): ALL,
    ("GET", "/accounts"): {"ada"}, ("POST", "/accounts"): {"ada"},
    ("POST", "/accounts/{name}/link"): {"ada"}, ("POST", "/accounts/{name}/disable"): {"ada"},
    ("POST", "/accounts/{name}/enable"): {"ada"},
    ("GET", "/password"): ALL, ("POST", "/password"): ALL,
    # the review inbox: owners see their own processes' tasks (hans gets 404 for Finance's)
    ("GET", "/api/v1/review/tasks"): READERS,
    ("GET", "/api/v1/review/tasks/{task_id}"): READERS,
    ("POST", "/api/v1/review/tasks/{task_id}/claim"): OPERATORS,
    ("POST", "/api/v1/review/tasks/{task_id}/unclaim"): OPERATORS,
    ("POST", "/api/v1/review/tasks/{task_id}/resolve"): OPERATORS,
    ("GET", "/review"): READERS, ("GET", "/review/{task_id}"): READERS,
    ("POST", "/review/{task_id}/claim"): OPERATORS,
    ("POST", "/review/{task_id}/unclaim"): OPERATORS,
    ("POST", "/review/{task_id}/resolve"): OPERATORS,
}


def flat(items: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every route, through FastAPI's included routers."""
    found = []
    for route in items:
        if isinstance(route, Mount):
            continue
        if hasattr(route, "original_router"):  # an included router
            found += flat(route.original_router.routes, prefix + route.include_context.prefix)
            continue
        assert isinstance(route, APIRoute | Route), route
        found += [(method, prefix + route.path) for method in sorted(route.methods or ())
                  if method != "HEAD"]
    return found


def routes(web: Web) -> list[tuple[str, str]]:
    return flat(web.client.app.routes)  # type: ignore[attr-defined]


def concrete(web: Web, path: str, who: str) -> str:
    item = web.items["hr1"] if who == "hans" else web.items["failed"]
    name = "applicant-registration" if who == "hans" else "invoice-approval"
    return (path.replace("{name}", name).replace("{item_id}", str(item))
            .replace("{attempt}", "1").replace("{kind}", "screenshot")
            .replace("{task_id}", "1"))


def test_every_route_is_in_the_table(web: Web) -> None:
    """A new route must say here who may use it."""
    unknown = set(routes(web)) - set(OPEN) - set(ALLOWED)
    assert not unknown, f"routes without expected rights: {sorted(unknown)}"


def test_without_credentials_every_route_answers_401(web: Web) -> None:
    for method, path in routes(web):
        if (method, path) in OPEN:
            continue
        answer = web.client.request(method, concrete(web, path, "ada"))
        assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
    static = web.client.get("/static/console.css")
    assert static.status_code == 200


@pytest.mark.parametrize("who", sorted(ALL))
def test_a_role_without_the_right_gets_403(web: Web, who: str) -> None:
    for (method, path), allowed in ALLOWED.items():
        answer = web.client.request(method, concrete(web, path, who), headers=web.as_(who))
        if who in allowed:
            assert answer.status_code not in (401, 403), \
                f"{who} {method} {path}: {answer.status_code} {answer.text[:200]}"
        else:
            assert answer.status_code == 403, \
                f"{who} {method} {path}: {answer.status_code} {answer.text[:200]}"


def test_a_page_without_login_shows_the_login_form_with_401(web: Web) -> None:
    answer = web.client.get("/items", headers={"accept": "text/html"})
    assert answer.status_code == 401
    assert 'name="password"' in answer.text
    assert re.search(r'name="next" value="/items"', answer.text)
