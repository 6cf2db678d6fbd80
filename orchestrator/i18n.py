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
for a value inside; never an f-string, whose text differs every call), then add
its bokmål to `reports.po` as a `msgid "..."` / `msgstr "..."` pair with the
same `{placeholders}`; the English stays the msgid, so English output does not
change. `tests/unit/test_report_i18n.py` and `tests/integration/test_report_i18n.py`
fail for a text without a translation, a fuzzy or stale entry, or a lost
placeholder. A text that depends
on a count uses `ngettext("{n} item", "{n} items", n).format(n=n)`, with a
`msgid_plural` and `msgstr[0]`/`msgstr[1]` in the catalogue. Code that knows its
language and should not depend on the block in force takes a `Translator`:
`t = gettext_for("nb"); t._("Freed hours")`.
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


def ngettext(singular: str, plural: str, n: int) -> str:
    """`singular` or `plural` for `n`, in the language in force."""
    lang = _CURRENT.get()
    if lang == "en":
        return singular if n == 1 else plural
    return translations(lang).ngettext(singular, plural, n)


class Translator:
    """The reports' texts in one fixed language, whatever block is in force."""

    def __init__(self, lang: str, domain: str = "reports"):
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}: use {', '.join(LANGUAGES)}")
        self.lang = lang
        self._catalogue = translations(lang, domain)

    def _(self, text: str) -> str:
        return self._catalogue.gettext(text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalogue.ngettext(singular, plural, n)


@cache
def gettext_for(lang: str) -> Translator:
    """The `Translator` of the reports' catalogue for `lang` (`nb` or `en`)."""
    return Translator(lang)
