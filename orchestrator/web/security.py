"""Who is asking: an API token, or a console session with its CSRF token.

The session cookie holds a random id (the database keeps its SHA-256); it is
HttpOnly, SameSite=Lax and Secure unless settings say otherwise, and expires
with the session. Every state-changing request made with the cookie must carry
the session's CSRF token (a form field or the `X-CSRF-Token` header htmx
sends); a request with a bearer token needs none, as no browser adds one by
itself. Logins are limited per client address as well as locked per account.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from orchestrator.services import accounts
from orchestrator.services.access import AccessDenied, NotAuthenticated, Principal
from orchestrator.settings import Settings
from queues import Store

SESSION_COOKIE = "rpa_session"
LOGIN_COOKIE = "rpa_login"  # double-submit CSRF token of the login form (no session yet)
LANG_COOKIE = "rpa_lang"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    principal: Principal
    csrf: str | None  # the session's token; None for a bearer token
    session_id: str | None = None


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def resolve(request: Request) -> Caller:
    """The caller of this request, or NotAuthenticated (cached on the request)."""
    cached = getattr(request.state, "caller", None)
    if isinstance(cached, Caller):
        return cached
    store = store_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("give the token as 'Authorization: Bearer rpa_...'")
        caller = Caller(accounts.token_principal(store, token.strip()), None)
    else:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not session_id:
            raise NotAuthenticated("log in, or send an API token")
        session = accounts.session_of(store, session_id)
        caller = Caller(session.principal, session.csrf, session_id)
    request.state.caller = caller
    return caller


def check_csrf(request: Request, caller: Caller, submitted: str | None) -> None:
    """A cookie-borne request that changes something must carry its session's token."""
    if request.method in SAFE_METHODS or caller.csrf is None:
        return
    given = submitted or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode(), caller.csrf.encode()):
        raise AccessDenied("the form's security token is missing or stale: reload the page "
                           "and try again")


def api_caller(request: Request) -> Principal:
    """FastAPI dependency of every API route but health: the principal, CSRF checked."""
    caller = resolve(request)
    check_csrf(request, caller, None)
    return caller.principal


async def page_caller(request: Request) -> AsyncIterator[Caller]:
    """The caller of a console page; a POST's CSRF token is read from its form.

    Whatever form was read (uploaded files are spooled to disk) is closed once the
    page is done, whether the page used it or not.
    """
    try:
        yield await _page_caller(request)
    finally:
        form = getattr(request, "_form", None)
        if form is not None:
            await form.close()


async def _page_caller(request: Request) -> Caller:
    caller = await run_in_threadpool(resolve, request)
    if request.method not in SAFE_METHODS:
        submitted = None
        if request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf")
            submitted = value if isinstance(value, str) else None
        check_csrf(request, caller, submitted)
    return caller


def set_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(settings.web_session_hours
                                                                * 3600),
                        httponly=True, secure=settings.web_secure_cookies, samesite="lax",
                        path="/")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True,
                           secure=settings.web_secure_cookies, samesite="lax")


def login_token(request: Request) -> str:
    """The login form's CSRF token: the one in its cookie, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


class LoginLimiter:
    """At most `per_minute` login attempts a minute from one client address.

    In memory, per process: it slows a guesser down; the per-account lockout in
    the database is what holds across processes and restarts.
    """

    def __init__(self, per_minute: int = 10):
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 10_000:  # many addresses: forget the quiet ones
                self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < 60}
            recent = self._seen.setdefault(client, deque())
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                return False
            recent.append(now)
            return True
