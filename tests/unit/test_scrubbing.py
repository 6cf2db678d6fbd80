"""The scrubber masks a known secret in the forms it travels in, and nothing else."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import quote

import structlog

from orchestrator.logs import configure
from orchestrator.scrubbing import Scrubber


def test_every_form_is_masked_and_ordinary_text_is_not() -> None:
    scrubber = Scrubber()
    scrubber.add("pa ss/wörd+1", username="kari")
    b64 = base64.b64encode("pa ss/wörd+1".encode()).decode()
    basic = base64.b64encode("kari:pa ss/wörd+1".encode()).decode()
    text = f"a pa ss/wörd+1 b {b64} c {quote('pa ss/wörd+1', safe='')} d Basic {basic} e"
    assert scrubber.scrub(text) == "a *** b *** c *** d Basic *** e"
    assert scrubber.scrub("kari logged in") == "kari logged in"
    assert scrubber.scrub_value({"k": ["x pa ss/wörd+1"], "n": 3}) == {"k": ["x ***"], "n": 3}


def test_short_values_are_not_masked_and_nothing_known_is_a_no_op() -> None:
    scrubber = Scrubber()
    assert scrubber.scrub("abc 123") == "abc 123"
    scrubber.add("abc")
    assert scrubber.scrub("abc 123") == "abc 123"


def test_log_lines_are_scrubbed_in_values_and_tracebacks() -> None:
    from orchestrator.scrubbing import SECRETS
    out = io.StringIO()
    before = structlog.get_config()
    configure("json", file=out)
    SECRETS.add("Hemmelig-42")
    try:
        log = structlog.get_logger("test")
        log.info("bot.note", detail="typed Hemmelig-42 into the form")
        try:
            raise RuntimeError("login failed for Hemmelig-42")
        except RuntimeError:
            log.exception("bot.failed")
    finally:
        SECRETS.forget()
        structlog.configure(**before)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["detail"] == "typed *** into the form"
    assert "Hemmelig-42" not in out.getvalue() and "***" in lines[1]["exception"]
