"""Money as integer øre, and numbers formatted for people and for ledgers.

Every amount inside the reports is an ``int`` of øre (1 NOK = 100 øre). Integers
add up exactly, so an allocation can be checked to the øre against the invoice
it splits; floats cannot promise that. Amounts enter through ``to_ore``, which
refuses anything that is not a whole number of øre instead of rounding it
silently: a typo like ``12.345`` in a cost file should be an error, not a
fraction of an øre quietly lost.

Two output forms exist on purpose:

* ``format_nok`` - Norwegian display, ``12 345,67`` (space grouping, decimal
  comma), for terminals, charts and documents.
* ``format_plain`` - ``12345.67`` (no grouping, decimal point), for CSV and
  JSON, where a comma or a space would make the number ambiguous to a parser.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from orchestrator.reports.periods import ReportError

ORE_PER_NOK = 100

# Digits with optional groups of three separated by space, NBSP, narrow NBSP or
# underscore ("1 200 000.00", "1_200_000"), or plain digits; decimals after ".".
_AMOUNT = re.compile(r"[+-]?(?:\d{1,3}(?:[ _\u00a0\u202f]\d{3})+|\d+)(?:\.\d+)?")


class MoneyError(ReportError, ValueError):
    """An amount that is not a whole number of øre, or negative where it may not be."""


def to_ore(value: str | int | Decimal, *, allow_negative: bool = False) -> int:
    """Convert an amount in NOK to integer øre, exactly.

    ``str`` (``"1200000.00"``, ``"1 200 000"``), ``int`` (whole kroner) and
    ``Decimal`` are accepted. More than two decimals are refused unless the
    extra digits are zeros (``"1.500"`` is 150 øre), because rounding here would
    hide typos. A comma is refused rather than guessed at: ``"1,200"`` is 1.20
    to a Norwegian and 1200 to an English reader. Negative amounts are refused
    unless the caller says a credit makes sense there (``allow_negative``).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise MoneyError(f"an amount must be text, an integer or a Decimal, not {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if "," in text:
            raise MoneyError(f"{value!r}: use '.' for decimals and no thousands commas")
        if not _AMOUNT.fullmatch(text):
            raise MoneyError(f'{value!r} is not an amount like "1200000.00"')
        number = Decimal(re.sub(r"[ _\u00a0\u202f]", "", text))
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount")
    ore = Fraction(number) * ORE_PER_NOK
    if ore.denominator != 1:
        raise MoneyError(f"{value!r} has more than 2 decimals; amounts are whole øre")
    if ore < 0 and not allow_negative:
        raise MoneyError(f"{value!r} is negative; only non-negative amounts are allowed here")
    return int(ore)


def ore_to_nok(ore: int) -> Decimal:
    """Exact ``Decimal`` kroner for ``ore`` (built from text, so no context rounding)."""
    return Decimal(f"{int(ore)}E-2")


def _group(digits: str, sep: str) -> str:
    """Insert ``sep`` every three digits from the right."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


def format_number(
    value: Decimal | int | Fraction, places: int = 2, *, sep: str = " ", point: str = ","
) -> str:
    """Norwegian-style number: ``1234.5`` -> ``"1 234,50"``.

    Rounds half up (away from zero) because that is what readers expect from a
    displayed figure; calculations never go through this function.
    """
    if isinstance(value, Fraction):
        with localcontext() as ctx:
            ctx.prec = 60
            number = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        number = Decimal(value)
    with localcontext() as ctx:
        ctx.prec = max(60, number.adjusted() + places + 5)
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    text = sign + _group(whole, sep)
    return f"{text}{point}{fraction}" if places > 0 else text


def plain_decimal(value: Decimal | int | Fraction, places: int = 2) -> str:
    """Ledger form of a number: ``"1234.50"``, no grouping, ``.`` for decimals."""
    return format_number(value, places, sep="", point=".")


def format_nok(ore: int, *, places: int = 2, sep: str = " ") -> str:
    """``1234567`` øre -> ``"12 345,67"``; ``places=0`` gives whole kroner.

    The grouping separator is an ordinary space by default so text stays ASCII
    friendly in logs; pass ``sep="\\u00a0"`` for typeset documents.
    """
    return format_number(ore_to_nok(ore), places, sep=sep)


def format_plain(ore: int) -> str:
    """``1234567`` øre -> ``"12345.67"``, exact (no rounding ever needed)."""
    sign = "-" if ore < 0 else ""
    kroner, rest = divmod(abs(int(ore)), ORE_PER_NOK)
    return f"{sign}{kroner}.{rest:02d}"
