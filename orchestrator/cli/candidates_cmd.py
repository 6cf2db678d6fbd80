"""`rpa candidates add|list|link`: processes that might be automated next, ranked.

A candidate is scored for automation potential (0-100) and given an honest
estimate of the hours a robot would free a year (see
`orchestrator.reports.candidates`). Once it is linked to the process it
became, the list sets that estimate against the hours the audit log shows the
process actually freed, annualised.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum

import typer
from rich.markup import escape

from orchestrator.cli.common import STATE, actor, console, make_table, print_json
from orchestrator.cli.report_cmd import report_errors
from orchestrator.errors import UsageError

candidates_app = typer.Typer(help="Candidate processes: record, rank by potential, link to "
                             "the process they became.", no_args_is_help=True)


class Stability(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


def parse_share(text: str) -> Decimal:
    """``0.8`` or ``80%`` -> ``Decimal("0.8")``; the range is checked by ``Candidate``."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            return Decimal(raw[:-1].strip()) / 100
        return Decimal(raw)
    except InvalidOperation:
        raise UsageError(f"--rule-based-share {text!r}: write a share such as 0.8 or "
                         "80%") from None


@candidates_app.command("add")
def add(
    name: str = typer.Argument(..., help="a short name for the work, e.g. travel-claims"),
    owner: str = typer.Option(..., "--owner", help="who owns the work today"),
    volume_per_month: float = typer.Option(..., "--volume-per-month", min=0, max=1e9,
                                           help="items a month"),
    minutes_per_item: float = typer.Option(..., "--minutes-per-item", min=0, max=100_000,
                                           help="a person's minutes per item today"),
    rule_based_share: str = typer.Option(..., "--rule-based-share",
                                         help="share of items decided by rules: 0.8 or 80%"),
    stability: Stability = typer.Option(..., "--stability",
                                        help="how rarely the target system's screens change"),
    digital: bool = typer.Option(..., "--digital/--not-digital",
                                 help="does the input arrive in digital form?"),
    process: str | None = typer.Option(None, "--process",
                                       help="the registered process it already became"),
    notes: str = typer.Option("", "--notes"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record a candidate; prints its score and estimated freed hours (audited)."""
    from orchestrator.reports import service
    from orchestrator.reports.money import format_number

    with report_errors():
        scored = service.add_candidate(
            STATE.store, name=name, owner=owner, volume_per_month=volume_per_month,
            minutes_per_item=minutes_per_item, rule_based_share=parse_share(rule_based_share),
            stability=stability.value, digital=digital, process=process, notes=notes,
            actor=actor())
    if json_out:
        print_json({"name": name, "score": scored.score,
                    "estimated_hours_per_year": f"{scored.freed_hours_per_year:.2f}"})
        return
    console.print(f"[green]✓[/] {name}: score [bold]{scored.score}[/]/100, about "
                  f"{format_number(scored.freed_hours_per_year, 0)} hours a year could be "
                  "freed")


@candidates_app.command("link")
def link(
    name: str = typer.Argument(..., help="the candidate"),
    process: str = typer.Argument(..., help="the registered process it became"),
) -> None:
    """Record that a candidate became a process, so its realised hours can be shown."""
    from orchestrator.reports import service

    with report_errors():
        service.link_candidate(STATE.store, name, process, actor=actor())
    console.print(f"[green]✓[/] {name} is now {process}: `rpa candidates list` shows "
                  "estimated against realised hours")


@candidates_app.command("list")
def list_(
    period: str | None = typer.Option(None, "--period", "-p", help="window for realised "
                                      "hours (default: the last 12 months)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Candidates ranked by automation potential, with estimated and realised hours."""
    from orchestrator.reports import service
    from orchestrator.reports.money import format_number
    from orchestrator.reports.render import bar

    with report_errors():
        views = service.list_candidates(STATE.store, period=period, settings=STATE.settings)
    if json_out:
        print_json([{"rank": rank, **view.as_dict()} for rank, view in enumerate(views, 1)])
        return
    if not views:
        console.print("No candidates yet: rpa candidates add NAME --owner ... "
                      "(see --help)")
        return
    table = make_table("Automation candidates, best first")
    for title, justify in (("candidate", "left"), ("owner", "left"), ("score", "right"),
                           ("", "left"), ("est. h", "right"), ("real h", "right"),
                           ("process", "left")):
        # names may be cut with an ellipsis but never squeezed out; figures never wrap
        text = title in ("candidate", "owner", "process")
        table.add_column(title, justify=justify, no_wrap=not text,  # type: ignore[arg-type]
                         overflow="ellipsis",
                         min_width=(16 if title == "candidate" else 8) if text else None)
    for view in views:
        realised = "-" if view.realised is None else format_number(
            view.realised.hours_per_year, 0)
        table.add_row(escape(view.name), escape(view.owner), str(view.scored.score),
                      bar(view.scored.score, 100, 6),
                      format_number(view.scored.freed_hours_per_year, 0), realised,
                      view.process or "-")
    console.print(table)
    console.print("[dim]Hours a year. est. = volume x 12 x minutes / 60 x rule-based share; "
                  "real = freed hours of the linked process, annualised over the window[/]")
