"""Terminal tables at 80 columns, inline bars, and the JSON form."""

from __future__ import annotations

import json
from decimal import Decimal

from rich.console import Console

from orchestrator.reports.allocation import AllocationResult, CostLine, allocate
from orchestrator.reports.export import Column, Report
from orchestrator.reports.hours import ProcessUsage, hours_rollup
from orchestrator.reports.periods import parse_period
from orchestrator.reports.render import (
    as_json,
    bar,
    costs_table,
    costs_to_report,
    hours_table,
    hours_to_report,
    rich_table,
)

USAGE = [
    ProcessUsage(
        "invoice-approval",
        "Finance service (Økonomitjenesten)",
        "1200",
        14_000,
        420,
        Decimal(2_520_000),
        Decimal(84_000),
    ),
    ProcessUsage(
        "applicant-registration",
        "HR service (HR-tjenesten)",
        "1400",
        42_000,
        900,
        Decimal(5_040_000),
        Decimal(168_000),
    ),
    ProcessUsage("idle-bot", "IT", "9000", 0, 0, Decimal(0), Decimal(0)),
]
LINES = [
    CostLine("Platform licence", 120_000_000, "robot_minutes"),
    CostLine("Operations (servers, support)", 30_000_000, "equal"),
    CostLine("Extra licence for the invoice bot", 5_000_000, "direct", "invoice-approval"),
]


def result() -> AllocationResult:
    return allocate(LINES, USAGE, hourly_rate_ore=65_000)


def render(renderable: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def test_bar_scales_in_eighths() -> None:
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(1, 10, 4) == "▍"  # 0.4 cells = 3.2 eighths -> 3
    assert bar(0.001, 10, 4) == "▏"  # tiny but positive still shows
    assert bar(0, 10, 4) == ""
    assert bar(-5, 10, 4) == ""
    assert bar(3, 0, 4) == ""


def test_costs_table_fits_80_columns_with_whole_numbers() -> None:
    # Licence 1 200 000 over 2 520 000 : 5 040 000 robot seconds = 400 000 / 800 000;
    # operations 300 000 -> 150 000 each; invoice + 50 000 direct -> 600 000; HR 950 000.
    lines = render(costs_table(result(), period_label="2026"))
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "Costs by process, 2026" in text
    assert "applicant-registration" in text
    assert "950 000" in text and "600 000" in text and "1 550 000" in text
    assert "…" not in text.replace("Costs by process", "")  # no number or name cut
    invoice = next(line for line in lines if line.startswith("invoice-approval"))
    hr = next(line for line in lines if line.startswith("applicant-registration"))
    assert hr.count("█") == 6  # the largest cost gets the full bar (6 cells)
    # 600/950 of 6 cells = 3.79 cells = 30.3 eighths -> 30 = 3 full cells + a 6/8 block
    assert invoice.rstrip().endswith("███▊")
    total = next(line for line in lines if line.startswith("Total"))
    assert "1 550 000" in total


def test_costs_table_by_owner_and_narrow_terminal() -> None:
    lines = render(costs_table(result(), by="owner"), width=80)
    assert all(len(line) <= 80 for line in lines)
    assert any("1 550 000" in line for line in lines)
    narrow = render(costs_table(result(), by="owner"), width=60)
    assert all(len(line) <= 60 for line in narrow)


def test_hours_table() -> None:
    report = hours_rollup(USAGE, "owner", parse_period("2026"))
    lines = render(hours_table(report))
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "2 800,00" in text  # 168 000 min = 2 800 h for HR
    assert "4 200,00" in text  # total
    first = next(line for line in lines if "HR service" in line)
    assert first.rstrip().endswith("█" * 8)  # the largest net gets the full bar
    assert "net = gross - review" in text


def test_unallocated_row_appears_and_columns_sum_to_total() -> None:
    idle = [ProcessUsage("idle-bot", "IT", "9000", 0, 0, Decimal(0), Decimal(0))]
    report = costs_to_report(allocate([CostLine("Licence", 1_000, "robot_minutes")], idle))
    keys = [row["key"] for row in report.rows]
    assert keys == ["idle-bot", "(unallocated)"]
    assert report.total is not None
    assert sum(row["cost"] for row in report.rows) == report.total["cost"] == 1_000
    assert "left unallocated" in report.method


def test_as_json_money_as_strings_and_ore() -> None:
    report = costs_to_report(result(), period_label="2026")
    data = as_json(report)
    json.dumps(data)  # serialisable as is
    rows = {row["key"]: row for row in data["rows"]}
    invoice = rows["invoice-approval"]
    assert invoice["cost"] == "600000.00"
    assert invoice["cost_ore"] == 60_000_000
    assert invoice["line_extra_licence_for_the_invoice_bot_ore"] == 5_000_000
    assert invoice["freed_hours"] == "1400.00"
    assert invoice["items_done"] == 14_000
    assert rows["idle-bot"]["cost_per_freed_hour"] is None
    assert rows["idle-bot"]["cost_per_freed_hour_ore"] is None
    assert data["total"]["cost"] == "1550000.00"
    assert data["total"]["value_ore"] == 4_200 * 65_000
    assert data["columns"][0] == {"key": "key", "title": "Process", "type": "text"}
    assert "largest-remainder" in data["method"]


def test_hours_as_json_and_generic_table() -> None:
    report = hours_to_report(hours_rollup(USAGE, "process", parse_period("2026-Q3")))
    data = as_json(report)
    assert data["total"]["freed_hours"] == "4200.00"
    assert data["rows"][0]["key"] == "applicant-registration"
    generic = Report("t", (Column("k", "K"), Column("n", "N", "money")), ({"k": "a", "n": 150},))
    lines = render(rich_table(generic, money_places=2))
    assert any("1,50" in line for line in lines)
