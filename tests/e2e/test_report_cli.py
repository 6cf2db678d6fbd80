"""`rpa report hours|costs` and `rpa candidates` end to end, on SQLite and PostgreSQL.

The data is made through the real store with its clock pinned (so events land
in known months of 2026); the reports are read through the CLI, in-process for
speed and once as a real subprocess. Expected figures are worked out by hand in
`drive_items`'s docstring.
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from orchestrator.reports.service import DEFAULT_COSTS_FILE
from queues import NewItem, open_store
from queues.sql_store import SqlStore
from tests.e2e.conftest import EXAMPLE_PROCESSES, REPO, Cli, Db, Shell

OSLO = ZoneInfo("Europe/Oslo")
COSTS = textwrap.dedent("""\
    hourly_rate: "600.00"
    fte_hours_per_year: 1600
    periods:
      - period: 2026
        lines:
          - {name: Licence, amount: "1000.00", driver: robot_minutes}
          - {name: Operations, amount: "200.00", driver: equal}
    """)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


@pytest.fixture
def cli_store(db: Db) -> Iterator[SqlStore]:
    """A store on the CLI's database, to make events at pinned times."""
    s = open_store(db.url, writer="test-driver")
    assert isinstance(s, SqlStore)
    yield s
    s.close()


def run_items(store: SqlStore, process: str, payloads: list[tuple[str, dict[str, object]]],
              when: str, outcome: str = "done", took: float = 60.0) -> None:
    """Enqueue and claim at `when` - `took`; finish every item at `when`."""
    end = at(when)
    store.clock = lambda: end - took
    store.enqueue(process, [NewItem(ref, payload) for ref, payload in payloads], actor="test")
    claimed = store.claim(process, "w", limit=len(payloads))
    assert len(claimed) == len(payloads)
    store.clock = lambda: end
    for item in claimed:
        if outcome == "done":
            store.complete(item.id, "w")
        else:
            store.fail_business(item.id, "w", code="RULE", message="a rule said no")


def invoices(refs: range) -> list[tuple[str, dict[str, object]]]:
    return [(f"INV-{i}", {"invoice_number": f"INV-{i}", "amount": 10}) for i in refs]


@pytest.fixture
def driven(ready: Cli, cli_store: SqlStore) -> Cli:
    """2026 on the tests' two processes.

    invoices (Finance, 1200, 6 min/item, no exception minutes):
      March: 3 done, 1 business exception; October: 2 done; every attempt 60 s
      => done 5, exceptions 1, robot 360 s, freed 30 min = 0.50 h
    applicants (HR, 1400, 4 min/item): June: 4 done, 30 s each
      => done 4, robot 120 s, freed 16 min = 0.2666... h
    Costs (COSTS): licence 1 000,00 by robot time 360:120 -> 750,00 / 250,00;
      operations 200,00 equally -> 100,00 each. Value at 600,00/h: 300,00 / 160,00.
    """
    store = cli_store
    run_items(store, "invoices", invoices(range(1, 4)), "2026-03-10T10:00:00")
    run_items(store, "invoices", invoices(range(4, 5)), "2026-03-11T10:00:00", "business")
    run_items(store, "invoices", invoices(range(5, 7)), "2026-10-05T10:00:00")
    run_items(store, "applicants", [(f"A{i}", {"n": i}) for i in range(4)],
              "2026-06-01T12:00:00", took=30.0)
    return ready


@pytest.fixture
def costs_file(tmp_path: Path) -> Path:
    path = tmp_path / "costs.yaml"
    path.write_text(COSTS, encoding="utf-8")
    return path


