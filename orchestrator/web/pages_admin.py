"""Console pages for accounts: an administrator adds, disables and invites people; every
user sets their own password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from orchestrator.errors import UsageError
from orchestrator.services import accounts
from orchestrator.services.access import Permission, Role
from orchestrator.web.render import page
from orchestrator.web.security import Caller, page_caller, store_of

router = APIRouter(include_in_schema=False)
Page = Annotated[Caller, Depends(page_caller)]


def _link(request: Request, secret: str) -> str:
    return str(request.url_for("login_once", secret=secret))


@router.get("/accounts")
def account_list(request: Request, caller: Page) -> Response:
    found = accounts.list_accounts(store_of(request), caller.principal)
    return page(request, "accounts.html", principal=caller.principal, csrf=caller.csrf,
                accounts=found, roles=[r.value for r in Role], title="Accounts")


@router.post("/accounts")
async def account_add(request: Request, caller: Page) -> Response:
    """Add an account without a password and show a one-time link to hand over."""
    caller.principal.require(Permission.MANAGE_ACCOUNTS)
    form = await request.form()
    name, role = str(form.get("name", ""))[:64], str(form.get("role", ""))[:16]
    owner = str(form.get("owner", "")).strip()[:200] or None
    store = store_of(request)
    await run_in_threadpool(lambda: accounts.add_account(
        store, caller.principal, name, role, owner=owner,
        payload_access=form.get("payloads") == "yes"))
    secret = await run_in_threadpool(accounts.one_time_login, store, caller.principal, name)
    return page(request, "invited.html", principal=caller.principal, csrf=caller.csrf,
                name=name, link=_link(request, secret), title="Accounts")


@router.post("/accounts/{name}/link")
def account_link(name: str, request: Request, caller: Page) -> Response:
    secret = accounts.one_time_login(store_of(request), caller.principal, name)
    return page(request, "invited.html", principal=caller.principal, csrf=caller.csrf,
                name=name, link=_link(request, secret), title="Accounts")


@router.post("/accounts/{name}/disable")
def account_disable(name: str, request: Request, caller: Page) -> Response:
    if name == caller.principal.name:
        raise UsageError("you cannot disable your own account")
    accounts.set_disabled(store_of(request), caller.principal, name, True)
    return RedirectResponse(f"/accounts#{quote(name)}", status_code=303)


@router.post("/accounts/{name}/enable")
def account_enable(name: str, request: Request, caller: Page) -> Response:
    accounts.set_disabled(store_of(request), caller.principal, name, False)
    return RedirectResponse(f"/accounts#{quote(name)}", status_code=303)


@router.get("/password")
def password_form(request: Request, caller: Page) -> Response:
    return page(request, "password.html", principal=caller.principal, csrf=caller.csrf,
                title="Change password")


@router.post("/password")
async def password_change(request: Request, caller: Page) -> Response:
    form = await request.form()
    current = str(form.get("current", ""))[:2000]
    new, again = str(form.get("new", ""))[:2000], str(form.get("again", ""))[:2000]
    if new != again:
        raise UsageError("the two new passwords differ")
    await run_in_threadpool(accounts.change_own_password, store_of(request), caller.principal,
                            current, new)
    return RedirectResponse("/login?changed=1", status_code=303)
