"""Errors the orchestrator raises on purpose; the CLI maps them to exit codes.

    RpaError
    ├── UsageError        bad input from a person: a file, a flag, a name  -> exit 2
    │   ├── ConfigError   a process or settings file is invalid
    │   └── InputFileError a work-item file has a bad row
    └── CheckFailed       a check ran and said no (audit verify)          -> exit 1

Queue errors (`queues.QueueError`) pass through unchanged and map to 2 when
they blame the input (unknown process, invalid payload, illegal transition)
and to 1 when the database failed.
"""

from __future__ import annotations


class RpaError(Exception):
    """Root of the orchestrator's own errors."""

    exit_code = 1


class UsageError(RpaError):
    """The input a person gave cannot be used; the message says how to fix it."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file is invalid: the message names the file, key and line."""


class InputFileError(UsageError):
    """A work-item file has a row that cannot be imported; nothing was imported."""


class CheckFailed(RpaError):
    """A check ran and found a problem."""

    exit_code = 1
