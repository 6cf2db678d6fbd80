"""Norwegian national identity numbers (fødselsnummer and D-number): validate and make.

An 11-digit number ``DDMMYY III K1 K2``: birth date, individual number (which
also encodes the century) and two mod-11 check digits, the second computed over
the first ten digits including K1. A D-number (given to people who are not
residents) adds 4 to the first digit of the day. The recruitment portal rejects
bad numbers, so a bot must validate them itself before it submits a form.
"""

from __future__ import annotations

import random
from datetime import date

from targets.mod11 import mod11_check_digit

K1_WEIGHTS: tuple[int, ...] = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _century(individual: int, year: int) -> int | None:
    """The century of a two-digit birth year, as the individual number encodes it."""
    if individual <= 499:
        return 1900
    if individual <= 749 and year >= 54:
        return 1800
    if year <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None


def check_digits(first_nine: str) -> str | None:
    """K1 and K2 for the first nine digits, or ``None`` when no valid pair exists."""
    digits = [int(c) for c in first_nine]
    k1 = mod11_check_digit(digits, K1_WEIGHTS)
    if k1 is None:
        return None
    k2 = mod11_check_digit([*digits, k1], K2_WEIGHTS)
    return None if k2 is None else f"{k1}{k2}"


def birth_date(value: str, *, allow_d_number: bool = True) -> date | None:
    """The birth date encoded in the first nine digits, or ``None`` if there is none."""
    if len(value) < 9 or not value[:9].isdigit():
        return None
    day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
    if allow_d_number and day > 40:
        day -= 40
    century = _century(int(value[6:9]), year)
    if century is None:
        return None
    try:
        return date(century + year, month, day)
    except ValueError:
        return None


def nin_problem(value: str, *, allow_d_number: bool = True) -> str | None:
    """Why ``value`` is not a valid number (a sentence for the form), or ``None`` if it is."""
    if len(value) != 11 or not value.isdigit():
        return "A national identity number has exactly 11 digits."
    if birth_date(value, allow_d_number=allow_d_number) is None:
        return "The first six digits are not a valid birth date."
    if check_digits(value[:9]) != value[9:]:
        return "The check digits do not match; check the number for typing errors."
    return None


def is_valid_nin(value: str, *, allow_d_number: bool = True) -> bool:
    """True for a valid fødselsnummer (or D-number, unless ``allow_d_number`` is off)."""
    return nin_problem(value, allow_d_number=allow_d_number) is None


def _individual_range(born: date) -> range:
    """Individual numbers that encode the century of ``born``."""
    if 1854 <= born.year <= 1899:
        return range(500, 750)
    if 1900 <= born.year <= 1999:
        return range(0, 500)
    if 2000 <= born.year <= 2039:
        return range(500, 1000)
    raise ValueError(f"no national identity numbers exist for birth year {born.year}")


def make_nin(born: date, rng: random.Random, *, d_number: bool = False) -> str:
    """A random valid number for someone born on ``born`` (a D-number if asked)."""
    day = born.day + (40 if d_number else 0)
    prefix = f"{day:02d}{born.month:02d}{born.year % 100:02d}"
    choices = list(_individual_range(born))
    rng.shuffle(choices)
    for individual in choices:
        first_nine = f"{prefix}{individual:03d}"
        checks = check_digits(first_nine)
        if checks is not None:
            return first_nine + checks
    raise ValueError(f"no valid number for {born}")  # pragma: no cover - needs all 500 to fail


def corrupt_nin(value: str, rng: random.Random) -> str:
    """Change the last check digit, making a realistic typo that only the check catches."""
    last = int(value[-1])
    return value[:-1] + str((last + rng.randint(1, 9)) % 10)
