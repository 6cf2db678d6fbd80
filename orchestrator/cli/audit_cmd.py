"""`rpa audit list|verify`: read the audit log and prove nobody rewrote it."""

from __future__ import annotations

import json

import typer

from orchestrator.cli.common import STATE, console, make_table, print_json
from orchestrator.cli.items_cmd import parse_since
from orchestrator.durations import format_time

audit_app = typer.Typer(help="The audit log: list events, verify the hash chains.",
                        no_args_is_help=True)


@audit_app.command("list")
def list_(
    item: int | None = typer.Option(None, "--item", help="events of one item"),
    process: str | None = typer.Option(None, "--process", "-p"),
    action: str | None = typer.Option(None, help="e.g. item.completed or 'item.*'"),
    since: str | None = typer.Option(None, help="e.g. 24h or 2026-11-01"),
    limit: int = typer.Option(50),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Latest audit events first."""
    tz = STATE.settings.timezone
    events = STATE.store.audit_events(limit=limit, item_id=item, process=process, action=action,
                                      since=parse_since(since, tz))
    if json_out:
        for e in events:
            e["details"] = json.loads(e["details"])
        print_json(events)
        return
    table = make_table(f"Audit events ({len(events)})")
    table.add_column("when", no_wrap=True)
    table.add_column("who", overflow="fold")
    table.add_column("what", no_wrap=True)
    table.add_column("process", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("item", justify="right")
    table.add_column("details", overflow="fold")
    for e in events:
        details = json.loads(e["details"])
        if e["freed_minutes"]:
            details["freed_min"] = e["freed_minutes"]
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        table.add_row(format_time(e["ts"], tz), e["actor"], e["action"], e["process"] or "",
                      str(e["item_id"] or ""), text)
    console.print(table)


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
