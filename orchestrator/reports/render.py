"""Reports for the terminal (Rich) and as JSON, plus the domain -> ``Report`` step.

``hours_to_report`` and ``costs_to_report`` turn the results of ``hours`` and
``allocation`` into the generic ``export.Report`` table; from there the same
table goes to CSV, XLSX, JSON or the terminal, so every output shows the same
figures.

The terminal tables are meant to read well at 80 columns: a handful of
columns, whole kroner (the files keep the øre), numbers right-aligned and never
wrapped, names cut with an ellipsis, and an inline bar of Unicode eighth
blocks scaled to the largest row.

JSON keeps figures exact: money as a NOK string with two decimals plus an
``<key>_ore`` integer, hours and other decimals as strings with the column's
decimals (parse them with ``Decimal``), counts as integers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from orchestrator.i18n import _
from orchestrator.reports.allocation import UNALLOCATED, AllocationResult, CostRow, RollupKey
from orchestrator.reports.export import Column, Report, cell_text
from orchestrator.reports.hours import HoursReport, HoursRow

BLOCKS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589\u2588"  # 0/8 .. 8/8 of a cell
_GROUP_TITLES = {"process": "Process", "owner": "Owner", "cost_centre": "Cost centre",
                 "unit": "Unit", "department": "Department", "sector": "Sector"}


def group_title(group: str) -> str:
    """The heading of a grouping, in the report language."""
    return _(_GROUP_TITLES[group])


def bar(value: Decimal | int | float, maximum: Decimal | int | float, width: int = 10) -> str:
    """A left-aligned bar of eighth blocks; any positive value shows at least a sliver."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(float(value) / float(maximum) * width * 8))
    full, rest = divmod(min(eighths, width * 8), 8)
    return BLOCKS[8] * full + (BLOCKS[rest] if rest else "")


def _label(key: str) -> str:
    """A row's key as shown: the total row's in the report language."""
    return _("Total") if key == "Total" else key


def _hours_row(row: HoursRow) -> dict[str, Any]:
    return {
        "key": _label(row.key),
        "items_done": row.items_done,
        "business_exceptions": row.business_exceptions,
        "gross_hours": row.gross_hours,
        "review_hours": row.review_hours,
        "review_estimated_hours": row.estimated_hours,
        "freed_hours": row.freed_hours,
        "fte": row.fte,
        "fte_years": row.fte_years,
    }


def hours_to_report(report: HoursReport, *, title: str | None = None) -> Report:
    """The freed-hours rollup as a generic table with a total row."""
    group = "cost_centre" if report.group_by in ("cost-centre", "cost_centre") else report.group_by
    columns = (
        Column("key", group_title(group), "text"),
        Column("items_done", _("Items done"), "int",
               description=_("Items completed in the period.")),
        Column("business_exceptions", _("Business exceptions"),
            "int",
            description=_("Items stopped by a business rule; these free no time."),
        ),
        Column("gross_hours", _("Gross hours"),
            "hours",
            description=_("Manual minutes credited when items were done (as configured then), "
            "/ 60."),
        ),
        Column("review_hours", _("Review hours"),
            "hours",
            description=_("Time people spent on the robots' business exceptions and dead "
            "items: minutes recorded in review resolutions, or the configured exception "
            "minutes where no resolution exists yet."),
        ),
        Column("review_estimated_hours", _("of which estimated"),
            "hours",
            description=_("The part of review hours that is still an estimate (tasks not "
            "resolved yet)."),
        ),
        Column("freed_hours", _("Net freed hours"),
            "hours",
            description=_("Gross hours - review hours."),
        ),
        Column("fte", _("FTE (period)"),
            "decimal",
            description=_("Average staffing freed during the period (of the net hours)."),
        ),
        Column("fte_years", _("FTE-years"),
            "decimal",
            description=_("Net freed hours / {hours} hours per FTE-year.").format(
                hours=report.fte_hours_per_year),
        ),
    )
    return Report(
        title=title or _("Freed hours by {group}, {period}").format(
            group=group_title(group).lower(), period=report.period.label),
        columns=columns,
        rows=tuple(_hours_row(row) for row in report.rows),
        total=_hours_row(report.total),
        method=report.method(),
        subtitle=_("Period {period}").format(period=report.period.label),
    )


