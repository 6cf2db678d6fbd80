"""`rpa audit list|verify`: read the audit log and prove nobody rewrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.cli.arguments import MAX_ID, MAX_LIMIT, WHEN_HELP, parse_window
from orchestrator.cli.common import STATE, actor, console, make_table, print_json
from orchestrator.durations import format_time
from orchestrator.errors import CheckFailed, UsageError

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
            table.add_row(when, *(Text(str(cell)) for cell in (  # database text: no markup
                e["action"], e["process"] or "", e["item_id"] or "", e["actor"], text)))
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
def verify(
    against: Path | None = typer.Option(None, "--against", help="also hold the database "
                                        "against a checkpoint exported earlier"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute every chain and check the checkpoints; exit 1 naming what was tampered with.

    Finds an altered, removed, inserted or reordered event, a truncated chain, a
    whole chain removed, a forged chain, a renamed writer, and a chain rewritten
    consistently by someone without the key.
    """
    exported = read_checkpoint_file(against) if against is not None else None
    result = STATE.store.verify_audit(against=exported)
    checkpoint_note = "" if exported is None else f", and checkpoint {exported.id} of {against}"
    if json_out:
        print_json({"ok": result.ok, "events": result.events, "chains": result.chains,
                    "findings": [f.__dict__ for f in result.findings]})
    elif result.ok:
        console.print(f"[green]OK[/]: {result.events} events in {result.chains} chain(s), "
                      f"every hash and checkpoint holds{checkpoint_note}")
    else:
        console.print(f"[bold red]TAMPERED[/]: {len(result.findings)} problem(s)")
        for f in result.findings:  # names come from the database: never read as markup
            console.print(f"  {escape(_where(f))}: {escape(f.problem)}")
    if not result.ok:
        raise typer.Exit(1)


def _where(finding: Any) -> str:
    if finding.writer in ("checkpoints", "checkpoint file"):
        return finding.writer
    place = f"chain {finding.chain_id} ({finding.writer})"
    if finding.event_id:
        return f"{place}, position {finding.seq}, event id {finding.event_id}"
    return f"{place}, position {finding.seq}" if finding.seq is not None else place


def read_checkpoint_file(path: Path) -> Any:
    """An exported checkpoint, or a UsageError saying why the file is not one."""
    from queues import checkpoints

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: cannot be read: {err.strerror or err}") from None
    if len(raw) > 50_000_000:
        raise UsageError(f"{path}: is too large to be an audit checkpoint")
    try:
        return checkpoints.parse(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UsageError(f"{path}: is not JSON: not an exported audit checkpoint") from None
    except ValueError as err:
        raise UsageError(f"{path}: {err}") from None


@audit_app.command("checkpoint")
def checkpoint(
    export: Path | None = typer.Option(None, "--export", help="also write it to FILE, for "
                                       "an auditor to keep outside the database"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Seal every chain's length and head under the key, after checking the log is intact."""
    from orchestrator.private_files import write_private

    result = STATE.store.verify_audit()
    if not result.ok:
        raise CheckFailed(f"the audit log does not verify ({len(result.findings)} problem(s)):"
                          " run `rpa audit verify`; no checkpoint was written")
    if export is not None and export.is_dir():
        raise UsageError(f"{export}: is a directory: give a file name")
    sealed = STATE.store.checkpoint_audit(actor=actor())
    if export is not None:
        try:
            write_private(export, (json.dumps(sealed.as_dict(), indent=2) + "\n").encode())
        except OSError as err:
            raise UsageError(f"{export}: cannot be written: {err.strerror or err} (checkpoint "
                             f"{sealed.id} is in the database)") from None
    if json_out:
        print_json(sealed.as_dict() | {"exported_to": str(export) if export else None})
        return
    console.print(f"[green]✓[/] checkpoint {sealed.id}: {len(sealed.chains)} chain(s), "
                  f"{sum(c.length for c in sealed.chains)} event(s) sealed")
    if export is not None:
        console.print(f"  exported to {export} (mode 0600): keep it where the database's "
                      "administrators cannot change it")
