"""The trace modes, apart from the recorder: the CLI names them without loading it.

Importing the recorder pulls in structlog and asyncio, about 70 ms that
`rpa --help` has no use for; see tracing.py for what each mode costs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

TraceMode = Literal["light", "full", "off"]
TRACE_MODES: tuple[str, ...] = get_args(TraceMode)


class TraceChoice(StrEnum):
    """The trace modes as a command-line choice."""

    light = "light"
    full = "full"
    off = "off"


TRACE_HELP = ("Playwright trace of each attempt, kept when it fails: light (actions, "
              "network; retries full), full (with DOM snapshots and screencast), off")