def monthly_to_report(report: HoursReport, rows: Sequence[tuple[str, str, Any]]) -> Report:
    """Gross, review and net per group and month (rows are (group, month, LedgerRow))."""
    group = "cost_centre" if report.group_by in ("cost-centre", "cost_centre") else report.group_by
    columns = (
        Column("key", group_title(group), "text"),
        Column("month", _("Month"), "text"),
        Column("items_done", _("Items done"), "int", description=_("Items completed that month.")),
        Column("gross_hours", _("Gross hours"), "hours",
               description=_("Manual minutes credited when items were done, / 60.")),
        Column("review_hours", _("Review hours"), "hours",
               description=_("Minutes people recorded in review resolutions, or the configured "
               "exception minutes where no resolution exists yet, / 60.")),
        Column("review_estimated_hours", _("of which estimated"), "hours",
               description=_("The part of review hours that is still an estimate.")),
        Column("freed_hours", _("Net freed hours"), "hours",
               description=_("Gross hours - review hours.")),
    )

    def cells(key: str, month: str, row: Any) -> dict[str, Any]:
        return {"key": key, "month": month, "items_done": row.items_done,
                "gross_hours": row.gross_minutes / 60, "review_hours": row.review_minutes / 60,
                "review_estimated_hours": row.estimated_minutes / 60,
                "freed_hours": (row.gross_minutes - row.review_minutes) / 60}

    total = report.total
    return Report(
        title=_("Gross, review and net hours by {group} and month, {period}").format(
            group=group_title(group).lower(), period=report.period.label),
        columns=columns,
        rows=tuple(cells(key, month, row) for key, month, row in rows),
        total={"key": _("Total"), "month": "", "items_done": total.items_done,
               "gross_hours": total.gross_hours, "review_hours": total.review_hours,
               "review_estimated_hours": total.estimated_hours,
               "freed_hours": total.freed_hours},
        method=report.method(),
        subtitle=_("Period {period}").format(period=report.period.label),
    )


def _slug(name: str, taken: set[str]) -> str:
    base = "line_" + (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "cost")
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}_{counter}", counter + 1
    taken.add(slug)
    return slug


def _cost_row(row: CostRow, line_keys: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "key": _("(unallocated)") if row.key == UNALLOCATED else _label(row.key),
        "owner": row.owner,
        "cost_centre": row.cost_centre,
        "items_done": row.items_done,
        "business_exceptions": row.business_exceptions,
        "robot_hours": row.robot_hours,
        "freed_hours": row.freed_hours,
        "cost": row.cost_ore,
        "cost_per_freed_hour": row.cost_per_freed_hour_ore,
        "value": row.value_ore,
        "net_benefit": row.net_benefit_ore,
    }
    values.update({key: row.cost_by_line.get(name, 0) for name, key in line_keys.items()})
    return values


def costs_to_report(
    result: AllocationResult,
    *,
    by: RollupKey = "process",
    period_label: str = "",
    title: str | None = None,
) -> Report:
    """The allocation as a generic table: one column per cost line, then the totals.

    An ``(unallocated)`` row appears when some cost had no process to carry it,
    so the money columns always sum to the total row.
    """
    group = "cost_centre" if by in ("cost-centre", "cost_centre") else by
    taken: set[str] = set()
    line_keys = {name: _slug(name, taken) for name in result.line_names}
    columns = [Column("key", group_title(group), "text")]
    if group == "process":
        columns += [Column("owner", _("Owner")), Column("cost_centre", _("Cost centre"))]
    columns += [
        Column("items_done", _("Items done"), "int"),
        Column("business_exceptions", _("Business exceptions"), "int"),
        Column("robot_hours", _("Robot hours"),
            "hours",
            description=_("Time in attempts, failed ones included."),
        ),
        Column("freed_hours", _("Freed hours"), "hours", description=_("Freed minutes / 60.")),
    ]
    for outcome in result.lines:
        description = outcome.explain()
        columns.append(
            Column(
                line_keys[outcome.line.name], outcome.line.name, "money", description=description
            )
        )
    columns += [
        Column("cost", _("Cost"), "money", description=_("Sum of the cost lines.")),
        Column("cost_per_freed_hour", _("Cost per freed hour"), "money",
               description=_("Cost / freed hours.")),
        Column("value", _("Value of freed hours"), "money",
               description=_("Freed hours x hourly rate.")),
        Column("net_benefit", _("Net benefit"), "money", description=_("Value - cost.")),
    ]
    rows = [*result.by(by), *[r for r in (result.unallocated_row(),) if r is not None]]
    label = f", {period_label}" if period_label else ""
    return Report(
        title=title or _("Costs by {group}").format(group=group_title(group).lower()) + label,
        columns=tuple(columns),
        rows=tuple(_cost_row(row, line_keys) for row in rows),
        total=_cost_row(result.total(), line_keys),
        method=result.method(),
        subtitle=_("Period {period}").format(period=period_label) if period_label else "",
    )


