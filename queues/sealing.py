"""Sealing the personal data a row holds: payloads, outputs and error texts, at rest.

The store seals what it writes and opens what it reads, with a `Sealer` the
orchestrator gives it (envelope encryption: a data key per process, wrapped by
the master key, see `orchestrator.encryption`); the queue's SQL never changes.
A sealed JSON value is stored as `{"enc1": TOKEN}` and a sealed text as
`enc1:TOKEN`, so a column holds sealed and older clear values side by side, and
a store without a sealer still reads clear rows (and shows sealed ones as such).
"""

from __future__ import annotations

import json
from typing import Any

MARK = "enc1"
TEXT_MARK = MARK + ":"
SEALED_JSON = {"(encrypted)": "the master key is needed to read this"}
SEALED_TEXT = "(encrypted: the master key is needed to read this)"
# built once: `json.dumps` with arguments builds an encoder on every call, a third of
# what sealing a small payload cost
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Sealer:
    """Encrypts and decrypts one datum; `prepare` makes sure a process has its key."""

    def prepare(self, process: str) -> None:
        """Create `process`'s data key if it has none (in a transaction of its own:
        called before the store opens the transaction that will seal with it)."""
        raise NotImplementedError

    def seal(self, process: str, text: str) -> str:
        """A token holding `text`, under `process`'s data key (prepared before)."""
        raise NotImplementedError

    def open(self, token: str) -> str:
        """The text a token holds (its data key's id is inside it)."""
        raise NotImplementedError

    def digest(self, process: str, reference: str) -> str:
        """A keyed digest of a reference that is itself personal (`hash_reference`): the
        same reference always gives the same digest, so it stays unique and searchable,
        but the database alone cannot tell whose it is."""
        raise NotImplementedError


def seal_json(sealer: Sealer | None, process: str, value: Any) -> Any:
    if sealer is None or value is None:
        return value
    return {MARK: sealer.seal(process, _ENCODER.encode(value))}


def is_sealed_json(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARK), str)


def open_json(sealer: Sealer | None, value: Any) -> Any:
    if not is_sealed_json(value):
        return value
    if sealer is None:
        return dict(SEALED_JSON)
    return json.loads(sealer.open(value[MARK]))


def seal_text(sealer: Sealer | None, process: str, text: str | None) -> str | None:
    if sealer is None or text is None:
        return text
    return TEXT_MARK + sealer.seal(process, text)


def open_text(sealer: Sealer | None, text: str | None) -> str | None:
    if text is None or not text.startswith(TEXT_MARK):
        return text
    if sealer is None:
        return SEALED_TEXT
    return sealer.open(text[len(TEXT_MARK):])

