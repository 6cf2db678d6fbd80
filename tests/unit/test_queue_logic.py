"""Pure logic of the queue: retry decisions, priorities, the audit hash chain."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queues import Priority, RetryPolicy
from queues.chain import GENESIS, canonical_json, check_chain, event_hash


def test_retry_policy_gives_up_at_the_limit() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=10, backoff_max_seconds=1000,
                         jitter=False)
    assert [policy.decide(n).retry for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert [policy.decide(n).delay_seconds for n in (1, 2)] == [10, 20]
    assert policy.decide(3, attempt_limit=5).retry  # an operator's retry raised the limit


@given(st.integers(1, 40), st.floats(0.1, 100), st.floats(1, 10_000))
def test_backoff_is_capped_and_jittered_within_half_to_full(n: int, base: float,
                                                            cap: float) -> None:
    policy = RetryPolicy(max_attempts=100, backoff_seconds=base, backoff_max_seconds=cap)
    step = min(cap, base * 2 ** (n - 1))
    delay = policy.delay_for(n, random.Random(n))
    assert step * 0.5 <= delay <= step


@pytest.mark.parametrize(("text", "value"), [("high", 2), ("NORMAL", 1), ("low", 0),
                                             (None, 1), ("", 1), ("7", 7), (3, 3)])
def test_priority_parse(text: str | int | None, value: int) -> None:
    assert Priority.parse(text) == value


def test_priority_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="high, normal, low"):
        Priority.parse("urgent!")


def test_canonical_json_ignores_key_order_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": "Ø"}) == canonical_json({"a": "Ø", "b": 1})
    assert canonical_json({"a": "Ø"}) == '{"a":"Ø"}'


def _chain(n: int) -> list[dict[str, object]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row: dict[str, object] = {
            "id": seq, "chain_id": 1, "seq": seq, "ts": 1.0 * seq, "actor": "a",
            "action": "x", "process": None, "owner": None, "cost_centre": None,
            "item_id": seq, "freed_minutes": None, "robot_seconds": None, "details": "{}",
            "prev_hash": prev}
        row["hash"] = prev = event_hash(prev, row)
        rows.append(row)
    return rows


def test_chain_check_accepts_an_intact_chain() -> None:
    rows = _chain(5)
    assert check_chain("w", 1, str(rows[-1]["hash"]), 5, rows) == (5, None)


def test_chain_check_names_the_altered_row() -> None:
    rows = _chain(5)
    rows[2]["actor"] = "mallory"
    _, finding = check_chain("w", 1, str(rows[-1]["hash"]), 5, rows)
    assert finding is not None and finding.event_id == 3 and "altered" in finding.problem


def test_chain_check_finds_a_removed_middle_and_a_removed_tail() -> None:
    rows = _chain(5)
    _, gap = check_chain("w", 1, str(rows[-1]["hash"]), 5, rows[:2] + rows[3:])
    assert gap is not None and gap.event_id == 4 and "removed" in gap.problem
    _, tail = check_chain("w", 1, str(rows[-1]["hash"]), 5, rows[:4])
    assert tail is not None and tail.event_id is None and "last event" in tail.problem
