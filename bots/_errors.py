"""What a bot may raise, and what the worker makes of it.

    BotError
    ├── BusinessRuleError   the item's data breaks a rule: final, a person must look
    ├── SessionExpired      the target logged us out: log in again, then retry the item
    └── TransientError      worth another try inside this attempt (ctx.retry retries it)

Anything else a bot lets escape is an application error: the attempt fails and
the queue retries the item later with backoff.
"""

from __future__ import annotations


class BotError(Exception):
    """Root of the exceptions the SDK defines."""


class BusinessRuleError(BotError):
    """The item breaks a business rule; never retried. `code` groups them in reports."""

    def __init__(self, message: str, code: str = "BUSINESS_RULE"):
        super().__init__(message)
        self.code = code
        self.message = message


class SessionExpired(BotError):
    """The target's session ended mid-item; the worker logs in again and retries once."""


class TransientError(BotError):
    """A step failed in a way that another try may fix (a 502, a slow page)."""
