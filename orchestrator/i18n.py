"""Texts in Norwegian bokmål and English: gettext catalogues read with Babel.

English is written in the code (`_("Freed hours")`); each other language has
a `.po` catalogue, read and compiled in memory when first used, so nothing
needs a compile step at install time. The reports' catalogue is
`orchestrator/locale/<lang>/LC_MESSAGES/reports.po`; the console keeps its
own (`orchestrator/web/locale`).

The language of the reports is set for a block of work (`with language("nb"):`),
like a locale, because the labels are made deep inside the report code (column
titles, the Method sheet, chart axes) and passing a translator through every
call would touch every signature. A context variable keeps threads and
requests apart.

To add a text: write it as `_("...")` (or `_("... {name} ...").format(name=...)`
for a value inside), then add its bokmål to `reports.po`;
`tests/unit/test_report_i18n.py` fails for a text without one.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = {"nb": "Norsk bokmål", "en": "English"}
LOCALES = {"nb": "nb_NO", "en": "en_GB"}
CATALOGUES = Path(__file__).with_name("locale")
_CURRENT: ContextVar[str] = ContextVar("rpa_language", default="en")


@cache
def catalogue(path: Path, lang: str) -> gettext.NullTranslations:
    """The catalogue at `path` for `lang` (English, or no file: the source texts)."""
    if lang == "en" or not path.is_file():
        return gettext.NullTranslations()
    from babel import Locale  # only when a catalogue is read: English needs none
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        parsed = read_po(handle, locale=Locale.parse(LOCALES[lang]))
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translations(lang: str, domain: str = "reports") -> gettext.NullTranslations:
    return catalogue(CATALOGUES / lang / "LC_MESSAGES" / f"{domain}.po", lang)


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Reports made inside the block use `lang` (None: keep the one in force)."""
    if lang is None:
        yield _CURRENT.get()
        return
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: use {', '.join(LANGUAGES)}")
    token = _CURRENT.set(lang)
    try:
        yield lang
    finally:
        _CURRENT.reset(token)


def current() -> str:
    return _CURRENT.get()


def _(text: str) -> str:
    """`text` in the language in force."""
    lang = _CURRENT.get()
    return text if lang == "en" else translations(lang).gettext(text)
