"""Freed hours rolled up the organisation tree, on SQLite and PostgreSQL.

Known answers by hand: every level adds up to the same total, and moving a unit
to another department (a new version of the tree, in force from 1 April)
changes nothing in March.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.reports import service
from orchestrator.services import organisation, processes
from orchestrator.services.access import cli_principal
from queues.organisation_store import OrganisationVersionError
from queues.sql_store import SqlStore
from tests.conftest import make_spec
from tests.integration.test_reports import Clock, at, complete

ADMIN = cli_principal("os:tester")
TREE = """\
units:
  Velferd: {}
  Helse: {parent: Velferd}
  Legevakt: {parent: Helse}
  Sykehjem: {parent: Helse}
  Oppvekst: {}
  Skole: {parent: Oppvekst}
  Barneskole: {parent: Skole}
review_groups:
  helse-kontroll: {unit: Helse}
"""
# Sykehjem moves from Helse (Velferd) to Skole (Oppvekst) on 1 April
MOVED = TREE.replace("Sykehjem: {parent: Helse}", "Sykehjem: {parent: Skole}")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def net(store: SqlStore, period: str, by: str, **kw: object) -> dict[str, Decimal]:
    report = service.hours_report(store, period, by=by, **kw).report  # type: ignore[arg-type]
    rows = {row.key: row.freed_minutes for row in report.rows}
    assert sum(rows.values()) == report.total.freed_minutes
    return {k: v for k, v in rows.items() if v}


@pytest.fixture
def spring(store: SqlStore, tmp_path: Path) -> SqlStore:
    """March: legevakt 2 x 6 = 12 min, sykehjem 1 x 4 = 4, barneskole 3 x 5 = 15.
    April (after the move): sykehjem 2 x 4 = 8."""
    clock = Clock(at("2026-01-01T08:00:00"))
    store.clock = clock
    organisation.load(store, ADMIN, write(tmp_path, "org.yaml", TREE),
                      valid_from=at("2026-01-01T00:00:00"))
    for name, owner, minutes in (("legevakt", "Legevakt", 6.0), ("sykehjem", "Sykehjem", 4.0),
                                 ("barneskole", "Barneskole", 5.0)):
        store.upsert_process(make_spec(name, owner=owner, manual_minutes_per_item=minutes),
                             actor="test")
    complete(store, clock, "legevakt", 2, "2026-03-05T10:00:00")
    complete(store, clock, "sykehjem", 1, "2026-03-06T10:00:00")
    complete(store, clock, "barneskole", 3, "2026-03-07T10:00:00")
    clock.now = at("2026-03-31T12:00:00")
    organisation.load(store, ADMIN, write(tmp_path, "moved.yaml", MOVED),
                      valid_from=at("2026-04-01T00:00:00"))
    complete(store, clock, "sykehjem", 2, "2026-04-10T10:00:00")
    return store


def test_every_level_adds_up_to_the_same_total(spring: SqlStore) -> None:
    assert net(spring, "2026-03", "unit") == {
        "Legevakt": 12, "Sykehjem": 4, "Barneskole": 15}
    assert net(spring, "2026-03", "department") == {"Helse": 16, "Skole": 15}
    assert net(spring, "2026-03", "sector") == {"Velferd": 16, "Oppvekst": 15}


def test_moving_a_unit_changes_no_earlier_period(spring: SqlStore) -> None:
    # March stays under the tree of March; April's hours follow the move
    assert net(spring, "2026-03", "department") == {"Helse": 16, "Skole": 15}
    assert net(spring, "2026-04", "department") == {"Skole": 8}
    assert net(spring, "2026-Q2", "sector") == {"Oppvekst": 8}
    both = net(spring, "2026-03-01..2026-04-30", "sector")
    assert both == {"Velferd": 16, "Oppvekst": 23}
    # under today's tree, on request
    from datetime import date
    assert net(spring, "2026-03-01..2026-04-30", "sector", as_of=date(2026, 4, 15)) == {
        "Velferd": 12, "Oppvekst": 27}
    assert net(spring, "2026-03-01..2026-04-30", "sector", as_of=date(2026, 2, 1)) == {
        "Velferd": 24, "Oppvekst": 15}


def test_the_organisation_guards_registrations_and_its_own_history(
        spring: SqlStore, tmp_path: Path) -> None:
    base = """\
        name: {name}
        owner: {owner}
        cost_centre: "1"
        bot: noop
        manual_minutes_per_item: 3
        review: {{group: {group}}}
        """
    unknown_unit = write(tmp_path, "a.yaml", base.format(name="a", owner="Legevakten",
                                                          group="helse-kontroll"))
    with pytest.raises(ConfigError, match=r"a\.yaml: line 2: owner: .*Legevakten.*Legevakt"):
        processes.register(spring, ADMIN, [unknown_unit])
    unknown_group = write(tmp_path, "b.yaml", base.format(name="b", owner="Legevakt",
                                                           group="ingen-slik"))
    with pytest.raises(ConfigError, match=r"line 6: review\.group: .*ingen-slik"):
        processes.register(spring, ADMIN, [unknown_group])
    assert {p.spec.name for p in spring.list_processes()} == {
        "legevakt", "sykehjem", "barneskole"}
    # a tree without a unit a process uses is refused, and the tree in force stays
    gone = write(tmp_path, "gone.yaml", MOVED.replace("  Legevakt: {parent: Helse}\n", ""))
    with pytest.raises(ConfigError, match="legevakt"):
        organisation.load(spring, ADMIN, gone)
    # a version may not take effect before the one in force
    with pytest.raises(OrganisationVersionError):
        organisation.load(spring, ADMIN, write(tmp_path, "x.yaml", TREE),
                          valid_from=at("2026-02-01T00:00:00"))
    assert len(spring.organisation.versions()) == 2
    # the same file again stores nothing
    assert organisation.load(spring, ADMIN, write(tmp_path, "m.yaml", MOVED))[1] is None


def test_the_chart_follows_the_tree_month_by_month(spring: SqlStore) -> None:
    outcome = service.hours_report(spring, "2026-03-01..2026-04-30", by="department",
                                   monthly=True)
    months = {label: {k: round(v * 60, 6) for k, v in groups.items() if v}
              for label, groups in outcome.hours_by_month().items()}
    assert list(months.values()) == [{"Helse": 16, "Skole": 15}, {"Skole": 8}]


def test_levels_with_their_own_names_map_by_position(store: SqlStore, tmp_path: Path) -> None:
    store.clock = Clock(at("2026-01-01T08:00:00"))
    organisation.load(store, ADMIN, write(tmp_path, "own.yaml", """\
        levels: [kommunalområde, virksomhet, avdeling, enhet]
        units:
          Helse og omsorg: {}
          Sykehjemmene: {parent: Helse og omsorg}
          Solbakken: {parent: Sykehjemmene}
          Post 1: {parent: Solbakken}
        """), valid_from=at("2026-01-01T00:00:00"))
    store.upsert_process(make_spec("vakter", owner="Post 1", manual_minutes_per_item=3.0),
                         actor="test")
    complete(store, store.clock, "vakter", 2, "2026-03-05T10:00:00")  # type: ignore[arg-type]
    assert net(store, "2026-03", "unit") == {"Post 1": 6}
    assert net(store, "2026-03", "department") == {"Solbakken": 6}
    assert net(store, "2026-03", "sector") == {"Helse og omsorg": 6}


def test_per_month_rows_add_up_to_the_total(spring: SqlStore) -> None:
    outcome = service.hours_report(spring, "2026-03-01..2026-04-30", by="sector",
                                   monthly=True)
    table = outcome.monthly_table()
    rows = [(r["key"], r["month"], round(r["freed_hours"] * 60, 6)) for r in table.rows]
    assert rows == [("Oppvekst", "2026-03", 15), ("Oppvekst", "2026-04", 8),
                    ("Velferd", "2026-03", 16)]
    assert table.total is not None and table.total["freed_hours"] * 60 == 39
    assert "Net = gross - review" in table.method
