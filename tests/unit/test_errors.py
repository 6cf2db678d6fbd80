"""The error tree the CLI relies on: three roots, each error's exit code."""

from __future__ import annotations

import pytest

from bots import BotError, BusinessRuleError, UnknownBot
from orchestrator.cli import error_exit_code
from orchestrator.errors import (
    BrowserUnavailable,
    CheckFailed,
    ConfigError,
    CredentialError,
    InputFileError,
    ReportError,
    RpaError,
    UsageError,
)
from orchestrator.reports.allocation import AllocationError
from orchestrator.reports.candidates import CandidateError
from orchestrator.reports.costs_config import CostsConfigError
from orchestrator.reports.export import ExportError
from orchestrator.reports.hours import UsageFiguresError
from orchestrator.reports.money import MoneyError
from orchestrator.reports.periods import PeriodError
from queues import (
    IllegalTransition,
    ItemNotFound,
    LeaseLost,
    PayloadInvalid,
    QueueError,
    QueueNotFound,
    StoreError,
    StoreUnavailable,
)


@pytest.mark.parametrize("error", [
    ConfigError, InputFileError, ReportError, PeriodError, MoneyError, AllocationError,
    UsageFiguresError, CostsConfigError, CandidateError, ExportError])
def test_bad_input_of_the_orchestrator_is_a_usage_error(error: type[Exception]) -> None:
    assert issubclass(error, UsageError)
    assert error_exit_code(error("x")) == 2


@pytest.mark.parametrize("error", [CheckFailed, CredentialError, BrowserUnavailable])
def test_failures_of_the_orchestrator_exit_1(error: type[RpaError]) -> None:
    assert issubclass(error, RpaError) and not issubclass(error, UsageError)
    assert error_exit_code(error("x")) == 1


@pytest.mark.parametrize(("error", "code"), [
    (QueueNotFound("x"), 2), (ItemNotFound("x"), 2), (PayloadInvalid("x"), 2),
    (IllegalTransition("x"), 2), (UnknownBot("x"), 2),
    (StoreError("x"), 1), (StoreUnavailable("x"), 1), (LeaseLost("x"), 1),
    (BusinessRuleError("x"), 1)])
def test_queue_and_bot_errors_exit_2_when_they_blame_the_input(error: Exception,
                                                               code: int) -> None:
    assert isinstance(error, QueueError | BotError)
    assert error_exit_code(error) == code


def test_anything_else_is_a_bug_with_a_traceback() -> None:
    assert error_exit_code(KeyError("x")) is None
    assert error_exit_code(RuntimeError("x")) is None
