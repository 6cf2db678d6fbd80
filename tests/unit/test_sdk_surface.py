"""The bot SDK's public surface is exactly what we mean to export, and its
helpers keep secrets out of text."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import bots
from bots import BotContext, BusinessRuleError, Credential
from orchestrator.logs import mask_secrets
from orchestrator.scrubbing import Scrubber
from orchestrator.worker.evidence import EvidenceDir

EXPORTED = {"Bot", "BotContext", "BotError", "BusinessRuleError", "Credential", "ItemInfo",
            "SessionExpired", "TransientError", "UnknownBot", "available", "load_bot"}


def test_exported_members() -> None:
    assert set(bots.__all__) == EXPORTED
    # submodules (bots.builtin, once any test imported it) are not exports
    public = {name for name in dir(bots) if not name.startswith("_")
              and not isinstance(getattr(bots, name), types.ModuleType)}
    assert public - {"annotations"} == EXPORTED


def test_builtin_bots_are_registered() -> None:
    assert {"invoice-approval", "applicant-registration", "noop"} <= set(bots.available())
    with pytest.raises(bots.UnknownBot, match="known bots are"):
        bots.load_bot("no-such-bot")


def test_credential_never_prints_its_secret() -> None:
    cred = Credential("approver", "s3cret-value")
    assert "s3cret-value" not in repr(cred) and "s3cret-value" not in str(cred)
    assert "s3cret-value" not in f"{cred}"


def test_secrets_are_scrubbed_from_error_text() -> None:
    secrets = Scrubber()
    secrets.add("hunter22")
    assert secrets.scrub("login failed for hunter22 at /x") == "login failed for *** at /x"


def test_log_processor_masks_secret_keys() -> None:
    event = {"event": "login", "password": "p", "api_token": "t", "user": "u"}
    assert mask_secrets(None, "info", event) == {"event": "login", "password": "***",
                                                 "api_token": "***", "user": "u"}


def test_evidence_names_are_built_from_ids_only(tmp_path: Path) -> None:
    ev = EvidenceDir(tmp_path, "Invoice Approval/../x", 42, 3)
    path = ev.save("Screen shot: hunter22?", b"\x89PNG", ".png")
    assert path.parent == tmp_path / "invoice-approval-x" / "42"
    assert path.name.startswith("a3-") and "/" not in path.name and ".." not in str(path)


def _ctx() -> BotContext:
    return BotContext(log=None, config={}, credentials=lambda n: Credential("u", "p"),
                      evidence=lambda n, d: Path(n))


def test_ctx_retry_retries_transient_failures_only() -> None:
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("503")
        return "ok"

    assert asyncio.run(_ctx().retry(flaky, wait_initial=0.001, wait_max=0.01)) == "ok"
    assert calls["n"] == 3

    async def rule() -> None:
        calls["n"] += 1
        raise BusinessRuleError("no", code="X")

    calls["n"] = 0
    with pytest.raises(BusinessRuleError):
        asyncio.run(_ctx().retry(rule, wait_initial=0.001))
    assert calls["n"] == 1


def test_capture_logs_sees_bound_context() -> None:
    import structlog
    with capture_logs() as logs:
        structlog.get_logger().bind(item_id=7).info("item.finished", outcome="done")
    assert logs == [{"item_id": 7, "outcome": "done", "event": "item.finished",
                     "log_level": "info"}]
