"""Serving the console with uvicorn: in the foreground (`rpa web`) or beside a node.

Behind a reverse proxy, uvicorn believes `X-Forwarded-For` and
`X-Forwarded-Proto` only from `web_trusted_proxies`, so redirects and the
OIDC callback URL carry the public scheme and host, and login limits count
the real client address.
"""

from __future__ import annotations

import threading

import uvicorn

from orchestrator.settings import Settings
from orchestrator.web.app import create_app
from queues import Store


def config(settings: Settings, store: Store, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(create_app(settings, store), host=host, port=port,
                          proxy_headers=True, forwarded_allow_ips=settings.web_trusted_proxies,
                          server_header=False, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=5)


def run(settings: Settings, store: Store, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (uvicorn's own handlers)."""
    uvicorn.Server(config(settings, store, host, port)).run()


class Background:
    """The console in a thread of its own, beside `rpa serve`'s event loop.

    A thread, not a task on the node's loop: uvicorn installs signal handlers
    only in the main thread, so the node keeps its own shutdown order (stop
    claiming, let in-flight items finish), and a slow page never delays a claim.
    """

    def __init__(self, settings: Settings, store: Store, host: str, port: int):
        self.server = uvicorn.Server(config(settings, store, host, port))
        self.thread = threading.Thread(target=self.server.run, name="rpa-web", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
