"""Serve a target portal on 127.0.0.1 in a background thread.

Tests and ``rpa demo`` need a real HTTP server (a browser has to reach it) that
starts in milliseconds on a free port and stops cleanly, leaving no thread or
socket behind to trip ``filterwarnings = error``.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from targets.misbehave import Misbehaviour

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


_POLL_SECONDS = 0.05
"""How often the serving loop checks for ``stop()``; werkzeug's 0.5 s slows test teardown."""


class _QuietRequestHandler(WSGIRequestHandler):
    """Request handler that does not log every request (tests run thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Drop the access log line."""


class TargetServer:
    """A WSGI app served by werkzeug on ``host`` and a free port, in a daemon thread.

    The socket is bound at construction, so ``url`` is known before ``start()``;
    use it as a context manager to start and stop it.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
        name: str = "target",
    ) -> None:
        self.app = app
        self.name = name
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True,
            request_handler=_QuietRequestHandler if quiet else None,
        )
        self.host = host
        self.port: int = self._server.port
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> TargetServer:
        """Begin serving in a daemon thread; calling it again does nothing."""
        if self._closed:
            raise RuntimeError("a stopped TargetServer cannot be restarted")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                args=(_POLL_SECONDS,),
                name=f"{self.name}-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> TargetServer:
        """Start (if not yet started) and hand the server to the ``with`` body."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving the ``with`` block, also after an error."""
        self.stop()

    def misbehave(self, misbehaviour: Misbehaviour | None = None, **changes: Any) -> dict[str, Any]:
        """Change the portal's misbehaviour at runtime through ``POST /__control/misbehave``.

        Pass a whole ``Misbehaviour`` or single fields (``error_share=0.1``).
        Returns the settings now in force.
        """
        body = {**(misbehaviour.to_dict() if misbehaviour else {}), **changes}
        response = httpx.post(f"{self.url}/__control/misbehave", json=body, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def state(self) -> dict[str, Any]:
        """Counts of approvals, rejections, registrations, injected errors: ``/__control/state``."""
        response = httpx.get(f"{self.url}/__control/state", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
