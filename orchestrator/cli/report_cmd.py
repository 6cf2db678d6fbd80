"""`rpa report hours|costs`: freed hours and cost allocation from the audit log.

Both commands print a Rich table (with bars) by default, the same rows plus the
total as JSON with `--json`, and write any of `--csv`, `--xlsx` and `--chart`
(PNG or SVG) at once; every output shows the same figures because all come
from one `export.Report`. Errors in a period, a costs file or an output path
exit 2 with the message of the report module that found them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from orchestrator.cli.common import STATE, console, err_console, print_json
from orchestrator.errors import UsageError
from orchestrator.i18n import _ as tr

if TYPE_CHECKING:  # the report modules load on use: other commands start faster
    from orchestrator.reports.export import Report
    from orchestrator.reports.periods import Period

report_app = typer.Typer(help="Reports from the audit log: freed hours, costs per process.",
                         no_args_is_help=True)

PERIOD_HELP = ("2026, 2026-Q3, 2026-10, 2026-W05, FROM..TO (dates), this-year, last-month, "
               "...; default this-year")


class HoursBy(StrEnum):
    owner = "owner"
    process = "process"
    cost_centre = "cost-centre"
    unit = "unit"
    department = "department"
    sector = "sector"


class CostsBy(StrEnum):
    process = "process"
    owner = "owner"
    cost_centre = "cost-centre"


class Unit(StrEnum):
    hours = "hours"
    fte = "fte"


@contextmanager
def report_language(lang: str | None) -> Iterator[str]:
    """The labels' language for one command: --lang, else the settings (RPA_REPORT_LANGUAGE)."""
    from orchestrator.i18n import LANGUAGES, language

    chosen = lang or STATE.settings.report_language
    if chosen not in LANGUAGES:
        raise UsageError(f"--lang: {chosen[:20]!r} is not nb or en")
    with language(chosen) as current:
        yield current


@contextmanager
def report_errors() -> Iterator[None]:
    """Report-module errors and unwritable files are bad input: exit 2, no traceback."""
    from orchestrator.reports.periods import ReportError

    try:
        yield
    except ReportError as err:
        raise UsageError(str(err)) from err
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        raise UsageError(f"{where}cannot write the file: {err.strerror or err}") from err


def check_outputs(csv: Path | None, xlsx: Path | None, chart: Path | None) -> None:
    """Refuse bad output names before the query runs, so nothing is half written."""
    if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
        raise UsageError(f"--xlsx {xlsx}: the file name must end in .xlsx")
    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--chart {chart}: the file name must end in .png or .svg")
    for flag, path in (("--csv", csv), ("--xlsx", xlsx), ("--chart", chart)):
        if path is not None and not path.resolve().parent.is_dir():
            raise UsageError(f"{flag} {path}: the directory {path.resolve().parent} "
                             "does not exist")


def _period_json(period: Period) -> dict[str, Any]:
    return {"label": period.label, "start": period.start.isoformat(),
            "end": period.end.isoformat(), "days": str(period.days)}


def _say(message: str, json_out: bool) -> None:
    """Progress notes go to stderr when stdout carries JSON."""
    (err_console if json_out else console).print(message)


def write_files(report: Report, *, csv: Path | None, xlsx: Path | None, json_out: bool
                ) -> list[str]:
    from orchestrator.reports.export import write_csv, write_xlsx

    written = []
    if csv is not None:
        written.append(str(write_csv(report, csv)))
    if xlsx is not None:
        written.append(str(write_xlsx(report, xlsx)))
    for path in written:
        _say(f"[green]✓[/] {tr('wrote')} {escape(str(path))}", json_out)
    return written


def parse_rate(text: str | None) -> int | None:
    """``--hourly-rate 650`` / ``"650.00"`` (NOK) -> øre."""
    if text is None:
        return None
    from orchestrator.reports.money import to_ore
    return to_ore(text.strip())


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--as-of: {text[:40]!r} is not a date like 2026-12-31") from None