def rich_table(
    report: Report,
    *,
    keys: Sequence[str] | None = None,
    titles: Mapping[str, str] | None = None,
    bar_key: str | None = None,
    bar_width: int = 10,
    money_places: int = 0,
) -> Table:
    """Any ``Report`` as a Rich table; ``keys`` picks and orders the columns."""
    by_key = {column.key: column for column in report.columns}
    chosen = [by_key[key] for key in keys] if keys else list(report.columns)
    table = Table(
        title=report.title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,  # two spaces between columns
    )
    for column in chosen:
        title = (titles or {}).get(column.key, column.title)
        if column.numeric:
            table.add_column(title, justify="right", no_wrap=True)
        else:
            # the only column Rich may narrow: long names end in "…", blanks wrap
            table.add_column(title, overflow="ellipsis")
    if bar_key:
        table.add_column("", no_wrap=True, min_width=bar_width)
    peak = max((row.get(bar_key) or 0 for row in report.rows), default=0) if bar_key else 0

    def cells(row: Mapping[str, Any]) -> list[str]:
        out = []
        for column in chosen:
            shown = Column(column.key, column.title, column.type, money_places, column.description)
            out.append(escape(  # owners and processes are free text from process files
                cell_text(
                    shown if column.type == "money" else column, row.get(column.key), plain=False
                )
            ))
        return out

    for index, row in enumerate(report.rows):
        extra = [bar(row.get(bar_key) or 0, peak, bar_width)] if bar_key else []
        table.add_row(*cells(row), *extra, end_section=index == len(report.rows) - 1)
    if report.total is not None:
        table.add_row(*cells(report.total), *([""] if bar_key else []), style="bold")
    return table


def hours_table(report: HoursReport) -> Table:
    """Freed hours for the terminal, bars on freed hours."""
    table = rich_table(
        hours_to_report(report),
        keys=["key", "items_done", "gross_hours", "review_hours", "freed_hours", "fte"],
        titles={"items_done": _("Done"), "gross_hours": _("Gross h"),
                "review_hours": _("Review h"), "freed_hours": _("Net h"), "fte": _("FTE")},
        bar_key="freed_hours",
        bar_width=8,
    )
    estimated = report.total.estimated_hours
    table.caption = _("net = gross - review") + (
        "; " + _("{hours} review hours are estimates (unresolved tasks)").format(
            hours=f"{estimated:.1f}".replace(".", ",")) if estimated else "")
    return table


def costs_table(
    result: AllocationResult, *, by: RollupKey = "process", period_label: str = ""
) -> Table:
    """Costs for the terminal in whole NOK: cost, value, net, hours, NOK/h, bars on cost."""
    report = costs_to_report(result, by=by, period_label=period_label)
    table = rich_table(
        report,
        keys=["key", "cost", "value", "net_benefit", "freed_hours", "cost_per_freed_hour"],
        titles={
            "cost": _("Cost"),
            "value": _("Value"),
            "net_benefit": _("Net"),
            "freed_hours": _("Freed h"),
            "cost_per_freed_hour": _("NOK/h"),
        },
        bar_key="cost",
        bar_width=6,
    )
    table.caption = _("NOK; value = freed hours x hourly rate; net = value - cost")
    return table


def _json_row(columns: Sequence[Column], row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        value = row.get(column.key)
        if value is None:
            out[column.key] = None
        elif column.type == "money":
            out[column.key] = cell_text(column, value)
            out[f"{column.key}_ore"] = int(value)
        elif column.type == "int":
            out[column.key] = int(value)
        else:
            out[column.key] = cell_text(column, value)
        if column.type == "money" and value is None:
            out[f"{column.key}_ore"] = None
    return out


def as_json(report: Report) -> dict[str, Any]:
    """A JSON-ready dict: title, columns, rows, total and method (see module doc)."""
    return {
        "title": report.title,
        "subtitle": report.subtitle,
        "columns": [{"key": c.key, "title": c.title, "type": c.type} for c in report.columns],
        "rows": [_json_row(report.columns, row) for row in report.rows],
        "total": None if report.total is None else _json_row(report.columns, report.total),
        "method": report.method,
    }
