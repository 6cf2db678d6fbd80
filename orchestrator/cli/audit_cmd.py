"""`rpa audit list|verify`: read the audit log and prove nobody rewrote it."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from orchestrator.cli.arguments import MAX_ID, MAX_LIMIT, WHEN_HELP, parse_window
from orchestrator.cli.common import STATE, console, make_table, print_json
from orchestrator.durations import format_time

audit_app = typer.Typer(help="The audit log: list events, verify the hash chains.",
                        no_args_is_help=True)


@audit_app.command("list")
def list_(
    item: int | None = typer.Option(None, "--item", min=1, max=MAX_ID,
                                    help="events of one item"),
    process: str | None = typer.Option(None, "--process", "-p"),
    action: str | None = typer.Option(None, help="e.g. item.completed or 'item.*'"),
    since: str | None = typer.Option(None, help=f"from: {WHEN_HELP}"),
    until: str | None = typer.Option(None, help="before: the same forms"),
    limit: int = typer.Option(50, min=1, max=MAX_LIMIT, help="at most this many, newest first"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Latest audit events first."""
    tz = STATE.settings.timezone
    since_at, until_at = parse_window(since, until, tz)
    events = STATE.store.audit_events(limit=limit, item_id=item, process=process, action=action,
                                      since=since_at, until=until_at)
    if json_out:
        for e in events:
            e["details"] = json.loads(e["details"])
        print_json(events)
        return
    console.print(_events_table(events, tz, wide=console.width >= WIDE_TABLE))


WIDE_TABLE = 120  # columns from which an event's who and details get columns of their own


def _events_table(events: list[dict[str, Any]], tz: str, *, wide: bool) -> Table:
    """One row per event; narrower than `WIDE_TABLE`, who and details go under the what.

    Why two layouts: at 80 columns six columns left the actor and the details
    four or five characters each, folded into towers nobody could read.
    """
    table = make_table(f"Audit events ({len(events)})")
    table.add_column("when", no_wrap=True)
    table.add_column("what", no_wrap=wide, overflow="fold")
    if wide:
        table.add_column("process", no_wrap=True, max_width=24, overflow="ellipsis")
        table.add_column("item", justify="right")
        table.add_column("who", overflow="fold")
        table.add_column("details", overflow="fold")
    for e in events:
        details = json.loads(e["details"])
        if e["freed_minutes"]:
            details["freed_min"] = e["freed_minutes"]
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        when = format_time(e["ts"], tz)
        if wide:
            table.add_row(when, e["action"], e["process"] or "", str(e["item_id"] or ""),
                          e["actor"], text)
            continue
        what = Text(e["action"], style="bold")
        if e["process"]:
            what.append(f"  {e['process']}")
        if e["item_id"]:
            what.append(f" #{e['item_id']}")
        what.append(f"\nby {e['actor']}" + (f": {text}" if text else ""), style="dim")
        table.add_row(when, what)
    return table


@audit_app.command("verify")
def verify(json_out: bool = typer.Option(False, "--json")) -> None:
    """Recompute every hash chain; exit 1 naming the first altered, removed or inserted row."""
    result = STATE.store.verify_audit()
    if json_out:
        print_json({"ok": result.ok, "events": result.events, "chains": result.chains,
                    "findings": [f.__dict__ for f in result.findings]})
    elif result.ok:
        console.print(f"[green]OK[/]: {result.events} events in {result.chains} chain(s), "
                      "every hash matches")
    else:
        console.print(f"[bold red]TAMPERED[/]: {len(result.findings)} chain(s) do not verify")
        for f in result.findings:
            row = f"event id {f.event_id}" if f.event_id else "the chain's end"
            console.print(f"  chain {f.chain_id} ({f.writer}), position {f.seq}, {row}: "
                          f"{f.problem}")
    if not result.ok:
        raise typer.Exit(1)
