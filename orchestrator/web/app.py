"""The FastAPI application: the console, the API, their errors and their guards.

`create_app(settings, store)` wires one store (thread-safe; its own audit
chain `web:HOST:PID`) into the routers. Every response carries headers that
keep the console out of frames and scripts to our own origin; request bodies
over `web_max_body_bytes` get 413 before they are read in full.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.errors import RpaError
from orchestrator.services.access import NotAuthenticated
from orchestrator.services.overview import OverviewCache
from orchestrator.settings import Settings
from orchestrator.web import api, oidc, pages, pages_admin, pages_review, pages_work
from orchestrator.web.problems import PROBLEM_JSON, BadRequest, Problem, problem_of
from orchestrator.web.security import LoginLimiter
from queues import QueueError, Store

log = structlog.get_logger("orchestrator.web")
STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class Guard:
    """Pure ASGI, around everything: a body limit, security headers, Server-Timing.

    A body over the limit gets 413 at once by its Content-Length, or when the
    streamed body passes it. Every response gets the security headers and the
    server's own time to its first byte (for a proxy's logs, the browser's
    devtools and the bench). Pure ASGI, not `@app.middleware`: that wrapper cost
    most of the time of a small request under fifty concurrent clients.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0
        responded = False
        extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                 if not (k == "content-security-policy"
                         and scope["path"].startswith("/api/docs"))]

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BadRequest(f"the body is over {self.limit:,} bytes", status=413)
            return message

        async def stamped(message: MutableMapping[str, Any]) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                taken = (time.perf_counter() - started) * 1000
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in extra if k not in names],
                                      (b"server-timing", f"app;dur={taken:.1f}".encode())]
            await send(message)

        try:
            await self.app(scope, counted, stamped)
        except BadRequest:  # the body passed the limit while it streamed in
            if responded:
                raise
            await _too_large(self.limit)(scope, receive, stamped)


def _too_large(limit: int) -> Response:
    problem = Problem(413, "Request too large", f"the body is over {limit:,} bytes")
    return JSONResponse(problem.body(), status_code=413, media_type=PROBLEM_JSON)


THREADS = 10  # the store's pool on PostgreSQL holds ten connections (queues.engine)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At most as many request threads as the store has pooled connections.

    With Starlette's default of forty, fifty clients made the pool open and close
    overflow connections to PostgreSQL on every request, and the slowest
    requests waited for a connection to be made; the GIL gives more threads
    nothing to do meanwhile.
    """
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(title="RPA orchestrator", version="1", docs_url="/api/docs", lifespan=lifespan,
                  redoc_url=None, openapi_url="/api/v1/openapi.json",
                  swagger_ui_oauth2_redirect_url=None,
                  description="Work-item queues, processes, reports and the audit log. "
                              "Authenticate with `Authorization: Bearer rpa_...` "
                              "(`rpa tokens create`).")
    app.state.settings = settings
    app.state.store = store
    app.state.login_limiter = LoginLimiter()
    app.state.overview = OverviewCache(store)
    app.include_router(api.router)
    app.include_router(oidc.router)
    app.include_router(pages.router)
    app.include_router(pages_work.router)
    app.include_router(pages_admin.router)
    app.include_router(pages_review.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Authlib keeps the OIDC state, nonce and PKCE verifier here between the redirect and
    # the callback; a key per process is enough for a flow that lasts a minute.
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32),
                       session_cookie="rpa_oidc", max_age=600, same_site="lax",
                       https_only=settings.web_secure_cookies)
    app.add_middleware(Guard, limit=settings.web_max_body_bytes)

    @app.exception_handler(RpaError)
    async def our_error(request: Request, err: RpaError) -> Response:
        return _problem_response(request, err)

    @app.exception_handler(QueueError)
    async def queue_error(request: Request, err: QueueError) -> Response:
        return _problem_response(request, err)

    @app.exception_handler(Exception)
    async def any_error(request: Request, err: Exception) -> Response:
        return _problem_response(request, err)  # a bug: Starlette re-raises it to the log

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        return _problem_response(request, BadRequest(str(err.detail), status=err.status_code))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        errors = err.errors()
        detail = "; ".join(api._error_text(e) for e in errors[:5])
        return _problem_response(request, BadRequest(detail, status=422, extra={
            "errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors[:20]]}))

    return app


def _problem_response(request: Request, err: Exception) -> Response:
    problem = problem_of(err)
    if problem.status >= 500:
        log.error("web.error", path=request.url.path, error=type(err).__name__,
                  exc_info=not isinstance(err, NotAuthenticated))
    wants_page = not request.url.path.startswith("/api/") and \
        "text/html" in request.headers.get("accept", "")
    if wants_page:
        return pages.error_page(request, problem)
    headers = {"www-authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(problem.body(request.url.path), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=headers)
