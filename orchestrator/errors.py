"""Errors the orchestrator raises on purpose; the CLI maps them to exit codes.

    RpaError                  root of the orchestrator's own errors    -> exit 1
    ├── UsageError            bad input from a person: a file, a flag, a name  -> exit 2
    │   ├── ConfigError       a process or settings file is invalid
    │   ├── InputFileError    a work-item file has a bad row
    │   └── ReportError       a report's period, costs file, figures or export
    │       └── (PeriodError, MoneyError, AllocationError, UsageFiguresError,
    │            CostsConfigError, CandidateError, ExportError: `orchestrator.reports`)
    ├── CheckFailed           a check ran and said no (audit verify)
    ├── CredentialError       a credential is missing or the key in force cannot read it
    └── BrowserUnavailable    no browser could be found or started

Each package below the orchestrator keeps its own root, because it knows
nothing of this one: `queues.QueueError` (the store; driver errors are wrapped
into its `StoreError` at the boundary) and `bots.BotError` (the SDK, with
`UnknownBot` for a bot that cannot be loaded). The CLI catches exactly these
three roots (`cli.error_exit_code`): queue and bot errors that blame the input
(an unknown process, item or bot, an invalid payload, an illegal transition)
exit 2, the rest 1. Anything else is a bug and shows its traceback.
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


class ReportError(UsageError):
    """Root of every error the reports package raises on purpose: the message is shown
    as is (a period, a costs file, impossible figures, an export that cannot be written)."""


class CheckFailed(RpaError):
    """A check ran and found a problem."""

    exit_code = 1


class CredentialError(RpaError):
    """A credential is missing or cannot be decrypted with the key in force."""


class BrowserUnavailable(RpaError):
    """No browser could be found or started."""
