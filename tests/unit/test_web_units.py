"""Pure pieces of the console: roles, actors, the login limiter, the catalogue, cursors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import UsageError
from orchestrator.services.access import AccessDenied, Permission, Principal, Role
from orchestrator.services.items import decode_cursor, mask
from orchestrator.web.i18n import Formatter, pick_language, translations
from orchestrator.web.security import LoginLimiter

TEMPLATES = Path(__file__).resolve().parents[2] / "orchestrator" / "web" / "templates"


def test_actors_say_how_the_principal_came_in() -> None:
    assert Principal("kari", Role.OWNER, owner="HR").actor == "web:kari"
    assert Principal("ci", Role.OPERATOR, via="token", token_id=7).actor == "token:ci#7"
    assert Principal("os:root", Role.ADMIN, via="cli").actor == "os:root"


def test_an_auditor_sees_payloads_only_with_the_grant() -> None:
    assert not Principal("a", Role.AUDITOR).may(Permission.VIEW_PAYLOADS)
    assert Principal("a", Role.AUDITOR, payload_access=True).may(Permission.VIEW_PAYLOADS)
    assert not Principal("a", Role.AUDITOR, payload_access=True).may(Permission.OPERATE_ITEMS)


def test_finance_may_not_touch_items_and_says_so() -> None:
    with pytest.raises(AccessDenied, match="finance role may not retry or abandon"):
        Principal("f", Role.FINANCE).require(Permission.OPERATE_ITEMS)


def test_an_owner_sees_only_their_own_owner() -> None:
    kari = Principal("kari", Role.OWNER, owner="HR")
    assert kari.sees("HR") and not kari.sees("Finance")
    assert Principal("o", Role.OPERATOR).sees("anything")


def test_the_login_limiter_forgets_after_a_minute() -> None:
    limiter = LoginLimiter(per_minute=3)
    assert [limiter.allow("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limiter.allow("b", now=3)
    assert limiter.allow("a", now=61)


def test_language_choice() -> None:
    assert pick_language("en", "nb", "nb", "nb") == "en"
    assert pick_language(None, "en", "nb", "nb") == "en"
    assert pick_language(None, None, "nn-NO,en;q=0.5", "en") == "nb"
    assert pick_language("xx", None, "de", "nb") == "nb"


def test_norwegian_numbers_and_times() -> None:
    nb = Formatter("nb", "Europe/Oslo")
    assert nb.number(1234567.5, 1) == "1\xa0234\xa0567,5"
    assert nb.time(0) == "1970-01-01 01:00:00"
    assert nb.duration(5400) == "1,5 h"
    assert Formatter("en", "Europe/Oslo").number(1234.5, 1) == "1,234.5"


def test_every_text_in_the_templates_has_a_bokmal_translation() -> None:
    found = set()
    for template in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r"""_\((?:"([^"]+)"|'([^']+)')\)""",
                                template.read_text("utf-8")))
    texts = {a or b for a, b in found}
    nb = translations("nb")
    missing = sorted(t for t in texts if nb.gettext(t) == t and t not in ("OK", "Id",
                                                                          "Status", "Node"))
    assert len(texts) > 100 and missing == []


def test_mask_keeps_the_shape_only() -> None:
    assert mask({"nin": "01010112345", "rows": [1, {"a": None}]}) == \
        {"nin": "•••", "rows": ["•••", {"a": "•••"}]}


@given(st.text(max_size=60))
def test_a_made_up_cursor_is_a_usage_error(text: str) -> None:
    try:
        at, item_id = decode_cursor(text)
    except UsageError:
        return
    assert isinstance(at, float) and isinstance(item_id, int)