def test_report_hours_json(driven: Cli, costs_file: Path) -> None:
    data = driven.ok("report", "hours", "--period", "2026", "--json",
                     "--costs", costs_file).json()
    assert data["period"]["label"] == "2026" and data["group_by"] == "owner"
    assert [(r["key"], r["items_done"], r["business_exceptions"], r["freed_hours"])
            for r in data["rows"]] == [("Finance", 5, 1, "0.50"), ("HR", 4, 0, "0.27")]
    assert data["total"]["items_done"] == 9
    assert Decimal(data["total"]["freed_hours"]) == Decimal("0.77")
    assert data["fte_hours_per_year"] == "1600"  # from the costs file
    # FTE-years = 46 min / 60 / 1600 h
    assert data["total"]["fte_years"] == "0.00"
    by_process = driven.ok("report", "hours", "--period", "2026-Q1", "--by", "process",
                           "--json", "--fte-hours", "1695").json()
    assert [(r["key"], r["items_done"]) for r in by_process["rows"]] == [
        ("invoices", 3), ("applicants", 0)]
    assert by_process["fte_hours_per_year"] == "1695"


def test_report_hours_terminal_in_hours_and_fte(driven: Cli, costs_file: Path) -> None:
    hours = driven.ok("report", "hours", "--period", "2026", "--costs", costs_file).out
    assert "Freed hours by owner, 2026" in hours and "Finance" in hours and "█" in hours
    fte = driven.ok("report", "hours", "--period", "2026", "--unit", "fte", "--by",
                    "cost-centre", "--costs", costs_file).out
    assert "FTE-years" in fte and "1200" in fte and "1400" in fte


