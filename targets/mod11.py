"""Modulus-11 check digits, as used by Norwegian organisation and identity numbers.

Both target portals hand out numbers a bot must be able to validate *before* it
submits anything, so the arithmetic lives in one place and is shared by the
data generators, the portals' own validation and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

ORG_NUMBER_WEIGHTS: tuple[int, ...] = (3, 2, 7, 6, 5, 4, 3, 2)


def mod11_check_digit(digits: Sequence[int], weights: Sequence[int]) -> int | None:
    """Return the mod-11 check digit for ``digits``, or ``None`` when none exists.

    A remainder that would give the check digit 10 has no valid digit; numbers
    built on such a prefix are never issued, so callers treat ``None`` as invalid.
    """
    if len(digits) != len(weights):
        raise ValueError("digits and weights differ in length")
    remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def is_valid_org_number(value: str) -> bool:
    """True for a 9-digit Norwegian organisation number with a correct check digit."""
    if len(value) != 9 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    return mod11_check_digit(digits[:8], ORG_NUMBER_WEIGHTS) == digits[8]


def complete_org_number(prefix: str) -> str | None:
    """Append the check digit to an 8-digit prefix; ``None`` if the prefix has none."""
    if len(prefix) != 8 or not prefix.isdigit():
        raise ValueError(f"an organisation number prefix has 8 digits, got {prefix!r}")
    check = mod11_check_digit([int(c) for c in prefix], ORG_NUMBER_WEIGHTS)
    return None if check is None else f"{prefix}{check}"
