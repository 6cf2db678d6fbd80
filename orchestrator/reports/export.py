"""Report files: CSV for ledgers, XLSX for people, PNG/SVG charts.

A ``Report`` is a generic table: columns with a type, rows of plain values, an
optional totals row and a method text. Cell values by column type:

* ``money`` - ``int`` øre (exact); written as NOK.
* ``hours`` / ``decimal`` - ``Decimal`` (or ``int``); ``Column.places`` decimals shown.
* ``int`` - ``int``;  ``text`` - ``str``.  ``None`` is an empty cell anywhere.

CSV is for machines (ledger import): comma separated, UTF-8 *without* BOM,
header of column keys, numbers plain with ``.`` decimals and no grouping
(``12345.67``), so no locale can misread them. The totals row is left out
unless asked for, so an importer summing the rows does not count twice.

XLSX is for people: real numbers with number formats, bold header and totals,
frozen header, column widths, and a "Method" sheet. The format codes are
stored as ``#,##0.00``: the file format always stores en-US codes and Excel
shows them with the reader's locale, i.e. ``12 345,67`` in Norwegian.

Charts never touch ``matplotlib.pyplot``: a bare ``Figure`` renders without a
GUI backend and without pyplot's global figure registry, so nothing leaks and
no backend warning can escape.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from orchestrator.i18n import _, language
from orchestrator.reports.money import format_number, format_plain, ore_to_nok, plain_decimal
from orchestrator.reports.periods import ReportError

ColumnType = Literal["money", "hours", "int", "text", "decimal"]
HEADER_ROW = 3  # row 1 title, row 2 subtitle, row 3 header
_MAX_LABEL = 28
_OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}  # legend placement


class ExportError(ReportError, ValueError):
    """A report that cannot be written as asked (bad suffix, bad cell value)."""


@dataclass(frozen=True)
class Column:
    """One column: ``key`` for machines (CSV header, JSON), ``title`` for people."""

    key: str
    title: str
    type: ColumnType = "text"
    places: int = 2
    description: str = ""

    @property
    def numeric(self) -> bool:
        return self.type != "text"


@dataclass(frozen=True)
class Report:
    """A table ready to be written; see the module docstring for cell types."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    total: Mapping[str, Any] | None = None
    method: str = ""
    subtitle: str = ""


def cell_text(column: Column, value: Any, *, plain: bool = True) -> str:
    """A cell as text: ledger form (``plain``) or Norwegian display form."""
    if value is None:
        return ""
    if column.type == "money":
        return format_plain(value) if plain else format_number(ore_to_nok(value), column.places)
    if column.type in ("hours", "decimal"):
        return plain_decimal(value, column.places) if plain else format_number(value, column.places)
    if column.type == "int":
        return str(int(value)) if plain else format_number(int(value), 0)
    return str(value)


def write_csv(report: Report, path: str | Path, *, include_total: bool = False) -> Path:
    """Write the rows (and the total if ``include_total``) as ledger-friendly CSV."""
    target = Path(path)
    rows = [*report.rows, *([report.total] if include_total and report.total else [])]
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.key for column in report.columns])
        for row in rows:
            writer.writerow([cell_text(column, row.get(column.key)) for column in report.columns])
    return target


def _excel_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "money":
        return ore_to_nok(value)  # exact Decimal, stored as 12345.67
    if column.type in ("hours", "decimal"):
        return float(value)  # Excel keeps doubles; the format rounds the display
    if column.type == "int":
        return int(value)
    return str(value)


def _number_format(column: Column) -> str | None:
    if column.type in ("money", "hours", "decimal"):
        return "#,##0" + ("." + "0" * column.places if column.places > 0 else "")
    return "#,##0" if column.type == "int" else None


def write_xlsx(report: Report, path: str | Path, *, lang: str | None = None) -> Path:
    """Write a "Report" sheet and a "Method" sheet; totals are values, not formulas.

    ``lang`` (``nb``/``en``) names the sheets and writes the Method sheet's own
    texts in that language; None keeps the one in force (``i18n.language``,
    English by default). The report's titles and method text are already in
    the language the ``Report`` was made in.
    """
    with language(lang):
        return _write_xlsx(report, Path(path))