@report_app.command("hours")
def hours(
    period: str = typer.Option("this-year", "--period", "-p", help=PERIOD_HELP),
    by: HoursBy = typer.Option(HoursBy.owner, "--by", help="group the rows by"),
    unit: Unit = typer.Option(Unit.hours, "--unit", help="hours, or FTE (full-time "
                              "equivalents) in the terminal table"),
    fte_hours: float | None = typer.Option(None, "--fte-hours", min=1, max=8784,
                                           help="hours in one FTE-year (default 1695)"),
    costs: Path | None = typer.Option(None, "--costs", help="costs.yaml (its "
                                      "fte_hours_per_year is used)"),
    csv: Path | None = typer.Option(None, "--csv", help="write the rows as CSV"),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="write an XLSX with a Method sheet"),
    chart: Path | None = typer.Option(None, "--chart", help="net hours per group per "
                                      "month, and gross, review and net per month; .png "
                                      "or .svg"),
    as_of: str | None = typer.Option(None, "--as-of", help="roll units up under the "
                                     "organisation in force on this date (YYYY-MM-DD), not "
                                     "the one in force when each event happened"),
    per_month: bool = typer.Option(False, "--per-month", help="a row per group and month "
                                   "(gross, review, net), in the table and the files"),
    lang: str | None = typer.Option(None, "--lang", help="nb or en: the language of the "
                                    "labels, the files and the Method sheet (default: "
                                    "RPA_REPORT_LANGUAGE, en)"),
    json_out: bool = typer.Option(False, "--json", help="rows and total as JSON"),
) -> None:
    """Gross, review and net hours the robots freed, by owner, process, cost centre, or
    unit, department or sector of the organisation."""
    with report_language(lang):
        from orchestrator.reports import service
        from orchestrator.reports.render import as_json, group_title, hours_table, rich_table

        check_outputs(csv, xlsx, chart)
        with report_errors():
            outcome = service.hours_report(
                STATE.store, period, by=by.value, settings=STATE.settings, costs_file=costs,
                fte_hours_per_year=Decimal(str(fte_hours)) if fte_hours else None,
                monthly=chart is not None or per_month, as_of=_as_of(as_of))
            report = outcome.monthly_table() if per_month else outcome.table()
            written = write_files(report, csv=csv, xlsx=xlsx, json_out=json_out)
            if chart is not None:
                from orchestrator.reports.export import write_chart
                written.append(str(write_chart(chart, hours_by_month=outcome.hours_by_month(),
                                               net_by_month=outcome.net_by_month(),
                                               group=group_title(by.value.replace("-", "_")),
                                               title=tr("Freed hours, {period}").format(
                                                   period=outcome.period.label))))
                _say(f"[green]✓[/] {tr('wrote')} {escape(str(chart))}", json_out)
        if json_out:
            print_json({**as_json(report), "period": _period_json(outcome.period),
                        "group_by": by.value, "unit": unit.value,
                        "fte_hours_per_year": str(outcome.report.fte_hours_per_year),
                        "warnings": outcome.warnings, "files": written})
            return
        if per_month:
            table = rich_table(report, keys=["key", "month", "gross_hours", "review_hours",
                                             "freed_hours"],
                               titles={"gross_hours": tr("Gross h"),
                                       "review_hours": tr("Review h"),
                                       "freed_hours": tr("Net h")}, bar_key="freed_hours",
                               bar_width=8)
        elif unit is Unit.fte:
            table = rich_table(report, keys=["key", "items_done", "freed_hours", "fte",
                                             "fte_years"],
                               titles={"freed_hours": tr("Net h"), "fte": tr("FTE")},
                               bar_key="fte",
                               bar_width=12)
        else:
            table = hours_table(outcome.report)
        console.print(table)
        console.print("[dim]" + escape(tr(
            "{period}: {start} to {end} (exclusive); FTE = {hours} hours a year ({source})"
        ).format(period=outcome.period.label, start=f"{outcome.period.start:%Y-%m-%d}",
                 end=f"{outcome.period.end:%Y-%m-%d}",
                 hours=outcome.report.fte_hours_per_year, source=outcome.fte_source)) + "[/]")
        for warning in outcome.warnings:
            console.print(f"[yellow]{tr('note')}:[/] {escape(warning)}")


