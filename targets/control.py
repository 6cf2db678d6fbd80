"""Test hooks of a target portal: failure injection and the ``/__control`` endpoints.

Tests and the demo need to turn trouble on and off while a bot is running and to
read back what the portal saw (how many approvals, how many injected errors)
without scraping pages. These hooks answer only on the loopback interface and are
never themselves subject to injected failures.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from targets.misbehave import MisbehaviourController

CONTROL_PREFIX = "/__control"
COUNTER_NAMES: tuple[str, ...] = (
    "approvals",
    "rejections",
    "registrations",
    "duplicate_attempts",
    "logins",
)
_EXEMPT_PREFIXES: tuple[str, ...] = (CONTROL_PREFIX, "/static/", "/favicon.ico")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
_CONTROLLER_KEY = "targets.controller"
_COUNTERS_KEY = "targets.counters"

_ERROR_PAGES: dict[int, tuple[str, str]] = {
    502: ("502 Bad Gateway", "The gateway got no valid answer from the application server."),
    503: ("503 Service Unavailable", "The service is temporarily unavailable. Try again later."),
}


class Counters:
    """Thread-safe named counters of business events (approvals, registrations, ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))

    def bump(self, name: str) -> None:
        """Add one to ``name``."""
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        """A copy of all counts, including the zero ones, so clients see every key."""
        with self._lock:
            return dict(self._counts)


def controller() -> MisbehaviourController:
    """The controller of the app handling the current request."""
    ctl: MisbehaviourController = current_app.extensions[_CONTROLLER_KEY]
    return ctl


def counters() -> Counters:
    """The business-event counters of the app handling the current request."""
    found: Counters = current_app.extensions[_COUNTERS_KEY]
    return found


def is_exempt(path: str) -> bool:
    """True for paths that never misbehave: the control hooks and static assets."""
    return path.startswith(_EXEMPT_PREFIXES)


def _inject() -> Response | None:
    """``before_request`` hook: delay and/or replace the answer as the controller decides."""
    if is_exempt(request.path):
        return None
    fate = controller().decide()
    if fate.delay:
        time.sleep(fate.delay)
    if fate.status is None:
        return None
    title, text = _ERROR_PAGES[fate.status]
    body = (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return Response(
        body, status=fate.status, mimetype="text/html", headers={"Retry-After": "1"}
    )


control_blueprint = Blueprint("control", __name__, url_prefix=CONTROL_PREFIX)


@control_blueprint.before_request
def _loopback_only() -> None:
    """Refuse the hooks to anyone not on this machine, in case the portal is exposed."""
    if request.remote_addr not in _LOOPBACK:
        abort(403)


@control_blueprint.get("/state")
def state() -> Response:
    """Counts of business events and injected trouble, plus the settings in force."""
    ctl = controller()
    return jsonify(
        {**counters().snapshot(), **ctl.counts(), "misbehaviour": ctl.current.to_dict()}
    )


@control_blueprint.get("/misbehave")
def get_misbehaviour() -> Response:
    """The settings in force."""
    return jsonify(controller().current.to_dict())


@control_blueprint.post("/misbehave")
def set_misbehaviour() -> tuple[Response, int] | Response:
    """Change some or all settings; the body is a JSON object of ``Misbehaviour`` fields."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        new = controller().update(body)
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(new.to_dict())


def install_control(app: Flask, ctl: MisbehaviourController, counts: Counters) -> None:
    """Wire injection (as the first ``before_request`` hook) and the control endpoints."""
    app.extensions[_CONTROLLER_KEY] = ctl
    app.extensions[_COUNTERS_KEY] = counts
    app.before_request(_inject)
    app.register_blueprint(control_blueprint)
