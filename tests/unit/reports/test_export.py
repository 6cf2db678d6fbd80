"""Files: CSV content, XLSX round trip, chart files (PNG magic bytes, SVG root)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from orchestrator.reports.allocation import CostLine, allocate
from orchestrator.reports.export import (
    Column,
    ExportError,
    Report,
    write_chart,
    write_csv,
    write_xlsx,
)
from orchestrator.reports.hours import ProcessUsage
from orchestrator.reports.render import costs_to_report

REPORT = Report(
    title="Costs by process, 2026-Q3",
    subtitle="Period 2026-Q3",
    columns=(
        Column("key", "Process"),
        Column("items_done", "Items done", "int"),
        Column("freed_hours", "Freed hours", "hours", description="Freed minutes / 60."),
        Column("cost", "Cost", "money", description="Sum of the cost lines."),
        Column("cost_per_freed_hour", "Cost per freed hour", "money"),
        Column("fte", "FTE", "decimal", places=3),
    ),
    rows=(
        {
            "key": "invoice-approval",
            "items_done": 12345,
            "freed_hours": Decimal(1) / 3,
            "cost": 123_456_789,
            "cost_per_freed_hour": 950_000,
            "fte": Decimal("0.23422"),
        },
        {
            "key": 'applicant, "HR"',
            "items_done": 0,
            "freed_hours": Decimal(0),
            "cost": 5,
            "cost_per_freed_hour": None,
            "fte": Decimal(0),
        },
    ),
    total={
        "key": "Total",
        "items_done": 12345,
        "freed_hours": Decimal(1) / 3,
        "cost": 123_456_794,
        "cost_per_freed_hour": 950_000,
        "fte": Decimal("0.23422"),
    },
    method="Line one of the method.\nLine two: shares by largest remainder.",
)


def test_csv_is_plain_comma_separated_without_bom(tmp_path: Path) -> None:
    path = write_csv(REPORT, tmp_path / "costs.csv")
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8") == (
        "key,items_done,freed_hours,cost,cost_per_freed_hour,fte\r\n"
        "invoice-approval,12345,0.33,1234567.89,9500.00,0.234\r\n"
        '"applicant, ""HR""",0,0.00,0.05,,0.000\r\n'
    )
    with_total = write_csv(REPORT, tmp_path / "total.csv", include_total=True)
    assert with_total.read_text(encoding="utf-8").splitlines()[-1] == (
        "Total,12345,0.33,1234567.94,9500.00,0.234"
    )


def test_xlsx_round_trip(tmp_path: Path) -> None:
    path = write_xlsx(REPORT, tmp_path / "costs.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Report", "Method"]
    sheet = book["Report"]
    assert sheet["A1"].value == "Costs by process, 2026-Q3"
    assert sheet["A1"].font.bold
    assert sheet["A2"].value == "Period 2026-Q3"
    header = [cell.value for cell in sheet[3]]
    assert header == ["Process", "Items done", "Freed hours", "Cost", "Cost per freed hour", "FTE"]
    assert all(cell.font.bold for cell in sheet[3])
    assert sheet.freeze_panes == "A4"
    assert sheet.auto_filter.ref == "A3:F5"
    first = sheet[4]
    assert first[0].value == "invoice-approval"
    assert first[1].value == 12345 and first[1].number_format == "#,##0"
    assert first[2].value == pytest.approx(1 / 3) and first[2].number_format == "#,##0.00"
    assert first[3].value == pytest.approx(1234567.89) and first[3].number_format == "#,##0.00"
    assert first[5].number_format == "#,##0.000"
    assert sheet["E5"].value is None  # no freed hours -> no cost per hour
    total = sheet[6]
    assert total[0].value == "Total"
    assert total[3].value == pytest.approx(1234567.94)
    assert all(cell.font.bold for cell in total)
    assert not sheet["A5"].font.bold
    assert sheet.max_row == 6
    assert sheet.column_dimensions["A"].width >= len("invoice-approval")
    method = book["Method"]
    texts = [cell.value for cell in method["A"] if cell.value]
    assert texts[0] == "Method - Costs by process, 2026-Q3"
    assert "Line one of the method." in texts
    assert "Line two: shares by largest remainder." in texts
    rows = {
        row[0].value: (row[1].value, row[2].value) for row in method.iter_rows() if row[0].value
    }
    assert rows["Cost"] == ("NOK", "Sum of the cost lines.")
    assert rows["Freed hours"] == ("hours", "Freed minutes / 60.")


def test_xlsx_of_a_real_allocation_totals_match_rows(tmp_path: Path) -> None:
    usage = [
        ProcessUsage("invoice-approval", "Finance", "1200", 1000, 5, Decimal(30000), Decimal(6000)),
        ProcessUsage("applicant-registration", "HR", "1400", 500, 1, Decimal(10000), Decimal(2000)),
    ]
    lines = [CostLine("Licence", 30_246_575, "robot_minutes"), CostLine("Ops", 7_561_644, "equal")]
    result = allocate(lines, usage, hourly_rate_ore=65_000)
    report = costs_to_report(result, period_label="2026-Q3")
    sheet = load_workbook(write_xlsx(report, tmp_path / "c.xlsx"))["Report"]
    header = [cell.value for cell in sheet[3]]
    cost = header.index("Cost") + 1
    values = [sheet.cell(row, cost).value for row in range(4, 6)]
    assert sheet.cell(6, 1).value == "Total"
    assert sum(Decimal(str(v)) for v in values) == Decimal(str(sheet.cell(6, cost).value))
    assert Decimal(str(sheet.cell(6, cost).value)) == Decimal("378082.19")


def test_xlsx_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    report = Report("t", (Column("key", "Process"),), ({"key": "=1+2"},))
    cell = load_workbook(write_xlsx(report, tmp_path / "f.xlsx"))["Report"]["A4"]
    assert cell.value == "=1+2"
    assert cell.data_type == "s"


def hours_series() -> dict[str, dict[str, Decimal]]:
    owners = [f"Unit {n} (Oppvekst og utdanning, skole)" for n in range(12)]
    return {
        f"2026-{m:02d}": {owner: Decimal(10 * (i + 1) + m) for i, owner in enumerate(owners)}
        for m in range(1, 13)
    }


COST_VALUE = [
    (f"process-{n:02d}-with-a-rather-long-name", 100_000_00 * (n + 1), 70_000_00 * n)
    for n in range(10)
]


def test_png_chart(tmp_path: Path) -> None:
    path = write_chart(
        tmp_path / "hours.png", hours_by_month=hours_series(), title="Freed hours 2026"
    )
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_svg_chart_with_both_panels(tmp_path: Path) -> None:
    path = write_chart(
        tmp_path / "report.SVG", hours_by_month=hours_series(), cost_value=COST_VALUE
    )
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert path.stat().st_size > 10_000


def test_cost_chart_alone_and_empty_hours(tmp_path: Path) -> None:
    assert write_chart(tmp_path / "c.png", cost_value=COST_VALUE).stat().st_size > 0
    assert write_chart(tmp_path / "e.svg", hours_by_month={}).stat().st_size > 0
    assert write_chart(tmp_path / "z.png", cost_value=[]).stat().st_size > 0


def test_chart_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.png or \.svg"):
        write_chart(tmp_path / "c.pdf", cost_value=COST_VALUE)
    with pytest.raises(ExportError, match="needs"):
        write_chart(tmp_path / "c.png")