@report_app.command("costs")
def costs(
    period: str = typer.Option("this-year", "--period", "-p", help=PERIOD_HELP),
    by: CostsBy = typer.Option(CostsBy.process, "--by", help="group the rows by"),
    costs_file: Path | None = typer.Option(None, "--costs", help="costs.yaml (default: "
                                           "RPA_COSTS_FILE, ./config/costs.yaml, the example)"),
    hourly_rate: str | None = typer.Option(None, "--hourly-rate", help="value of one freed "
                                           "hour in NOK (default: hourly_rate in the file)"),
    csv: Path | None = typer.Option(None, "--csv", help="write the rows as CSV"),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="write an XLSX with a Method sheet"),
    chart: Path | None = typer.Option(None, "--chart", help="freed hours per owner and cost "
                                      "vs value per process, .png or .svg"),
    lang: str | None = typer.Option(None, "--lang", help="nb or en: the language of the "
                                    "labels, the files and the Method sheet (default: "
                                    "RPA_REPORT_LANGUAGE, en)"),
    json_out: bool = typer.Option(False, "--json", help="rows and total as JSON"),
) -> None:
    """Split the period's costs over the processes and set them against the freed hours."""
    with report_language(lang):
        from orchestrator.reports import service
        from orchestrator.reports.money import format_nok
        from orchestrator.reports.render import as_json, costs_table

        check_outputs(csv, xlsx, chart)
        with report_errors():
            rate = parse_rate(hourly_rate)
            outcome = service.costs_report(
                STATE.store, period, by=by.value, costs_file=costs_file, hourly_rate_ore=rate,
                settings=STATE.settings, monthly=chart is not None)
            report = outcome.table()
            written = write_files(report, csv=csv, xlsx=xlsx, json_out=json_out)
            if chart is not None:
                from orchestrator.reports.export import write_chart
                written.append(str(write_chart(
                    chart, hours_by_month=outcome.hours_by_month(),
                    cost_value=outcome.cost_value(),
                    title=tr("Costs and freed hours, {period}").format(
                        period=outcome.period.label))))
                _say(f"[green]✓[/] {tr('wrote')} {escape(str(chart))}", json_out)
        result = outcome.result
        if json_out:
            print_json({**as_json(report), "period": _period_json(outcome.period),
                        "group_by": by.value, "costs_file": str(outcome.source.path),
                        "hourly_rate_ore": result.hourly_rate_ore,
                        "total_cost_ore": result.total_cost_ore,
                        "allocated_ore": result.allocated_ore,
                        "unallocated_ore": result.unallocated_ore,
                        "lines": [{"name": o.line.name, "amount_ore": o.line.amount_ore,
                                   "driver": o.line.driver, "basis": o.basis,
                                   "explanation": o.explain()} for o in result.lines],
                        "warnings": outcome.warnings, "files": written})
            return
        console.print(costs_table(result, by=by.value, period_label=outcome.period.label))
        console.print("[dim]" + escape(tr(
            "Costs from {path} ({origin}); total {total} NOK = allocated {allocated} + "
            "unallocated {unallocated}; hourly rate {rate} NOK."
        ).format(path=outcome.source.path, origin=outcome.source.origin,
                 total=format_nok(result.total_cost_ore),
                 allocated=format_nok(result.allocated_ore),
                 unallocated=format_nok(result.unallocated_ore),
                 rate=format_nok(result.hourly_rate_ore))) + "[/]")
        for outcome_line in result.lines:
            console.print(f"[dim]- {escape(outcome_line.explain())}[/]")
        for warning in outcome.warnings:
            console.print(f"[yellow]{tr('note')}:[/] {escape(warning)}")

