"""Logging: structlog events with context; JSON in production, pretty in a terminal.

Secrets never reach a log line: a processor masks values of keys that name a
secret (password, token, secret, credential, key), whatever the caller passed,
and another masks every credential this process has handed to a bot, in any
value and in any of its encodings (`orchestrator.scrubbing`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "api_key", "apikey")


def mask_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
    """Replace the value of any key that names a secret with `***`."""
    for key in list(event):
        if any(word in key.lower() for word in SECRET_WORDS):
            event[key] = "***"
    return event


def scrub_known_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]
                        ) -> MutableMapping[str, Any]:
    """Mask the credentials a bot was given wherever they appear in the event's text."""
    from orchestrator.scrubbing import SECRETS
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = SECRETS.scrub(value)
        elif isinstance(value, dict | list | tuple):
            event[key] = SECRETS.scrub_value(value)
    return event


def configure(fmt: str = "auto", level: int = logging.INFO, file: TextIO | None = None
              ) -> None:
    """Set up structlog once per process; `fmt` is auto, json or console.

    `file` (default stderr) takes the lines instead; "auto" means JSON there
    unless it is a terminal.
    """
    out = file or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_secrets,
            structlog.processors.format_exc_info,
            scrub_known_secrets,  # after format_exc_info: a traceback's text is scrubbed too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
