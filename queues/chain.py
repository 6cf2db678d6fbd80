"""The hash chain of the audit log, apart from any database.

Each event is hashed over the previous event's hash and a canonical JSON of the
event itself (sorted keys, no spaces, UTF-8): HMAC-SHA256 under the audit key
(`ChainKey`, kept outside the database) for a keyed chain, plain SHA-256 for a
chain written before keys (or by a store given none). A keyed chain starts from
a keyed genesis that binds its id and writer, so without the key nobody can
recompute a chain after an edit, forge a new one, or rename its writer.
Writers append to
chains of their own, each a strict sequence whose head and length are stored,
so a walk of a chain (`check_chain`) finds an altered, removed or inserted
row, including a removed last row. Every store (SQL or in memory) hashes and
checks with these functions, so their chains agree to the byte.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64


# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
# default=str)` builds on every call, built once: hashing two texts per event, the
# encoder's construction was a fifth of the audit's cost. The output is identical.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value that every engine and run agrees on."""
    return _CANONICAL.encode(value)


@dataclass
class AuditEvent:
    """What to write: who did what to which process or item, and the figures."""

    actor: str
    action: str
    ts: float
    process: str | None = None
    owner: str | None = None
    cost_centre: str | None = None
    item_id: int | None = None
    freed_minutes: float | None = None
    robot_seconds: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


HASHED_FIELDS = ("chain_id", "seq", "ts", "actor", "action", "process", "owner",
                 "cost_centre", "item_id", "freed_minutes", "robot_seconds", "details")


class ChainKey:
    """The secret that keys chain hashes and checkpoints: 32 bytes, never stored in the database.

    The orchestrator derives it from its master key (`RPA_SECRET_KEY` or the key
    file), so a copy of the database alone can neither forge nor re-seal events.
    """

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("an audit key needs at least 32 bytes")
        self._secret = secret

    def mac(self, *parts: str) -> str:
        """HMAC-SHA256 over the parts, each length-prefixed so no two splits collide."""
        mac = hmac.new(self._secret, digestmod=hashlib.sha256)
        for part in parts:
            data = part.encode("utf-8")
            mac.update(len(data).to_bytes(8, "big"))
            mac.update(data)
        return mac.hexdigest()

    def genesis(self, chain_id: int, writer: str) -> str:
        """Where a keyed chain starts: binds its id and its writer's name."""
        return self.mac("rpa-audit-genesis-v1", str(chain_id), writer)


UNKEYED = " [unkeyed]"  # what a keyless store's chain names end in (and 0007's renames)


def chain_name(writer: str, key: ChainKey | None) -> str:
    """The chain a writer appends to: keyed and unkeyed chains never share a name."""
    return writer if key is not None else f"{writer[:189]}{UNKEYED}"


def chain_start(chain_id: int, writer: str, key: ChainKey | None) -> str:
    """The hash before a chain's first event."""
    return GENESIS if key is None else key.genesis(chain_id, writer)


def event_hash(prev_hash: str, row: Mapping[str, Any], key: ChainKey | None = None) -> str:
    """The hash of one stored row given the hash before it (keyed when `key` is given)."""
    body = canonical_json({name: row[name] for name in HASHED_FIELDS})
    if key is not None:
        return key.mac(prev_hash, body)
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(body.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Finding:
    """The first thing wrong in one chain."""

    chain_id: int
    writer: str
    event_id: int | None
    seq: int | None
    problem: str
    kind: str = "tampered"  # or "unvouched": an unkeyed chain no checkpoint vouches for


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` saw: how many events and chains, and what was wrong."""

    events: int
    chains: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def check_chain(writer: str, chain_id: int, head_hash: str, length: int,
                rows: Iterable[Mapping[str, Any]] | Iterable[Any],
                key: ChainKey | None = None) -> tuple[int, Finding | None]:
    """Walk one chain in order; return rows seen and the first problem, if any.

    `key` checks a keyed chain (its genesis binds `chain_id` and `writer`, so a
    renamed writer breaks its first link); None checks an unkeyed one.
    """
    prev, expected_seq, seen = chain_start(chain_id, writer, key), 1, 0
    for row in rows:
        seen += 1
        if row["seq"] != expected_seq:
            kind = "removed" if row["seq"] > expected_seq else "inserted"
            return seen, Finding(chain_id, writer, row["id"], row["seq"],
                                 f"event(s) {kind} before this one: expected position "
                                 f"{expected_seq}, found {row['seq']}")
        if row["prev_hash"] != prev:
            problem = ("does not start from its chain's keyed genesis: the chain's writer "
                       "or id was changed, or the chain was forged without the key"
                       if expected_seq == 1 and key is not None else
                       "does not link to the event before it (an event was removed or "
                       "inserted before it)")
            return seen, Finding(chain_id, writer, row["id"], row["seq"], problem)
        if event_hash(prev, row, key) != row["hash"]:
            return seen, Finding(chain_id, writer, row["id"], row["seq"],
                                 "was altered: its content does not match its hash")
        prev = row["hash"]
        expected_seq += 1
    if expected_seq - 1 != length or prev != head_hash:
        return seen, Finding(chain_id, writer, None, expected_seq - 1,
                             f"chain ends at position {expected_seq - 1} but its head "
                             f"says {length}: its last event(s) were removed or the head "
                             "was altered")
    return seen, None
