"""Small view models for tables and label/value lists, and the layout switch's effect.

Both portals render the same two shapes a bot must read: tables with header
cells and ``<dl>`` lists of labelled values. Building them from these records lets
``changed_layout`` reorder them and rename their ids in one place, while the
visible header and label texts stay the same.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cell:
    """One table cell; a link when ``href`` is set, right-aligned when ``numeric``."""

    text: str
    href: str | None = None
    numeric: bool = False


@dataclass(frozen=True)
class Detail:
    """One labelled value of a ``<dl>``; ``id`` names the ``<dd>``, its ``<dt>`` adds ``-label``.

    Templates wrap each pair in a ``<div role="group">`` named by the ``<dt>``, so the
    value is reachable by role and label alone.
    """

    label: str
    value: str
    id: str
    href: str | None = None


def arrange(items: Sequence[T], changed: bool) -> list[T]:
    """The items in the normal order, or in the changed layout's (reversed) order."""
    return list(reversed(items)) if changed else list(items)


def element_id(key: str, changed: bool) -> str:
    """An ``id``/``name`` attribute: readable normally, opaque in the changed layout."""
    return f"v2-{zlib.crc32(key.encode()):08x}" if changed else key


def details(rows: Sequence[tuple[str, str, str] | tuple[str, str, str, str | None]],
            changed: bool) -> list[Detail]:
    """Build ``Detail`` records from ``(key, label, value[, href])`` and arrange them."""
    built = [
        Detail(label=row[1], value=row[2], id=element_id(row[0], changed),
               href=row[3] if len(row) > 3 else None)
        for row in rows
    ]
    return arrange(built, changed)
