"""Login and logout pages shared by the portals; also serves the shared stylesheet.

The login form is where a bot first meets CSRF (the token is in a hidden input
tied to the session cookie) and where it lands again when its session expires.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask import redirect as flask_redirect
from werkzeug.wrappers.response import Response

from targets.web import (
    SHARED_STATIC,
    SHARED_TEMPLATES,
    current_session,
    layout_changed,
    portal,
    safe_next,
    set_session,
)

auth_blueprint = Blueprint(
    "auth",
    __name__,
    template_folder=SHARED_TEMPLATES,
    static_folder=SHARED_STATIC,
    static_url_path="/static",
)

LOGIN_FIELDS: dict[bool, tuple[str, str]] = {
    False: ("username", "password"),
    True: ("login", "secret"),
}
"""``name``/``id`` attributes of the username and password inputs, by ``changed_layout``."""


def _form_value(*names: str) -> str:
    """The first non-empty value among the field names either layout uses."""
    for name in names:
        value = request.form.get(name, "")
        if value:
            return value
    return ""


@auth_blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Show the login form, or check the credentials and start a logged-in session."""
    ctx = portal()
    next_path = safe_next(request.values.get("next"), ctx.home)
    session = current_session()
    if request.method == "GET" and session.username is not None:
        return flask_redirect(next_path, code=303)
    error = None
    if request.method == "POST":
        username = _form_value(LOGIN_FIELDS[False][0], LOGIN_FIELDS[True][0])
        password = _form_value(LOGIN_FIELDS[False][1], LOGIN_FIELDS[True][1])
        user = ctx.users.get(username)
        if user is not None and user.password == password:
            set_session(ctx.sessions.login(session, user.username))
            ctx.counters.bump("logins")
            return flask_redirect(next_path, code=303)
        error = "Incorrect username or password."
    page = render_template(
        "login.html",
        next_path=next_path,
        expired=request.args.get("expired") == "1",
        logged_out=request.args.get("logged_out") == "1",
        error=error,
        names=LOGIN_FIELDS[layout_changed()],
    )
    return (page, 401) if error else page


@auth_blueprint.post("/logout")
def logout() -> Response:
    """End the session and go back to the login page."""
    portal().sessions.drop(current_session().sid)
    return flask_redirect("/login?logged_out=1", code=303)
