"""Keyed checkpoints of the audit log: what a hash chain alone cannot show.

A chain proves its own rows, but not that it exists: deleting a whole chain (its
head and every event), or deleting its last events and rolling the head back,
leaves nothing inconsistent behind. A checkpoint records every chain there is,
with its writer, whether it is keyed, its length and its head hash, and is
sealed with an HMAC under the audit key over its body and the seal of the
checkpoint before it. So the checkpoints are an append-only record of their
own: one cannot be altered, and none but the last removed, without the key.

`rpa audit verify` holds the database against the latest checkpoint (and,
with `--against FILE`, one an auditor exported and kept elsewhere, which also
catches removing the last checkpoints): every chain named must still be there,
under the same writer, at least as long, with the same hash at the length the
checkpoint saw. Everything here is pure; the stores supply the rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from queues.chain import ChainKey, Finding, canonical_json

FORMAT = "rpa-audit-checkpoint/1"


@dataclass(frozen=True)
class ChainState:
    """One chain as a checkpoint saw it."""

    id: int
    writer: str
    keyed: bool
    length: int
    head: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "writer": self.writer, "keyed": self.keyed,
                "length": self.length, "head": self.head}


@dataclass(frozen=True)
class Checkpoint:
    """A sealed record of every chain at one moment."""

    id: int
    created_at: float
    created_by: str
    chains: tuple[ChainState, ...]
    prev_mac: str
    mac: str

    def body(self) -> str:
        return canonical_json({"id": self.id, "created_at": self.created_at,
                               "created_by": self.created_by,
                               "chains": [c.as_dict() for c in self.chains]})

    def sealed_by(self, key: ChainKey) -> bool:
        return key.mac("rpa-audit-checkpoint-v1", self.prev_mac, self.body()) == self.mac

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "id": self.id, "created_at": self.created_at,
                "created_by": self.created_by, "chains": [c.as_dict() for c in self.chains],
                "prev_mac": self.prev_mac, "mac": self.mac}


def seal(key: ChainKey, *, id: int, created_at: float, created_by: str,
         chains: Sequence[ChainState], prev_mac: str) -> Checkpoint:
    """A new checkpoint, sealed after `prev_mac` (the last checkpoint's, or "")."""
    draft = Checkpoint(id, created_at, created_by, tuple(sorted(chains, key=lambda c: c.id)),
                       prev_mac, "")
    mac = key.mac("rpa-audit-checkpoint-v1", prev_mac, draft.body())
    return Checkpoint(draft.id, created_at, created_by, draft.chains, prev_mac, mac)


def parse(data: Any) -> Checkpoint:
    """A checkpoint from its exported JSON; ValueError says what is wrong with it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not an audit checkpoint (expected \"format\": \"{FORMAT}\")")
    try:
        chains = tuple(ChainState(int(c["id"]), str(c["writer"]), bool(c["keyed"]),
                                  int(c["length"]), str(c["head"])) for c in data["chains"])
        created_at = float(data["created_at"])
        checkpoint = Checkpoint(int(data["id"]), created_at, str(data["created_by"]),
                                chains, str(data["prev_mac"]), str(data["mac"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"an audit checkpoint with a missing or malformed field ({err})"
                         ) from None
    if not math.isfinite(created_at):
        raise ValueError("an audit checkpoint with a malformed time")
    return checkpoint


def from_row(row: Mapping[str, Any]) -> Checkpoint:
    """A checkpoint as the `audit_checkpoints` table stores it."""
    body = json.loads(row["body"])
    return Checkpoint(int(row["id"]), float(row["created_at"]), str(row["created_by"]),
                      tuple(ChainState(**c) for c in body["chains"]), str(row["prev_mac"]),
                      str(row["mac"]))


def check_sequence(key: ChainKey, checkpoints: Sequence[Checkpoint]) -> list[Finding]:
    """Every stored checkpoint sealed by the key, linked to the one before it, and never
    showing less than it: a chain that one checkpoint saw and the next did not (or saw
    shorter) was removed in between, and the later seal must not launder that."""
    prev: Checkpoint | None = None
    for checkpoint in checkpoints:
        if checkpoint.prev_mac != (prev.mac if prev else "") or not checkpoint.sealed_by(key):
            return [Finding(0, "checkpoints", None, checkpoint.id,
                            f"audit checkpoint {checkpoint.id} was altered, forged, or one "
                            "before it was removed: its seal does not hold")]
        if prev is not None:
            later = {c.id: c for c in checkpoint.chains}
            found = hold_against(prev, later, _head_of(later), f"checkpoint {prev.id}",
                                 compare_heads=False)
            if found:
                return [Finding(f.chain_id, f.writer, None, f.seq,
                                f"{f.problem} (by checkpoint {checkpoint.id})") for f in found]
        prev = checkpoint
    return []


def _head_of(chains: Mapping[int, ChainState]) -> Callable[[int, int], str | None]:
    """`hash_at` for a checkpoint's own record: it knows each chain's head only."""
    def hash_at(chain_id: int, seq: int) -> str | None:
        chain = chains[chain_id]
        return chain.head if chain.length == seq else None
    return hash_at


def hold_against(checkpoint: Checkpoint, chains: Mapping[int, ChainState],
                 hash_at: Callable[[int, int], str | None], label: str, *,
                 compare_heads: bool = True) -> list[Finding]:
    """What in the database contradicts `checkpoint` (a chain gone, renamed, shortened,
    or rewritten up to the length the checkpoint saw). Without `compare_heads` the
    hash is compared only where the chain did not grow (two checkpoints side by side)."""
    findings = []
    for seen in checkpoint.chains:
        now = chains.get(seen.id)
        if now is None:
            findings.append(Finding(seen.id, seen.writer, None, None,
                                    f"was removed: {label} saw it with {seen.length} "
                                    "event(s), and it is gone"))
        elif now.writer != seen.writer:
            findings.append(Finding(seen.id, now.writer, None, None,
                                    f"was renamed: {label} saw it as {seen.writer!r}"))
        elif now.keyed != seen.keyed:
            findings.append(Finding(seen.id, now.writer, None, None,
                                    f"changed how it is hashed since {label}"))
        elif now.length < seen.length:
            findings.append(Finding(seen.id, now.writer, None, now.length,
                                    f"was truncated: {label} saw {seen.length} event(s), "
                                    f"now it has {now.length}"))
        elif seen.length and (compare_heads or now.length == seen.length) and \
                hash_at(seen.id, seen.length) != seen.head:
            findings.append(Finding(seen.id, now.writer, None, seen.length,
                                    f"was rewritten: its event at position {seen.length} "
                                    f"is not the one {label} saw"))
    return findings


def unvouched(chains: Mapping[int, ChainState], first: Checkpoint | None) -> list[Finding]:
    """Unkeyed chains that no checkpoint vouches for: anyone could have written them."""
    vouched = {c.id for c in first.chains} if first is not None else set()
    return [Finding(c.id, c.writer, None, None,
                    "has no keyed hashes and is not in the first audit checkpoint: it was "
                    "forged, or written by a store that was given no key", kind="unvouched")
            for c in chains.values() if not c.keyed and c.id not in vouched]


def checkpoint_findings(key: ChainKey, chains: dict[int, ChainState],
                        checkpoints: list[Checkpoint],
                        hash_at: Callable[[int, int], str | None],
                        against: Checkpoint | None) -> list[Finding]:
    """What the checkpoints (stored, and an exported one) say is wrong with the chains."""
    findings = check_sequence(key, checkpoints)
    if not findings and checkpoints:
        findings += hold_against(checkpoints[-1], chains, hash_at,
                                    f"checkpoint {checkpoints[-1].id}")
    findings += unvouched(chains, checkpoints[0] if checkpoints else None)
    if against is not None:
        if not against.sealed_by(key):
            findings.append(Finding(0, "checkpoint file", None, against.id,
                                    "the exported checkpoint's seal does not hold: it was "
                                    "altered, or made under another key"))
        else:
            stored = {c.id: c for c in checkpoints}.get(against.id)
            if stored is None or stored.mac != against.mac:
                findings.append(Finding(0, "checkpoints", None, against.id,
                                        f"checkpoint {against.id} of the exported file is "
                                        "missing from the database, or differs"))
            findings += hold_against(against, chains, hash_at, "the exported checkpoint")
    return findings
