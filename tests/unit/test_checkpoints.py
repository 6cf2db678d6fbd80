"""Checkpoints: sealed, linked, and never allowed to show less than the one before."""

from __future__ import annotations

import json

import pytest

from queues import checkpoints as cp
from queues.chain import ChainKey
from queues.testing import InMemoryStore

KEY = ChainKey(b"k" * 32)


def chain(id: int, length: int, head: str = "h") -> cp.ChainState:
    return cp.ChainState(id, f"w{id}", True, length, f"{head}{length}")


def test_an_exported_checkpoint_round_trips_and_its_seal_holds() -> None:
    first = cp.seal(KEY, id=1, created_at=1e9, created_by="t", chains=[chain(2, 3), chain(1, 5)],
                    prev_mac="")
    again = cp.parse(json.loads(json.dumps(first.as_dict())))
    assert again == first and again.sealed_by(KEY)
    assert not again.sealed_by(ChainKey(b"x" * 32))
    assert [c.id for c in again.chains] == [1, 2]


@pytest.mark.parametrize("data", [None, [], {"format": "other"}, {"format": cp.FORMAT},
                                  {"format": cp.FORMAT, "id": 1, "created_at": "NaN",
                                   "created_by": "t", "chains": [], "prev_mac": "", "mac": ""}])
def test_what_is_not_a_checkpoint_is_a_value_error(data: object) -> None:
    with pytest.raises(ValueError):
        cp.parse(data)


def test_a_later_checkpoint_that_lost_or_shortened_a_chain_is_a_finding() -> None:
    one = cp.seal(KEY, id=1, created_at=1, created_by="t", chains=[chain(1, 5), chain(2, 3)],
                  prev_mac="")
    grown = cp.seal(KEY, id=2, created_at=2, created_by="t", chains=[chain(1, 9), chain(2, 3)],
                    prev_mac=one.mac)
    assert cp.check_sequence(KEY, [one, grown]) == []
    lost = cp.seal(KEY, id=2, created_at=2, created_by="t", chains=[chain(1, 9)],
                   prev_mac=one.mac)
    (finding,) = cp.check_sequence(KEY, [one, lost])
    assert finding.chain_id == 2 and "removed" in finding.problem
    rehashed = cp.seal(KEY, id=2, created_at=2, created_by="t",
                       chains=[chain(1, 9), chain(2, 3, head="x")], prev_mac=one.mac)
    (finding,) = cp.check_sequence(KEY, [one, rehashed])
    assert finding.chain_id == 2 and "rewritten" in finding.problem
    unlinked = cp.seal(KEY, id=2, created_at=2, created_by="t", chains=[], prev_mac="")
    (finding,) = cp.check_sequence(KEY, [one, unlinked])
    assert "seal does not hold" in finding.problem


def test_the_memory_store_seals_and_checks_like_the_sql_ones() -> None:
    store = InMemoryStore(writer="w", audit_key=KEY)
    for _ in range(2):
        store.record_event(actor="t", action="x.y", details={})
    first = store.checkpoint_audit(actor="t")  # sees 2 events; its own event is the 3rd
    assert store.verify_audit(against=first).ok
    del store.db.events[1:]  # truncate to 1 and roll the head back
    (chain_row,) = store.db.chains.values()
    chain_row.length, chain_row.head_hash = 1, store.db.events[0]["hash"]
    result = store.verify_audit(against=first)
    assert any("truncated" in f.problem for f in result.findings), result
