"""Repair hints: the locator read from Playwright's call log, candidates ranked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.worker.repair_hints import Wanted, closest, hint_text, wanted_from

LOG = 'Locator.click: Timeout 500ms exceeded.\nCall log:\n  - waiting for {}\n'


def test_the_locator_is_read_from_the_call_log() -> None:
    assert wanted_from(LOG.format('get_by_role("button", name="Godkjenn", exact=True)')) == \
        Wanted("button", "Godkjenn", "role")
    assert wanted_from(LOG.format('get_by_role("textbox")')) == Wanted("textbox", "", "role")
    assert wanted_from(LOG.format('get_by_label("Beløp")')) == Wanted(None, "Beløp", "label")
    assert wanted_from(LOG.format('get_by_text("Lagre")')) == Wanted(None, "Lagre", "text")
    assert wanted_from(LOG.format('locator("#approve")')) == \
        Wanted(None, "approve", "selector", "#approve")
    assert wanted_from("net::ERR_CONNECTION_REFUSED") is None


def test_the_closest_names_come_first_and_the_same_role_wins_a_tie() -> None:
    wanted = Wanted("button", "Godkjenn", "role")
    page = [("link", "Godkjenn faktura"), ("button", "Godkjenn faktura"),
            ("button", "Avvis"), ("heading", "Fakturaer"), ("link", "Godkjenn alle")]
    ranked = closest(wanted, page)
    assert [(r, n) for r, n, _ in ranked] == [("button", "Godkjenn faktura"),
                                               ("link", "Godkjenn alle"),
                                               ("link", "Godkjenn faktura")]
    assert hint_text(wanted, ranked) == ("button 'Godkjenn' not found; closest: button "
                                         "'Godkjenn faktura', link 'Godkjenn alle', link "
                                         "'Godkjenn faktura'")
    assert hint_text(wanted, closest(wanted, [("button", "Slett")])) == \
        "button 'Godkjenn' not found, and nothing like it is on the page"


@given(st.text(max_size=300), st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)),
                                       max_size=30))
def test_any_error_text_and_page_give_a_hint_or_none(text: str,
                                                    page: list[tuple[str, str]]) -> None:
    wanted = wanted_from(text)
    if wanted is not None:
        assert len(closest(wanted, page)) <= 3
        assert "not found" in hint_text(wanted, closest(wanted, page))


def test_a_css_locator_is_named_by_its_words() -> None:
    wanted = wanted_from(LOG.format('locator("input[name=invoice_no]")'))
    assert wanted == Wanted(None, "invoice no", "selector", "input[name=invoice_no]")
    ranked = closest(wanted, [("textbox", "Invoice number"), ("button", "Save")])
    assert hint_text(wanted, ranked) == ("selector 'input[name=invoice_no]' not found; "
                                         "closest: textbox 'Invoice number'")
    assert wanted_from(LOG.format('locator("div > span")')) is None  # no words to compare
