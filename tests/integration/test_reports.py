"""Reports from the audit log, on SQLite and PostgreSQL, checked against hand-computed answers.

Items are driven through the real store (enqueue, claim, complete, fail), with
the store's clock pinned so each event lands at a known local time. The
figures below are worked out by hand in the comments of each test.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.reports import service
from orchestrator.reports.allocation import CostLine, allocate
from orchestrator.reports.candidates import CandidateError
from orchestrator.reports.ledger import read_ledger
from orchestrator.reports.periods import parse_period
from queues.schema import audit_chains, audit_events, metadata
from queues.sql_store import SqlStore
from tests.conftest import items, make_spec

OSLO = ZoneInfo("Europe/Oslo")
WORKER = "w1"


def at(text: str) -> float:
    """Epoch seconds of a local (Oslo) wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


class Clock:
    """A settable clock for the store: `clock.now = at(...)` moves time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(store: SqlStore) -> Clock:
    c = Clock(at("2026-01-01T08:00:00"))
    store.clock = c
    return c


def claim(store: SqlStore, process: str, n: int) -> list[int]:
    got = store.claim(process, WORKER, limit=n)
    assert len(got) == n
    return [c.id for c in got]


def complete(store: SqlStore, clock: Clock, process: str, n: int, when: str,
             took: float = 60.0, prefix: str | None = None) -> None:
    """Enqueue, claim and complete n items, each attempt `took` seconds, ending at `when`."""
    end = at(when)
    clock.now = end - took
    store.enqueue(process, items(n, prefix or f"{process}-{when}-"), actor="test")
    for item_id in claim(store, process, n):
        clock.now = end
        store.complete(item_id, WORKER, {"ok": True})


def write_costs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costs.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def two_processes(store: SqlStore, clock: Clock) -> SqlStore:
    """March 2026 on two processes, plus one idle process.

    invoices (Finance, 1200): 6 min/item, 2 min per business exception.
      5 items claimed at 10:00:00.
      3 completed at 10:01:00              robot 3 x 60 s  = 180 s, freed 3 x 6 = 18 min
      1 business exception at 10:02:00     robot 120 s,            freed -2 min
      1 application error at 10:00:30      robot 30 s (retry), then claimed again at
        10:05:00 and completed at 10:05:30 robot 30 s,             freed 6 min
      => done 4, exceptions 1, robot 360 s, freed 22 min
    applicants (HR, 1400): 4 min/item, no exception minutes.
      2 items claimed at 11:00:00, completed at 11:01:30: robot 2 x 90 s = 180 s,
      freed 2 x 4 = 8 min
      => done 2, exceptions 0, robot 180 s, freed 8 min
    archive (IT, 9000): registered, never ran.
    """
    store.upsert_process(make_spec("invoices", manual_minutes_per_item=6.0,
                                   exception_minutes_per_item=2.0), actor="test")
    store.upsert_process(make_spec("applicants", owner="HR", cost_centre="1400",
                                   manual_minutes_per_item=4.0), actor="test")
    store.upsert_process(make_spec("archive", owner="IT", cost_centre="9000"), actor="test")
    clock.now = at("2026-03-10T10:00:00")
    store.enqueue("invoices", items(5, "inv"), actor="test")
    ids = claim(store, "invoices", 5)
    clock.now = at("2026-03-10T10:01:00")
    for item_id in ids[:3]:
        store.complete(item_id, WORKER)
    clock.now = at("2026-03-10T10:02:00")
    store.fail_business(ids[3], WORKER, code="NO_PO", message="no purchase order")
    clock.now = at("2026-03-10T10:00:30")
    assert store.fail_application(ids[4], WORKER, error_type="Timeout",
                                  message="slow") == "retry_scheduled"
    clock.now = at("2026-03-10T10:05:00")
    assert claim(store, "invoices", 1) == [ids[4]]
    clock.now = at("2026-03-10T10:05:30")
    store.complete(ids[4], WORKER)
    clock.now = at("2026-03-10T11:00:00")
    store.enqueue("applicants", items(2, "app"), actor="test")
    app_ids = claim(store, "applicants", 2)
    clock.now = at("2026-03-10T11:01:30")
    for item_id in app_ids:
        store.complete(item_id, WORKER)
    return store


def test_hours_by_owner_known_answer(two_processes: SqlStore) -> None:
    outcome = service.hours_report(two_processes, "2026-03", by="owner")
    rows = {row.key: row for row in outcome.report.rows}
    assert list(rows) == ["Finance", "HR", "IT"]  # most hours first, idle last
    assert (rows["Finance"].items_done, rows["Finance"].business_exceptions) == (4, 1)
    assert rows["Finance"].freed_minutes == Decimal(22)
    assert rows["HR"].freed_minutes == Decimal(8)
    assert rows["IT"].freed_minutes == 0
    total = outcome.report.total
    assert (total.items_done, total.business_exceptions, total.freed_hours) == (
        6, 1, Decimal("0.5"))
    # March has 31 days: one FTE holds 1695 x 31 / 365.2425 = 143.86... hours in it
    assert total.fte == Decimal(30) * Decimal("365.2425") / (60 * Decimal(1695) * 31)
    assert total.fte_years == Decimal("0.5") / 1695
    assert outcome.report.fte_hours_per_year == 1695


def test_hours_by_process_and_cost_centre(two_processes: SqlStore) -> None:
    by_process = service.hours_report(two_processes, "2026-Q1", by="process")
    assert [(r.key, r.freed_minutes) for r in by_process.report.rows] == [
        ("invoices", 22), ("applicants", 8), ("archive", 0)]
    by_centre = service.hours_report(two_processes, "2026-03", by="cost-centre")
    assert {r.key: r.items_done for r in by_centre.report.rows} == {
        "1200": 4, "1400": 2, "9000": 0}


def test_robot_time_counts_every_attempt(two_processes: SqlStore) -> None:
    with service.reading(two_processes, "test") as conn:
        ledger = read_ledger(conn, parse_period("2026-03"))
    robot = {u.process: u.robot_seconds for u in ledger.by_process()}
    assert robot == {"applicants": Decimal(180), "archive": 0, "invoices": Decimal(360)}


def test_costs_known_answer(two_processes: SqlStore, tmp_path: Path) -> None:
    # licence 1 000,00 by robot minutes: invoices 360 s, applicants 180 s
    #   invoices 100 000 x 2/3 = 66 666,67 -> floor 66 666 (+1 leftover, larger remainder)
    #   applicants 100 000 x 1/3 = 33 333,33 -> 33 333
    # operations 300,00 equally over the two ACTIVE processes: 15 000 each
    # direct 50,00 to the idle archive process
    # value: 30 freed min = 0,5 h x 600,00 = 30 000 øre, split 22:8 -> 22 000 / 8 000
    costs = write_costs(tmp_path, """\
        hourly_rate: "600.00"
        periods:
          - period: 2026-03
            lines:
              - {name: Licence, amount: "1000.00", driver: robot_minutes}
              - {name: Operations, amount: "300.00", driver: equal}
              - {name: Archive storage, amount: "50.00", driver: direct, process: archive}
        """)
    outcome = service.costs_report(two_processes, "2026-03", costs_file=costs)
    rows = {row.key: row for row in outcome.result.by("process")}
    assert rows["invoices"].cost_by_line == {"Licence": 66_667, "Operations": 15_000,
                                             "Archive storage": 0}
    assert (rows["invoices"].cost_ore, rows["invoices"].value_ore) == (81_667, 22_000)
    assert (rows["applicants"].cost_ore, rows["applicants"].value_ore) == (48_333, 8_000)
    assert (rows["archive"].cost_ore, rows["archive"].value_ore) == (5_000, 0)
    # 81 667 øre / (22/60 h) = 222 728,18... øre per hour
    assert rows["invoices"].cost_per_freed_hour_ore == 222_728
    assert rows["archive"].cost_per_freed_hour_ore is None
    assert outcome.result.total().cost_ore == 135_000 == outcome.result.total_cost_ore
    by_owner = {row.key: row.cost_ore for row in outcome.result.by("owner")}
    assert by_owner == {"Finance": 81_667, "HR": 48_333, "IT": 5_000}
    assert outcome.rate_source == str(costs)
    override = service.costs_report(two_processes, "2026-03", costs_file=costs,
                                    hourly_rate_ore=120_000)
    assert override.result.total().value_ore == 60_000
    assert override.rate_source == "--hourly-rate"


def test_costs_are_pro_rated_and_report_the_table(two_processes: SqlStore,
                                                  tmp_path: Path) -> None:
    # a yearly licence of 3 650,00 gives March (31 of 365 days) exactly 310,00
    costs = write_costs(tmp_path, """\
        hourly_rate: "600.00"
        periods:
          - period: 2026
            lines:
              - {name: Licence, amount: "3650.00", driver: items_done}
        """)
    outcome = service.costs_report(two_processes, "2026-03", costs_file=costs)
    # items done 4 : 2 -> 206,67 / 103,33
    assert {r.key: r.cost_ore for r in outcome.result.rows} == {
        "applicants": 10_333, "archive": 0, "invoices": 20_667}
    table = outcome.table()
    assert table.total is not None and table.total["cost"] == 31_000
    assert "audit log" in table.method and str(costs) in table.method


def test_changing_manual_minutes_leaves_earlier_periods_unchanged(
        store: SqlStore, clock: Clock) -> None:
    # January: 2 items at 6 min = 12 min. Then the process is changed to 10 min/item.
    # February: 3 items at 10 min = 30 min. January must still say 12, not 20.
    clock.now = at("2026-01-02T08:00:00")
    store.upsert_process(make_spec("invoices", manual_minutes_per_item=6.0), actor="test")
    complete(store, clock, "invoices", 2, "2026-01-15T10:00:00")
    before = service.hours_report(store, "2026-01", by="process").report.total.freed_minutes
    clock.now = at("2026-02-01T09:00:00")
    store.upsert_process(make_spec("invoices", manual_minutes_per_item=10.0), actor="test")
    complete(store, clock, "invoices", 3, "2026-02-10T10:00:00")

    def freed(period: str) -> Decimal:
        return service.hours_report(store, period, by="process").report.total.freed_minutes

    assert before == freed("2026-01") == Decimal(12)
    assert freed("2026-02") == Decimal(30)
    assert freed("2026-Q1") == Decimal(42)


def test_owner_handover_splits_hours_but_costs_follow_the_latest_owner(
        store: SqlStore, clock: Clock, tmp_path: Path) -> None:
    clock.now = at("2026-01-02T08:00:00")
    store.upsert_process(make_spec("invoices", owner="Finance"), actor="test")
    complete(store, clock, "invoices", 2, "2026-01-15T10:00:00")  # 12 min, Finance
    store.upsert_process(make_spec("invoices", owner="Treasury"), actor="test")
    complete(store, clock, "invoices", 1, "2026-02-15T10:00:00")  # 6 min, Treasury
    hours = service.hours_report(store, "2026-Q1", by="owner")
    assert {r.key: r.freed_minutes for r in hours.report.rows} == {
        "Finance": 12, "Treasury": 6}
    assert [(r.key, r.freed_minutes) for r in
            service.hours_report(store, "2026-Q1", by="process").report.rows] == [
        ("invoices", 18)]
    costs = write_costs(tmp_path, """\
        hourly_rate: "600.00"
        periods:
          - period: 2026-Q1
            lines: [{name: Licence, amount: "900.00", driver: equal}]
        """)
    result = service.costs_report(store, "2026-Q1", costs_file=costs).result
    assert [(r.key, r.cost_ore) for r in result.by("owner")] == [("Treasury", 90_000)]


def test_month_buckets_follow_local_midnight(store: SqlStore, clock: Clock) -> None:
    # 23:59:59 on 31 March (CEST) is March; 00:00:00 on 1 April is April. In UTC both
    # are 31 March, so buckets computed in UTC would put both in March.
    clock.now = at("2026-01-02T08:00:00")
    store.upsert_process(make_spec("invoices", owner="Finance"), actor="test")
    complete(store, clock, "invoices", 1, "2026-03-31T23:59:59", took=10, prefix="a")
    complete(store, clock, "invoices", 2, "2026-04-01T00:00:00", took=10, prefix="b")
    outcome = service.hours_report(store, "2026-H1", by="owner", monthly=True)
    series = outcome.hours_by_month()
    assert list(series) == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert series["2026-03"] == {"Finance": Decimal("0.1")}
    assert series["2026-04"] == {"Finance": Decimal("0.2")}
    assert series["2026-01"] == {}
    assert outcome.report.total.freed_minutes == 18
    march = service.hours_report(store, "2026-03", by="owner").report.total
    assert march.items_done == 1
    # a period inside one month is one bucket
    week = service.hours_report(store, "2026-W14", by="owner", monthly=True)
    assert week.hours_by_month() == {"2026-03": {"Finance": Decimal("0.1")},
                                     "2026-04": {"Finance": Decimal("0.2")}}
    day = service.hours_report(store, "2026-04-01", by="owner", monthly=True)
    assert day.hours_by_month() == {"2026-04": {"Finance": Decimal("0.2")}}


def test_negative_net_is_reported_not_hidden(store: SqlStore, clock: Clock) -> None:
    # 1 item done at 1 min, 2 exceptions at 3 min each: gross 1, review 6, net -5 min; the
    # hours report shows the negative net, the cost allocation values it as 0, with a note
    clock.now = at("2026-05-01T08:00:00")
    store.upsert_process(make_spec("claims", manual_minutes_per_item=1.0,
                                   exception_minutes_per_item=3.0), actor="test")
    store.enqueue("claims", items(3, "c"), actor="test")
    ids = claim(store, "claims", 3)
    store.complete(ids[0], WORKER)
    for item_id in ids[1:]:
        store.fail_business(item_id, WORKER, code="X", message="x")
    outcome = service.hours_report(store, "2026-05", by="process")
    assert outcome.report.total.freed_minutes == -5
    assert outcome.report.total.gross_hours * 60 == 1
    assert outcome.report.total.review_hours * 60 == 6
    assert outcome.ledger.by_process()[0].freed_minutes == 0
    assert outcome.ledger.negative() == [("claims", Decimal(-5))]
    assert "0,08 hours more" in outcome.warnings[0]


def test_events_outside_the_period_and_other_actions_are_ignored(
        two_processes: SqlStore) -> None:
    feb = service.hours_report(two_processes, "2026-02", by="process").report.total
    assert (feb.items_done, feb.freed_minutes) == (0, 0)
    # an event that is not attempt-ending never counts, even with figures on it
    with two_processes.engine.begin() as conn:
        conn.execute(sa.insert(audit_events).values(
            chain_id=sa.select(sa.func.min(audit_chains.c.id)).scalar_subquery(),
            seq=10_000, ts=at("2026-03-15T12:00:00"), actor="test", action="item.retried",
            process="invoices", owner="Finance", cost_centre="1200", freed_minutes=99.0,
            robot_seconds=99.0, details="{}", prev_hash="x", hash="x"))
    march = service.hours_report(two_processes, "2026-03", by="process").report.total
    assert (march.items_done, march.freed_minutes) == (6, 30)


def test_candidates_estimate_against_realised(two_processes: SqlStore, clock: Clock) -> None:
    store = two_processes
    clock.now = at("2026-03-01T08:00:00")
    # 1 000 a month x 12 x 6 min / 60 x 0.5 = 600 hours a year
    store_score = service.add_candidate(
        store, name="invoice-check", owner="Finance", volume_per_month=1000,
        minutes_per_item=6, rule_based_share=Decimal("0.5"), stability="high", digital=True,
        actor="user:test")
    assert store_score.freed_hours_per_year == 600
    service.add_candidate(store, name="paper-forms", owner="HR", volume_per_month=10,
                          minutes_per_item=5, rule_based_share=Decimal("0.2"),
                          stability="low", digital=False, actor="user:test")
    with pytest.raises(CandidateError, match="already exists"):
        service.add_candidate(store, name="paper-forms", owner="HR", volume_per_month=1,
                              minutes_per_item=1, rule_based_share=1, stability="low",
                              digital=False, actor="user:test")
    with pytest.raises(CandidateError, match="no candidate named"):
        service.link_candidate(store, "nope", "invoices", actor="user:test")
    service.link_candidate(store, "invoice-check", "invoices", actor="user:test")
    # realised over March: 22 min = 22/60 h in 31 days -> x 365.2425 / 31 per year
    views = service.list_candidates(store, period="2026-03")
    assert [v.name for v in views] == ["invoice-check", "paper-forms"]
    realised = views[0].realised
    assert realised is not None and views[1].realised is None
    assert realised.freed_hours == Decimal(22) / 60
    assert realised.hours_per_year == Decimal(22) / 60 * Decimal("365.2425") / 31
    assert views[0].as_dict()["realised_hours_per_year"] == "4.32"
    actions = [e["action"] for e in store.audit_events(action="candidate.*")]
    assert sorted(actions) == ["candidate.added", "candidate.added", "candidate.linked"]


def test_candidates_default_window_starts_at_registration(two_processes: SqlStore) -> None:
    store = two_processes
    service.add_candidate(store, name="invoice-check", owner="Finance", volume_per_month=100,
                          minutes_per_item=6, rule_based_share=1, stability="high",
                          digital=True, process="invoices", actor="user:test")
    # the processes were registered on 1 January 2026; today is 30 June 2026
    views = service.list_candidates(store, today=datetime(2026, 6, 30).date())
    realised = views[0].realised
    assert realised is not None
    assert realised.window.label == "2026-01-01..2026-06-30"
    assert realised.window.days == 181
    assert realised.freed_hours == Decimal(22) / 60


# -- property: the whole pipeline, from rows in the database to the split -----------------
event_strategy = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.sampled_from(["item.completed", "item.business_failed", "item.retry_scheduled",
                         "item.dead", "item.claimed"]),
        st.integers(0, 10_000),          # robot seconds
        st.sampled_from([1, 2, 5, 7.5]),  # minutes per item
        st.integers(0, 59 * 24 * 3600),  # offset into Jan-Feb
    ),
    max_size=40,
)


@pytest.fixture(scope="module")
def memory_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=event_strategy, amount=st.integers(0, 10**9), seed=st.randoms())
def test_allocation_from_the_ledger_is_exact_and_order_free(
        memory_engine: sa.Engine, events: list[tuple[str, str, int, float, int]], amount: int,
        seed: random.Random) -> None:
    start = at("2026-01-01T00:00:00")
    rows = []
    for seq, (process, action, robot, minutes, offset) in enumerate(events, 1):
        freed = minutes if action == "item.completed" else (
            -1.0 if action == "item.business_failed" else None)
        rows.append({"chain_id": 1, "seq": seq, "ts": start + offset, "actor": "t",
                     "action": action, "process": process, "owner": f"o-{process}",
                     "cost_centre": "1", "freed_minutes": freed,
                     "robot_seconds": None if action == "item.claimed" else float(robot),
                     "details": "{}", "prev_hash": "0", "hash": "0"})
    lines = [CostLine("licence", amount, "robot_minutes"), CostLine("ops", amount // 3, "equal"),
             CostLine("items", amount // 7, "items_done")]
    period = parse_period("2026-Q1")
    results = []
    for order in (rows, list(reversed(rows)), seed.sample(rows, len(rows))):
        with memory_engine.begin() as conn:
            conn.execute(sa.delete(audit_events))
            conn.execute(sa.delete(audit_chains))
            conn.execute(sa.insert(audit_chains).values(id=1, writer="t", created_at=0,
                                                        head_hash="0", length=0))
            if order:
                conn.execute(sa.insert(audit_events), order)
            usage = read_ledger(conn, period).by_process()
        results.append(allocate(lines, usage, hourly_rate_ore=65_000))
    first = results[0]
    assert all(r.rows == first.rows for r in results[1:])
    assert first.allocated_ore + first.unallocated_ore == first.total_cost_ore
    for outcome in first.lines:
        assert sum(outcome.shares.values()) + outcome.unallocated_ore == outcome.line.amount_ore
        assert all(share >= 0 for share in outcome.shares.values())
    assert all(row.cost_ore >= 0 and row.value_ore >= 0 for row in first.rows)