def test_report_costs_files(driven: Cli, costs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = driven.ok("report", "costs", "--period", "2026", "--costs", costs_file,
                       "--csv", out / "costs.csv", "--xlsx", out / "costs.xlsx",
                       "--chart", out / "costs.png", "--json")
    data = result.json()
    assert data["total_cost_ore"] == 120_000 == data["allocated_ore"]
    rows = {r["key"]: r for r in data["rows"]}
    assert rows["invoices"]["cost_ore"] == 85_000 and rows["applicants"]["cost_ore"] == 35_000
    assert rows["invoices"]["value_ore"] == 30_000 and rows["applicants"]["value_ore"] == 16_000
    # 85 000 øre / 0.5 h = 1 700,00 per freed hour
    assert rows["invoices"]["cost_per_freed_hour"] == "1700.00"
    assert data["total"]["cost"] == "1200.00" and data["total"]["value"] == "460.00"
    assert sorted(data["files"]) == sorted(str(out / n) for n in (
        "costs.csv", "costs.xlsx", "costs.png"))

    with (out / "costs.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["key"] for r in table] == ["applicants", "invoices"]  # no totals row
    assert sum(Decimal(r["cost"]) for r in table) == Decimal("1200.00")
    assert {r["key"]: r["line_licence"] for r in table} == {
        "applicants": "250.00", "invoices": "750.00"}

    book = load_workbook(out / "costs.xlsx")
    assert book.sheetnames == ["Report", "Method"]
    sheet = book["Report"]
    header = [c.value for c in sheet[3]]
    cost_col = header.index("Cost") + 1
    total = sheet.cell(6, cost_col)  # header row 3, two rows, then the total
    assert sheet.cell(6, 1).value == "Total" and total.font.bold
    assert float(total.value) == 1200.0 and total.number_format == "#,##0.00"
    method = "\n".join(str(c.value) for c in book["Method"]["A"] if c.value)
    assert "robot minutes" in method and str(costs_file) in method
    assert (out / "costs.png").read_bytes().startswith(b"\x89PNG")


def test_report_hours_files_and_svg_chart(driven: Cli, costs_file: Path,
                                          tmp_path: Path) -> None:
    driven.ok("report", "hours", "--period", "2026", "--costs", costs_file,
              "--chart", tmp_path / "hours.svg", "--xlsx", tmp_path / "hours.xlsx",
              "--csv", tmp_path / "hours.csv")
    svg = (tmp_path / "hours.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "Net freed hours per owner" in svg
    assert "Gross, review and net freed hours per month" in svg
    with (tmp_path / "hours.csv").open(newline="", encoding="utf-8") as handle:
        assert [r["key"] for r in csv.DictReader(handle)] == ["Finance", "HR"]
    sheet = load_workbook(tmp_path / "hours.xlsx")["Report"]
    assert sheet.cell(6, 1).value == "Total" and sheet.cell(6, 2).value == 9


def test_default_costs_file_shows_a_real_allocation(cli: Cli, db: Db, cli_store: SqlStore,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # no --costs, no RPA_COSTS_FILE, no ./config/costs.yaml: the packaged example applies
    monkeypatch.chdir(tmp_path)
    cli.ok("init")
    cli.ok("process", "register", EXAMPLE_PROCESSES)
    run_items(cli_store, "invoice-approval",
              [("INV-2026-0001", {"invoice_number": "INV-2026-0001"})], "2026-05-01T09:00:00")
    data = cli.ok("report", "costs", "--period", "2026", "--json").json()
    assert data["costs_file"] == str(DEFAULT_COSTS_FILE)
    # 1 200 000 + 300 000 + 50 000 (2026) + 80 000 (2026-H2) = 1 630 000,00
    assert data["total_cost_ore"] == 163_000_000 == data["allocated_ore"]
    rows = {r["key"]: r for r in data["rows"]}
    # the only active process carries the shared lines; each direct line goes to its process
    assert rows["invoice-approval"]["cost_ore"] == 155_000_000
    assert rows["applicant-registration"]["cost_ore"] == 8_000_000
    # from the repository root, config/costs.yaml is the one used
    monkeypatch.chdir(REPO)
    assert cli.ok("report", "costs", "--period", "2026", "--json").json()["costs_file"] == str(
        REPO / "config" / "costs.yaml")
    # RPA_COSTS_FILE wins over the working directory
    other = tmp_path / "other.yaml"
    other.write_text(COSTS, encoding="utf-8")
    monkeypatch.setenv("RPA_COSTS_FILE", str(other))
    assert cli.ok("report", "costs", "--period", "2026", "--json").json()[
        "total_cost_ore"] == 120_000


def test_packaged_costs_file_is_the_example() -> None:
    example = (REPO / "config" / "costs.yaml").read_text(encoding="utf-8")
    assert DEFAULT_COSTS_FILE.read_text(encoding="utf-8") == example


@pytest.mark.parametrize("period", ["2026-13", "Q3", "2026-12-31..2026-01-01", "next-year"])
def test_bad_period_exits_2(ready: Cli, period: str) -> None:
    for command in ("hours", "costs"):
        result = ready("report", command, "--period", period)
        assert result.code == 2, str(result)
        assert "Accepted forms" in result.err or "before it starts" in result.err
        assert "Traceback" not in result.err


def test_broken_costs_file_exits_2_naming_the_key(ready: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(textwrap.dedent("""\
        hourly_rate: "600.00"
        periods:
          - period: 2026
            lines:
              - {name: Licence, amount: "12.345", driver: robot_minutes}
        """), encoding="utf-8")
    result = ready("report", "costs", "--period", "2026", "--costs", broken)
    assert result.code == 2, str(result)
    assert "periods[0].lines[0].amount" in result.err and "line 5" in result.err
    missing = ready("report", "costs", "--costs", tmp_path / "nope.yaml")
    assert missing.code == 2 and "cannot read the file" in missing.err


def test_direct_cost_to_an_unknown_process_exits_2(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "costs.yaml"
    path.write_text(COSTS + "      - {name: X, amount: '1.00', driver: direct, "
                    "process: ghost}\n", encoding="utf-8")
    result = ready("report", "costs", "--period", "2026", "--costs", path)
    assert result.code == 2 and "'ghost'" in result.err, str(result)


def test_bad_output_names_exit_2_before_anything_is_written(ready: Cli, tmp_path: Path,
                                                            costs_file: Path) -> None:
    bad = ready("report", "costs", "--period", "2026", "--costs", costs_file,
                "--chart", tmp_path / "chart.pdf", "--csv", tmp_path / "c.csv")
    assert bad.code == 2 and ".png or .svg" in bad.err
    assert not (tmp_path / "c.csv").exists()
    nowhere = ready("report", "hours", "--period", "2026", "--xlsx", tmp_path / "no" / "x.xlsx")
    assert nowhere.code == 2 and "does not exist" in nowhere.err
    rate = ready("report", "costs", "--period", "2026", "--costs", costs_file,
                 "--hourly-rate", "12.345")
    assert rate.code == 2 and "more than 2 decimals" in rate.err


def test_hourly_rate_option(driven: Cli, costs_file: Path) -> None:
    data = driven.ok("report", "costs", "--period", "2026", "--costs", costs_file,
                     "--hourly-rate", "1200", "--by", "owner", "--json").json()
    assert data["hourly_rate_ore"] == 120_000
    assert [(r["key"], r["value_ore"]) for r in data["rows"]] == [
        ("Finance", 60_000), ("HR", 32_000)]


def test_candidates_add_list_link(driven: Cli) -> None:
    cli = driven
    added = cli.ok("candidates", "add", "travel-claims", "--owner", "Finance",
                   "--volume-per-month", "400", "--minutes-per-item", "9",
                   "--rule-based-share", "80%", "--stability", "high", "--digital", "--json")
    # 400 x 12 x 9 / 60 x 0.8 = 576 hours a year
    assert added.json()["estimated_hours_per_year"] == "576.00"
    cli.ok("candidates", "add", "paper-archive", "--owner", "Archive",
           "--volume-per-month", "50", "--minutes-per-item", "3", "--rule-based-share", "0.3",
           "--stability", "low", "--not-digital")
    assert cli("candidates", "add", "paper-archive", "--owner", "x", "--volume-per-month", "1",
               "--minutes-per-item", "1", "--rule-based-share", "1", "--stability", "low",
               "--digital").code == 2
    assert cli("candidates", "add", "too-much", "--owner", "x", "--volume-per-month", "1",
               "--minutes-per-item", "1", "--rule-based-share", "1.5", "--stability", "low",
               "--digital").code == 2
    assert cli("candidates", "link", "travel-claims", "ghost").code == 2
    cli.ok("candidates", "link", "travel-claims", "invoices")

    ranked = cli.ok("candidates", "list", "--json", "--period", "2026").json()
    assert [(c["rank"], c["name"]) for c in ranked] == [(1, "travel-claims"),
                                                         (2, "paper-archive")]
    first = ranked[0]
    assert first["process"] == "invoices" and first["realised_freed_hours"] == "0.50"
    # 0.5 h over the 365 days of 2026 -> 0.5 x 365.2425 / 365 per year
    assert first["realised_hours_per_year"] == "0.50"
    assert ranked[1]["realised_hours_per_year"] is None
    table = cli.ok("candidates", "list").out
    assert "travel-claims" in table and "576" in table
    events = cli.ok("audit", "list", "--action", "candidate.*", "--json").json()
    assert sorted(e["action"] for e in events) == [
        "candidate.added", "candidate.added", "candidate.linked"]


def test_report_through_the_real_command(driven: Cli, sh: Shell, db: Db,
                                         costs_file: Path) -> None:
    env = {"RPA_COSTS_FILE": str(costs_file)}
    if not db.is_sqlite:
        env["RPA_DATABASE_URL"] = db.url
    result = sh("report", "hours", "--period", "2026", "--by", "process", "--json", env=env)
    assert result.code == 0, str(result)
    assert json.loads(result.out)["total"]["items_done"] == 9
    bad = sh("report", "costs", "--period", "someday", env=env)
    assert bad.code == 2 and "Accepted forms" in bad.err
