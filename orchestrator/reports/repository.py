"""The reports' read model: SQL over the audit ledger and the candidates table.

Reports are aggregate reads that no store operation serves (sums by process,
owner and month over millions of events), so they keep SQL of their own, here
and in `ledger`, behind this repository. Nothing else in the orchestrator runs
SQL: the CLI hands the reports a `Store`, and the repository takes the
database from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from orchestrator.errors import ReportError
from queues import Store
from queues.engine import wrapped_errors
from queues.schema import audit_events, candidates_t


class ReportRepository:
    """Read (and, for candidates, write) transactions on the store's database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    @classmethod
    def of(cls, store: Store) -> ReportRepository:
        """The repository on `store`'s database; a store without one has no reports."""
        engine = getattr(store, "engine", None)
        if not isinstance(engine, sa.Engine):
            raise ReportError(f"reports read a SQL database; {type(store).__name__} has none")
        return cls(engine)

    @contextmanager
    def reading(self, action: str) -> Iterator[sa.Connection]:
        """One read-only transaction (``BEGIN DEFERRED`` on SQLite, so no write lock)."""
        with wrapped_errors(action), self.engine.connect() as raw:
            conn = raw.execution_options(rpa_readonly=True)
            with conn.begin():
                yield conn

    @contextmanager
    def writing(self, action: str) -> Iterator[sa.Connection]:
        """One write transaction, with the store's error wrapping."""
        with wrapped_errors(action), self.engine.begin() as conn:
            yield conn

    def add_candidate(self, values: dict[str, Any]) -> bool:
        """Insert a candidate row; False (nothing written) if its name is taken."""
        with self.writing(f"add candidate {values['name']}") as conn:
            taken = conn.execute(sa.select(candidates_t.c.id)
                                 .where(candidates_t.c.name == values["name"])).first()
            if taken is not None:
                return False
            conn.execute(sa.insert(candidates_t).values(**values))
        return True

    def link_candidate(self, name: str, process: str) -> bool:
        """Record that a candidate became `process`; False if there is no such candidate."""
        with self.writing(f"link candidate {name}") as conn:
            done = conn.execute(sa.update(candidates_t).where(candidates_t.c.name == name)
                                .values(process=process)).rowcount
        return bool(done)

    @staticmethod
    def candidates(conn: sa.Connection) -> list[sa.RowMapping]:
        """Every candidate row, inside the caller's read transaction."""
        return list(conn.execute(sa.select(candidates_t)).mappings())

    def freed_minutes(self, process: str) -> float:
        """Every minute the ledger credits `process` with, all time (the demo's check)."""
        with self.reading("sum freed minutes") as conn:
            return float(conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(audit_events.c.freed_minutes), 0))
                .where(audit_events.c.process == process)).scalar_one())
