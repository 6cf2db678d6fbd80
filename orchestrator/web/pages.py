"""Console pages: login, overview, workers, processes; errors as pages.

A page asked for without a login answers 401 with the login form, so a
browser shows it where it is and a script sees the status it expects.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.errors import ConfigError
from orchestrator.services import accounts, overview, processes
from orchestrator.services.access import AccessDenied, NotAuthenticated, Permission
from orchestrator.web import oidc
from orchestrator.web.problems import Problem
from orchestrator.web.render import home_of, page
from orchestrator.web.security import (
    LOGIN_COOKIE,
    Caller,
    clear_session_cookie,
    login_token,
    page_caller,
    set_session_cookie,
    settings_of,
    store_of,
)

router = APIRouter(include_in_schema=False)
Page = Annotated[Caller, Depends(page_caller)]


def error_page(request: Request, problem: Problem) -> Response:
    if problem.status == 401:
        return login_page(request, status=401)
    return page(request, "error.html", status=problem.status, problem=problem,
                title=problem.title)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil.example` or `https://...`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(request: Request, *, status: int = 200, error: str | None = None
               ) -> HTMLResponse:
    token = login_token(request)
    wanted = request.query_params.get("next") or (
        request.url.path if request.method == "GET" and request.url.path != "/login" else "/")
    response = page(request, "login.html", status=status, login_csrf=token, error=error,
                    next=_safe_next(wanted), sso=oidc.enabled(settings_of(request)),
                    sso_label=settings_of(request).oidc_label, title="Log in")
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=settings_of(request).web_secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return login_page(request)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=2000)],
          csrf: Annotated[str, Form(max_length=200)],
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    settings = settings_of(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return login_page(request, status=403, error="The form had expired. Try again.")
    client = request.client.host if request.client else "unknown"
    if not request.app.state.login_limiter.allow(client):
        return login_page(request, status=429,
                          error="Too many attempts from your address. Wait a minute.")
    try:
        principal = accounts.login(store_of(request), name, password,
                                   lock_after=settings.web_login_lock_after,
                                   lock_seconds=settings.web_login_lock_minutes * 60)
    except NotAuthenticated as err:
        locked = "locked" in str(err)
        return login_page(request, status=401, error=(
            "Too many failed logins: the account is locked for a while." if locked
            else "Wrong name or password."))
    session_id, _ = accounts.open_session(store_of(request), principal,
                                          lifetime=settings.web_session_hours * 3600)
    target = _safe_next(next)
    response = RedirectResponse(home_of(principal) if target == "/" else target,
                                status_code=303)
    set_session_cookie(response, settings, session_id)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.get("/login/once/{secret}")
def login_once(secret: str, request: Request) -> Response:
    """A one-time login link (after `rpa demo`, or `rpa users login-link`): spent on use."""
    settings = settings_of(request)
    try:
        principal = accounts.redeem_one_time(store_of(request), secret)
    except NotAuthenticated as err:
        return login_page(request, status=401, error=str(err))
    session_id, _ = accounts.open_session(store_of(request), principal,
                                          lifetime=settings.web_session_hours * 3600)
    response = RedirectResponse(home_of(principal), status_code=303)
    set_session_cookie(response, settings, session_id)
    response.headers["referrer-policy"] = "no-referrer"
    return response


@router.post("/logout")
def logout(request: Request, caller: Page) -> Response:
    if caller.session_id:
        accounts.close_session(store_of(request), caller.session_id, caller.principal)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings_of(request))
    return response


# -- overview ----------------------------------------------------------------------------
@router.get("/")
def home(request: Request, caller: Page) -> Response:
    principal = caller.principal
    if not principal.may(Permission.VIEW_QUEUES):
        return RedirectResponse(home_of(principal), status_code=303)
    rows = request.app.state.overview.rows(principal)
    return page(request, "overview.html", principal=principal, csrf=caller.csrf, rows=rows,
                now=time.time(), title="Overview")


@router.get("/fragments/overview")
def overview_fragment(request: Request, caller: Page) -> Response:
    """The overview's table alone, polled by htmx every few seconds."""
    rows = request.app.state.overview.rows(caller.principal)
    return page(request, "_queues.html", principal=caller.principal, rows=rows,
                now=time.time())


@router.get("/workers")
def workers(request: Request, caller: Page) -> Response:
    nodes = overview.worker_rows(store_of(request), caller.principal)
    return page(request, "workers.html", principal=caller.principal, csrf=caller.csrf,
                nodes=nodes, now=time.time(), title="Workers")


# -- processes ---------------------------------------------------------------------------
@router.get("/processes")
def process_list(request: Request, caller: Page) -> Response:
    infos = processes.list_processes(store_of(request), caller.principal)
    return page(request, "processes.html", principal=caller.principal, csrf=caller.csrf,
                infos=infos, title="Processes")


@router.get("/processes/{name}")
def process_page(name: str, request: Request, caller: Page) -> Response:
    store, principal = store_of(request), caller.principal
    info = processes.get_process(store, principal, name)
    settings = settings_of(request)
    schedule = [r for r in processes.schedule_rows(store, principal, settings.timezone,
                                                   time.time(), led=True)
                if r["process"] == name]
    return page(request, "process.html", principal=principal, csrf=caller.csrf, info=info,
                source=processes.as_yaml(info), schedule=schedule, title=name)


@router.post("/processes/{name}/pause")
def pause(name: str, request: Request, caller: Page) -> Response:
    processes.set_paused(store_of(request), caller.principal, name, True)
    return RedirectResponse(f"/processes/{quote(name)}", status_code=303)


@router.post("/processes/{name}/resume")
def resume(name: str, request: Request, caller: Page) -> Response:
    processes.set_paused(store_of(request), caller.principal, name, False)
    return RedirectResponse(f"/processes/{quote(name)}", status_code=303)


@router.get("/upload")
def upload_form(request: Request, caller: Page) -> Response:
    caller.principal.require(Permission.REGISTER_PROCESSES)
    return page(request, "upload.html", principal=caller.principal, csrf=caller.csrf,
                title="Upload a process file")


@router.post("/upload")
async def upload(request: Request, caller: Page) -> Response:
    principal = caller.principal
    principal.require(Permission.REGISTER_PROCESSES)
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile):
        raise ConfigError("choose a process file to upload")
    content = await file.read(processes.MAX_UPLOAD + 1)
    try:
        done = await run_in_threadpool(processes.register_upload, store_of(request), principal,
                                       file.filename or "upload.yaml", content)
    except (ConfigError, AccessDenied) as err:
        return page(request, "upload.html", principal=principal, csrf=caller.csrf,
                    errors=str(err).splitlines(), status=422, title="Upload a process file")
    return page(request, "upload.html", principal=principal, csrf=caller.csrf, done=done,
                title="Upload a process file")


def query_list(request: Request, key: str) -> list[str]:
    return [v for v in request.query_params.getlist(key) if v][:20]


def context_of(caller: Caller, **extra: Any) -> dict[str, Any]:
    return {"principal": caller.principal, "csrf": caller.csrf, **extra}
