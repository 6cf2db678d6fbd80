"""The console in Norwegian bokmål and English: catalogues, numbers and times.

Texts are written in English in the templates and code (`_("...")`); the
bokmål catalogue is `locale/nb/LC_MESSAGES/messages.po`, read with Babel when
the module loads, so there is no compile step at install time. Numbers use
the locale's own format (`1 234,5` in bokmål) and times the configured zone
(Europe/Oslo by default).
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

from orchestrator.i18n import LANGUAGES, LOCALES, catalogue

CATALOGUES = Path(__file__).with_name("locale")


def translations(lang: str) -> gettext.NullTranslations:
    """The console's catalogue of a language (English is the source text itself)."""
    return catalogue(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", lang)


def pick_language(asked: str | None, cookie: str | None, accept: str, default: str) -> str:
    """The language: asked for in the URL, then the cookie, then the browser, then settings."""
    for choice in (asked, cookie):
        if choice in LANGUAGES:
            return choice
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in ("nb", "no", "nn"):
            return "nb"
        if tag == "en":
            return "en"
    return default


class Formatter:
    """Numbers and times for one language and time zone, as the templates call them."""

    def __init__(self, lang: str, timezone: str):
        self.lang = lang
        self.locale = LOCALES[lang]
        self.zone = ZoneInfo(timezone)
        self._ = translations(lang).gettext

    def number(self, value: float | int | Decimal | None, places: int = 0) -> str:
        if value is None:
            return "-"
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def time(self, epoch: float | None) -> str:
        if epoch is None:
            return "-"
        moment = datetime.fromtimestamp(epoch, UTC).astimezone(self.zone)
        return format_datetime(moment, "yyyy-MM-dd HH:mm:ss", tzinfo=self.zone,
                               locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """`45 s`, `12 min`, `3,5 h`, `2 d`: how long, in a unit a person reads at once."""
        if seconds is None:
            return "-"
        if seconds < 90:
            return f"{self.number(seconds)} s"
        if seconds < 90 * 60:
            return f"{self.number(seconds / 60)} min"
        if seconds < 48 * 3600:
            return f"{self.number(seconds / 3600, 1)} h"
        return f"{self.number(seconds / 86400, 1)} d"