def _write_xlsx(report: Report, target: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = _("Report")
    book.properties.title = report.title
    book.properties.creator = "rpa-orchestrator"
    sheet.cell(1, 1, report.title).font = Font(bold=True, size=14)
    sheet.cell(2, 1, report.subtitle or None)
    widths = [len(column.title) for column in report.columns]
    for index, column in enumerate(report.columns, start=1):
        cell = sheet.cell(HEADER_ROW, index, column.title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="right" if column.numeric else "left")
    body = [(row, False) for row in report.rows] + ([(report.total, True)] if report.total else [])
    for offset, (row, is_total) in enumerate(body, start=1):
        for index, column in enumerate(report.columns, start=1):
            value = row.get(column.key)
            cell = sheet.cell(HEADER_ROW + offset, index, _excel_value(column, value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a name like "=HYPERLINK(...)" stays text, never a formula
            number_format = _number_format(column)
            if number_format:
                cell.number_format = number_format
            if is_total:
                cell.font = Font(bold=True)
                cell.border = Border(top=Side(style="thin"))
            widths[index - 1] = max(widths[index - 1], len(cell_text(column, value, plain=False)))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = sheet.cell(HEADER_ROW + 1, 1)
    if report.rows:
        last = get_column_letter(len(report.columns))
        sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + len(report.rows)}"
    _method_sheet(book.create_sheet(_("Method")), report)
    book.save(target)
    return target


def _method_sheet(sheet: Any, report: Report) -> None:
    from openpyxl.styles import Alignment, Font

    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 90
    sheet.cell(1, 1, _("Method - {title}").format(title=report.title)).font = Font(
        bold=True, size=14)
    row = 3
    for paragraph in report.method.splitlines():
        if paragraph.strip():
            sheet.cell(row, 1, paragraph).alignment = Alignment(wrap_text=False)
            row += 1
    row += 1
    for index, title in enumerate((_("Column"), _("Type"), _("Meaning")), start=1):
        sheet.cell(row, index, title).font = Font(bold=True)
    for column in report.columns:
        row += 1
        unit = {"money": "NOK", "hours": _("hours"), "int": _("count"), "text": _("text"),
                "decimal": _("decimal")}.get(column.type, column.type)
        sheet.cell(row, 1, column.title)
        sheet.cell(row, 2, unit)
        sheet.cell(row, 3, column.description).alignment = Alignment(wrap_text=True)


OTHER = "\0other"  # the folded tail of a stacked chart; shown as "Other" in its language


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "\u2026"


def _thousands(value: float, _position: object = None) -> str:
    return format_number(Decimal(round(value)), 0)


def _hours_tick(value: float, _position: object = None) -> str:
    """Whole hours on a large axis; one decimal below 20 h, where whole numbers repeat."""
    return _thousands(value) if abs(value) >= 20 else format_number(
        Decimal(str(round(float(value), 1))), 1)


def _hours_axes(ax: Any, hours_by_month: Mapping[str, Mapping[str, Decimal | int | float]],
                group: str = "Owner") -> None:
    months = list(hours_by_month)
    totals: dict[str, float] = {}
    for by_owner in hours_by_month.values():
        for owner, hours in by_owner.items():
            totals[owner] = totals.get(owner, 0.0) + float(hours)
    owners = sorted(totals, key=lambda o: (-totals[o], o))
    if len(owners) > 10:  # more than the palette can tell apart: fold the tail
        owners = [*owners[:9], OTHER]
    bottoms = [0.0] * len(months)
    colours = [f"C{i}" for i in range(10)]
    for owner, colour in zip(owners, colours, strict=False):
        heights = []
        for month in months:
            row = hours_by_month[month]
            if owner == OTHER:
                heights.append(sum(float(h) for o, h in row.items() if o not in owners))
            else:
                heights.append(float(row.get(owner, 0)))
        shown = _("Other") if owner == OTHER else _short(owner)
        ax.bar(range(len(months)), heights, 0.7, bottom=bottoms, label=shown, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(
        range(len(months)),
        months,
        rotation=45 if len(months) > 6 else 0,
        ha="right" if len(months) > 6 else "center",
    )
    ax.set_title(_("Net freed hours per {group} over time").format(group=group.lower()))
    ax.set_xlabel(_("Month"))
    ax.set_ylabel(_("Freed hours (h)"))
    ax.yaxis.set_major_formatter(_hours_tick)
    ax.grid(axis="y", alpha=0.3)
    if owners:
        handles, names = ax.get_legend_handles_labels()  # reversed: same order as the stack
        ax.legend(handles[::-1], names[::-1], title=group, fontsize="small", **_OUTSIDE)
    else:
        ax.text(0.5, 0.5, _("No freed hours in the period"), ha="center",
                transform=ax.transAxes)


def _cost_axes(ax: Any, cost_value: Sequence[tuple[str, int, int]]) -> None:
    labels = [_short(name) for name, _cost, _value in cost_value]
    costs = [cost / 100 for _name, cost, _value in cost_value]
    values = [value / 100 for _name, _cost, value in cost_value]
    positions = list(range(len(labels)))
    cost_bars = ax.barh([p - 0.2 for p in positions], costs, 0.4, label=_("Cost"), color="C3")
    value_bars = ax.barh(
        [p + 0.2 for p in positions], values, 0.4, label=_("Value of freed hours"), color="C2"
    )
    for bars, amounts in ((cost_bars, costs), (value_bars, values)):
        ax.bar_label(bars, labels=[_thousands(a) for a in amounts], padding=3, fontsize=7)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()  # first row on top, as in the table
    ax.set_xlim(0, max([*costs, *values, 1.0]) * 1.18)  # room for the bar labels
    ax.set_title(_("Cost vs value of freed hours per process"))
    ax.set_xlabel("NOK")
    ax.xaxis.set_major_formatter(_thousands)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize="small", **_OUTSIDE)


def _net_axes(ax: Any, net_by_month: Sequence[tuple[str, float, float, float]]) -> None:
    """Gross, review and net hours side by side, one group of three bars a month."""
    months = [row[0] for row in net_by_month]
    positions = list(range(len(months)))
    for offset, index, label, colour in ((-0.27, 1, _("Gross"), "C0"),
                                         (0.0, 2, _("Review"), "C3"),
                                         (0.27, 3, _("Net"), "C2")):
        ax.bar([p + offset for p in positions], [float(row[index]) for row in net_by_month],
               0.27, label=label, color=colour)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(positions, months, rotation=45 if len(months) > 6 else 0,
                  ha="right" if len(months) > 6 else "center")
    ax.set_title(_("Gross, review and net freed hours per month"))
    ax.set_xlabel(_("Month"))
    ax.set_ylabel(_("Hours (h)"))
    ax.yaxis.set_major_formatter(_hours_tick)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", **_OUTSIDE)


def write_chart(
    path: str | Path,
    *,
    hours_by_month: Mapping[str, Mapping[str, Decimal | int | float]] | None = None,
    cost_value: Sequence[tuple[str, int, int]] | None = None,
    net_by_month: Sequence[tuple[str, float, float, float]] | None = None,
    title: str | None = None,
    group: str | None = None,
    lang: str | None = None,
) -> Path:
    """Draw one or both charts into one file; the suffix picks PNG or SVG.

    ``hours_by_month`` maps a month label (in time order) to freed hours per
    owner: stacked bars, one bar per month. ``cost_value`` holds ``(process,
    cost_ore, value_ore)`` in display order (top first): paired horizontal bars.
    Given both, they are stacked in one figure. ``net_by_month`` holds ``(month,
    gross, review, net)`` hours: a panel of three bars a month, under the first.
    ``group`` names the stacked groups (default "Owner"); ``lang`` (``nb``/``en``)
    writes the axes, legends and default texts in that language, None keeps the
    one in force (``i18n.language``, English by default).
    """
    with language(lang):
        return _write_chart(Path(path), hours_by_month=hours_by_month, cost_value=cost_value,
                            net_by_month=net_by_month, title=title,
                            group=_("Owner") if group is None else group)


def _write_chart(
    target: Path,
    *,
    hours_by_month: Mapping[str, Mapping[str, Decimal | int | float]] | None,
    cost_value: Sequence[tuple[str, int, int]] | None,
    net_by_month: Sequence[tuple[str, float, float, float]] | None,
    title: str | None,
    group: str,
) -> Path:
    from matplotlib.figure import Figure

    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ExportError(
            f"{target}: charts are written as .png or .svg, not {suffix or 'no suffix'}"
        )
    if hours_by_month is None and cost_value is None:
        raise ExportError("write_chart needs hours_by_month, cost_value or both")
    heights: list[float] = []
    if hours_by_month is not None:
        heights.append(5.0)
    if net_by_month:
        heights.append(4.0)
    if cost_value is not None:
        heights.append(max(3.0, 0.6 * len(cost_value) + 1.5))
    figure = Figure(figsize=(11, sum(heights) + 0.8 * (len(heights) - 1)))
    axes = figure.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    slot = iter(axes[:, 0])
    if hours_by_month is not None:
        _hours_axes(next(slot), hours_by_month, group)
    if net_by_month:
        _net_axes(next(slot), net_by_month)
    if cost_value is not None:
        _cost_axes(next(slot), cost_value)
    if title:
        figure.suptitle(title, fontsize=14, fontweight="bold")
    figure.subplots_adjust(hspace=0.5)
    metadata = {"Date": None} if suffix == ".svg" else {"Software": None}
    figure.savefig(target, format=suffix[1:], dpi=120, bbox_inches="tight", metadata=metadata)
    return target
