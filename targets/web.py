"""The plumbing both target portals share: app factory, sessions, CSRF, error pages.

Each portal only adds its own pages; login, session expiry, CSRF checks, the
page layout and the test hooks behave identically in both, as they would in two
products of the same enterprise vendor.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response

from targets.control import Counters, controller, install_control, is_exempt
from targets.misbehave import Misbehaviour, MisbehaviourController
from targets.sessions import Session, SessionStore

_PACKAGE_DIR = Path(__file__).parent
SHARED_TEMPLATES = str(_PACKAGE_DIR / "templates")
SHARED_STATIC = str(_PACKAGE_DIR / "static")
_CONTEXT_KEY = "targets.portal"
_PUBLIC_ENDPOINTS = frozenset({"auth.login"})
CSRF_FIELD = "csrf_token"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
"""Hard request-size cap; the portals' own, friendlier limits are lower."""


@dataclass(frozen=True)
class PortalUser:
    """A login of a portal; ``approval_limit`` matters only to the invoice portal."""

    username: str
    password: str
    display_name: str
    approval_limit: Decimal | None = None


@dataclass(frozen=True)
class PortalContext:
    """Per-app configuration and state the shared plumbing needs."""

    title: str
    users: Mapping[str, PortalUser]
    cookie_name: str
    home: str
    nav: tuple[tuple[str, str], ...]
    sessions: SessionStore
    controller: MisbehaviourController
    counters: Counters


def portal() -> PortalContext:
    """The configuration of the app handling the current request."""
    found: PortalContext = current_app.extensions[_CONTEXT_KEY]
    return found


def current_session() -> Session:
    """The session of the current request (anonymous on the login page)."""
    session: Session = g.portal_session
    return session


def current_user() -> PortalUser:
    """The logged-in user; only call from pages that require a login."""
    username = current_session().username
    if username is None:
        raise RuntimeError("no user is logged in")
    return portal().users[username]


def layout_changed() -> bool:
    """True while the portal renders its alternative ("upgraded") layout."""
    return controller().current.changed_layout


def flash(message: str) -> None:
    """Queue a one-time message for the next page this browser renders."""
    current_session().flashes.append(message)


def safe_next(target: str | None, default: str) -> str:
    """Only follow same-site relative paths after login, never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if urlsplit(target).netloc:
        return default
    return target


def _login_redirect(expired: bool) -> Response:
    """Send an anonymous browser to the login page, remembering where it was going."""
    if request.method == "GET":
        target = request.full_path.rstrip("?")
    else:
        referrer = urlsplit(request.referrer or "")
        same_host = referrer.netloc == request.host
        target = referrer.path if same_host and referrer.path else portal().home
    query = {"next": target, **({"expired": "1"} if expired else {})}
    return redirect(f"/login?{urlencode(query)}", code=303)


def _load_session() -> Response | tuple[Response, int] | None:
    """``before_request``: attach the session, enforce expiry and login, then CSRF."""
    if is_exempt(request.path):
        return None
    ctx = portal()
    session = ctx.sessions.get(request.cookies.get(ctx.cookie_name))
    expired = False
    if session is not None and ctx.sessions.is_expired(
        session, ctx.controller.current.session_lifetime
    ):
        ctx.sessions.drop(session.sid)
        session, expired = None, True
    if session is None:
        session = ctx.sessions.new()
        g.new_sid = session.sid
    g.portal_session = session
    if session.username is None and request.endpoint not in _PUBLIC_ENDPOINTS:
        if request.path.startswith("/api/"):
            message = "session expired" if expired else "login required"
            return jsonify({"error": message}), 401
        return _login_redirect(expired)
    if request.method == "POST":
        sent = request.form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent, session.csrf_token):
            return _error_page(400, "Bad request", "The CSRF token is missing or invalid. "
                               "Reload the page and try again.")
    return None


def _set_cookie(response: Response) -> Response:
    """``after_request``: hand a newly created session id to the browser."""
    sid = g.get("new_sid")
    if sid:
        response.set_cookie(portal().cookie_name, sid, httponly=True, samesite="Lax")
    return response


def set_session(session: Session) -> None:
    """Make ``session`` the current one and send its id (after a login rotated it)."""
    g.portal_session = session
    g.new_sid = session.sid


def _error_page(status: int, title: str, message: str) -> tuple[Response, int]:
    """Render the shared error page with a status code."""
    body = render_template("error.html", title=title, message=message, status=status)
    return current_app.make_response(body), status


def _handle_http_error(exc: HTTPException) -> Response | tuple[Response, int]:
    """Error pages with a heading and the reason, so a bot can read why it failed."""
    if exc.code is None or exc.code < 400:
        return exc.get_response()
    if request.path.startswith("/api/"):
        return jsonify({"error": exc.description}), exc.code
    return _error_page(exc.code, exc.name, exc.description or exc.name)


def _template_globals() -> dict[str, object]:
    """Names every template may use: the token, the user, the layout switch."""
    session: Session | None = g.get("portal_session")
    username = session.username if session else None
    return {
        "portal": portal(),
        "csrf_token": session.csrf_token if session else "",
        "csrf_field": CSRF_FIELD,
        "user": portal().users[username] if username else None,
        "flashes": session.pop_flashes() if session else [],
        "layout_changed": layout_changed(),
    }


def create_portal_app(
    import_name: str,
    *,
    title: str,
    users: Mapping[str, PortalUser],
    cookie_name: str,
    home: str,
    nav: tuple[tuple[str, str], ...],
    misbehaviour: Misbehaviour | None,
) -> Flask:
    """Build a Flask app with the shared behaviour; the caller adds its own routes."""
    from targets.auth import auth_blueprint

    app = Flask(import_name, template_folder="templates", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True}
    ctl = MisbehaviourController(misbehaviour)
    counts = Counters()
    app.extensions[_CONTEXT_KEY] = PortalContext(
        title=title,
        users=users,
        cookie_name=cookie_name,
        home=home,
        nav=nav,
        sessions=SessionStore(),
        controller=ctl,
        counters=counts,
    )
    install_control(app, ctl, counts)
    app.before_request(_load_session)
    app.after_request(_set_cookie)
    app.context_processor(_template_globals)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_blueprint(auth_blueprint)
    app.add_url_rule("/", "home", lambda: redirect(home))
    app.add_url_rule("/favicon.ico", "favicon", lambda: Response(status=204))
    return app

