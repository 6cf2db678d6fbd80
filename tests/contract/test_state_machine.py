"""Property test: no sequence of queue operations reaches an illegal state or
breaks the audit chain. Runs against the real SQLite store (and PostgreSQL with
fewer examples), with a model of what each item's state must be.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from orchestrator.db import upgrade
from queues import LeaseLost, NewItem, RetryPolicy, Status, Store, open_store
from queues.states import ABANDONABLE, FINAL, RETRYABLE_BY_OPERATOR
from queues.testing import InMemoryStore
from tests.conftest import make_spec, truncate_all

MAX_ATTEMPTS = 2
MEMORY = "memory"  # the url that means the in-memory store


class QueueMachine(RuleBasedStateMachine):
    """Drives the store and a model of every item's state side by side."""

    url: str = ""
    refs = Bundle("refs")

    def __init__(self) -> None:
        super().__init__()
        writer = f"prop-{uuid.uuid4().hex[:8]}"
        self.store: Store = (InMemoryStore(writer=writer) if self.url == MEMORY
                             else open_store(self.url, writer=writer))
        self.store.upsert_process(
            make_spec(retry=RetryPolicy(MAX_ATTEMPTS, 0.0, 0.0, jitter=False)),
            actor="user:p")
        self.model: dict[int, str] = {}      # item id -> expected status
        self.attempts: dict[int, int] = {}   # attempts spent
        self.limit: dict[int, int] = {}
        self.held: dict[int, str] = {}       # item id -> worker holding it
        self.counter = 0

    def teardown(self) -> None:
        self.store.close()

    @rule(target=refs, n=st.integers(1, 3))
    def enqueue(self, n: int) -> list[str]:
        new = [NewItem(f"i{self.counter + k}", {"k": k}) for k in range(n)]
        self.counter += n
        result = self.store.enqueue("invoices", new, actor="user:p")
        for item_id in result.added.values():
            self.model[item_id] = Status.NEW
            self.attempts[item_id] = 0
            self.limit[item_id] = MAX_ATTEMPTS
        return [i.reference for i in new]

    @rule(refs=refs)
    def enqueue_again(self, refs: list[str]) -> None:
        result = self.store.enqueue("invoices", [NewItem(r, {}) for r in refs], actor="user:p")
        assert not result.added and set(result.existing) == set(refs)

    @rule(worker=st.sampled_from(["a", "b"]), n=st.integers(1, 3))
    def claim(self, worker: str, n: int) -> None:
        claimed = self.store.claim("invoices", worker, limit=n)
        claimable = sorted(i for i, s in self.model.items()
                           if s in (Status.NEW, Status.RETRY_SCHEDULED))
        assert [c.id for c in claimed] == sorted(c.id for c in claimed) or len(claimed) <= n
        assert len(claimed) == min(n, len(claimable))
        for c in claimed:
            assert self.model[c.id] in (Status.NEW, Status.RETRY_SCHEDULED)
            self.model[c.id] = Status.IN_PROGRESS
            self.attempts[c.id] += 1
            self.held[c.id] = worker
            assert c.attempt == self.attempts[c.id]

    def _held(self) -> list[int]:
        return sorted(self.held)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), how=st.sampled_from(["complete", "business", "app", "release"]))
    def finish(self, data: st.DataObject, how: str) -> None:
        item_id = data.draw(st.sampled_from(self._held()))
        worker = self.held.pop(item_id)
        if how == "complete":
            self.store.complete(item_id, worker, {"ok": True})
            self.model[item_id] = Status.DONE
        elif how == "business":
            self.store.fail_business(item_id, worker, code="RULE", message="broken")
            self.model[item_id] = Status.BUSINESS_FAILED
        elif how == "app":
            status = self.store.fail_application(item_id, worker, error_type="E", message="x")
            expect = (Status.DEAD if self.attempts[item_id] >= self.limit[item_id]
                      else Status.RETRY_SCHEDULED)
            assert status == expect
            self.model[item_id] = expect
        else:
            self.store.release(item_id, worker, reason="stop")
            self.limit[item_id] += 1
            self.model[item_id] = (Status.RETRY_SCHEDULED if self.attempts[item_id] > 1
                                   else Status.NEW)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def stranger_cannot_complete(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(self._held()))
        with pytest.raises(LeaseLost):
            self.store.complete(item_id, "stranger", {})

    @rule(data=st.data())
    def operator_retry(self, data: st.DataObject) -> None:
        if not self.model:
            return
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=3, unique=True))
        done = self.store.retry(ids, actor="user:p")
        assert done == sorted(i for i in ids if self.model[i] in RETRYABLE_BY_OPERATOR)
        for i in done:
            self.model[i] = Status.NEW
            self.limit[i] = self.attempts[i] + MAX_ATTEMPTS

    @rule(data=st.data())
    def operator_abandon(self, data: st.DataObject) -> None:
        if not self.model:
            return
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=3, unique=True))
        done = self.store.abandon(ids, actor="user:p", reason="no")
        assert done == sorted(i for i in ids if self.model[i] in ABANDONABLE)
        for i in done:
            self.model[i] = Status.ABANDONED

    @invariant()
    def states_match_the_model(self) -> None:
        if not self.model:
            return
        status = self.store.queue_status()[0]
        expected: dict[str, int] = {}
        for s in self.model.values():
            expected[s] = expected.get(s, 0) + 1
        assert status.counts == expected
        for item_id in list(self.model)[-3:]:
            view = self.store.get_item(item_id)
            assert view.status == self.model[item_id]
            assert view.attempts <= view.attempt_limit
            assert (view.lease_owner is not None) == (view.status == Status.IN_PROGRESS)
            if view.status in FINAL:
                assert view.finished_at is not None

    def check_audit(self) -> None:
        assert self.store.verify_audit().ok


def _run(url: str, examples: int, steps: int) -> None:
    QueueMachine.url = url
    original = QueueMachine.teardown

    def teardown(self: QueueMachine) -> None:
        try:
            self.check_audit()
        finally:
            original(self)
            truncate_or_reset(url)

    QueueMachine.teardown = teardown  # type: ignore[method-assign]
    try:
        test = QueueMachine.TestCase
        test.settings = settings(max_examples=examples, stateful_step_count=steps,
                                 deadline=None,
                                 suppress_health_check=list(HealthCheck))
        test().runTest()
    finally:
        QueueMachine.teardown = original  # type: ignore[method-assign]


def truncate_or_reset(url: str) -> None:
    if url == MEMORY:
        return  # each machine run makes a store of its own
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        upgrade(url)
    else:
        truncate_all(url)


def test_state_machine_on_memory() -> None:
    _run(MEMORY, examples=60, steps=30)


def test_state_machine_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prop.db'}"
    upgrade(url)
    _run(url, examples=40, steps=30)


@pytest.mark.postgres
def test_state_machine_on_postgres(pg_database: str) -> None:
    truncate_all(pg_database)
    _run(pg_database, examples=15, steps=25)
