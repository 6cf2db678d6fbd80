"""Retry policy as data: what happens to an item after an application error.

A policy is a value stored with the process (and copied to the queue row), not
control flow spread over the worker: `RetryPolicy.decide` answers "retry at
time T" or "give up", and the store applies the answer in one transaction.

Backoff is exponential with "full jitter" (a uniform draw between half the
exponential step and the step), capped. We compute it here rather than with
tenacity's `wait_*` helpers because the wait is persisted as a due time on the
item, not slept in a live loop; tenacity serves retries *inside* one attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryDecision:
    """The verdict for one failed attempt."""

    retry: bool
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, an application error is retried.

    `max_attempts` counts every attempt, the first included: 3 means the item
    is tried at most three times before it is `dead`.
    """

    max_attempts: int = 3
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    jitter: bool = True

    def delay_for(self, attempts_made: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the attempt after `attempts_made` attempts."""
        step = min(self.backoff_max_seconds,
                   self.backoff_seconds * (2 ** max(0, attempts_made - 1)))
        if not self.jitter or step <= 0:
            return step
        draw = (rng or random).uniform(0.5, 1.0)
        return step * draw

    def decide(self, attempts_made: int, attempt_limit: int | None = None,
               rng: random.Random | None = None) -> RetryDecision:
        """Retry after a delay, or give up once the attempt limit is reached.

        `attempt_limit` is the item's own limit (an operator's retry raises it);
        without one the policy's `max_attempts` applies.
        """
        limit = self.max_attempts if attempt_limit is None else attempt_limit
        if attempts_made >= limit:
            return RetryDecision(retry=False)
        return RetryDecision(retry=True, delay_seconds=self.delay_for(attempts_made, rng))
