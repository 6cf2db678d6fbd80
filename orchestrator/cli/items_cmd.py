"""`rpa enqueue` and `rpa items ...`: add, list, inspect, retry and abandon work items."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from orchestrator.cli.arguments import MAX_ID, MAX_LIMIT, WHEN_HELP, parse_window
from orchestrator.cli.common import (
    STATE,
    console,
    json_object_flag,
    make_table,
    principal,
    print_json,
    styled_status,
)
from orchestrator.durations import format_age, format_time
from orchestrator.errors import InputFileError, UsageError

if TYPE_CHECKING:  # the queue package loads on use: `rpa --help` starts faster
    from queues import NewItem
    from queues.models import Attempt, EnqueueCount, ItemView

items_app = typer.Typer(help="Work items: list, show, retry, abandon.", no_args_is_help=True)


def enqueue(
    process: str = typer.Argument(..., help="the process whose queue gets the items"),
    file: Path | None = typer.Option(None, "--file", "-f",
                                     help="items from .csv, .json, .jsonl or .xlsx"),
    data: str | None = typer.Option(None, "--data", "-d", help="one payload as JSON"),
    reference: str | None = typer.Option(None, "--reference", "-r",
                                         help="the reference of the --data item"),
    priority: str | None = typer.Option(None, help="high, normal or low (for --data)"),
    formulas: str = typer.Option("refuse", "--formulas",
                                 help="an XLSX formula with no calculated value: refuse "
                                      "the file, or read it as blank"),
    reference_column: list[str] | None = typer.Option(
        None, "--reference-column", help="build the queue key from this column (repeat for "
        "several; kept in the payload); default: the process's reference_from, else the "
        "'reference' column"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Add work items; all are validated first, and a known reference is not added twice."""
    if (file is None) == (data is None):
        raise UsageError("give either --file FILE or --data '{...}'")
    if reference_column and file is None:
        raise UsageError("--reference-column reads a file: use --reference with --data")
    if reference_column and (len(reference_column) > 5
                             or any(not c.strip() for c in reference_column)):
        raise UsageError("--reference-column: name 1 to 5 columns")
    if formulas not in ("refuse", "blank"):
        raise UsageError(f"--formulas: {formulas[:40]!r} is not refuse or blank")
    store = STATE.store
    info = store.get_process(process)
    if file is not None:
        key = reference_column or info.spec.definition.get("reference_from")
        counted = _enqueue_file(file, process, info.spec.input_schema, formulas, key,
                                json_out)
        added, existing = counted.added, counted.existing
        ids, existing_ids = counted.ids or {}, counted.existing_ids or {}
    else:
        result = store.enqueue(process, [_data_item(str(data), reference, priority)],
                               actor=principal().actor)
        added, existing = len(result.added), len(result.existing)
        ids, existing_ids = result.added, result.existing
    if json_out:
        print_json({"process": process, "added": added, "already_present": existing,
                    "ids": ids, "existing_ids": existing_ids})
        return
    console.print(f"[green]✓[/] {process}: [bold]{added}[/] added, "
                  f"{existing} already present")


def _enqueue_file(file: Path, process: str, schema: dict[str, Any] | None, formulas: str,
                  key: Sequence[str] | None, keep_ids: bool) -> EnqueueCount:
    """A file streamed into one transaction, a chunk at a time: a million rows fit in
    a few hundred megabytes, and a bad row anywhere writes nothing."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from orchestrator.item_files import item_chunks
    from queues.errors import RepeatedReference

    rows: dict[str, int] = {}  # the current chunk's reference -> row number

    def chunks() -> Iterator[list[NewItem]]:
        for chunk in item_chunks(file, schema, STATE.settings.timezone, formulas=formulas,
                                 reference_from=key):
            rows.clear()  # for a repeat of an earlier chunk's reference, found by the store
            rows.update((item.reference, number) for number, item in chunk)
            yield [item for _, item in chunk]

    with Progress(SpinnerColumn(), TextColumn("adding {task.completed:,} items"),
                  TimeElapsedColumn(), console=console, disable=keep_ids,
                  transient=True) as bar:
        task = bar.add_task("enqueue", total=None)
        try:
            counted = STATE.store.enqueue_stream(process, chunks(), actor=principal().actor,
                                                 progress=lambda n: bar.advance(task, n),
                                                 keep_ids=keep_ids)
        except RepeatedReference as err:
            where = f"row {rows[err.reference]}: " if err.reference in rows else ""
            raise InputFileError(f"{file}: {where}reference {err.reference[:60]!r} already "
                                 "appears earlier in the file; nothing was added") from None
    if counted.added + counted.existing == 0:
        raise InputFileError(f"{file}: holds no items")
    return counted


def _data_item(data: str, reference: str | None, priority: str | None) -> NewItem:
    from queues import NewItem, Priority

    payload = json_object_flag(data, "--data")
    ref = reference or payload.pop("reference", None)
    if not ref:
        raise UsageError("give the item a --reference (or a \"reference\" key in --data)")
    if not isinstance(ref, str | int) or isinstance(ref, bool):
        raise UsageError("the reference must be text or a whole number")
    try:
        prio = Priority.parse(priority) if priority else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    return NewItem(reference=str(ref), payload=payload, priority=prio)


def _item_json(item: ItemView) -> dict[str, Any]:
    from orchestrator.services.items import as_dict

    return as_dict(item)


def _statuses(status: list[str]) -> tuple[str, ...]:
    from queues.states import Status

    known = {s.value for s in Status}
    for s in status:
        if s not in known:
            raise UsageError(f"unknown status {s!r}: use one of {', '.join(sorted(known))}")
    return tuple(status)


@items_app.command("list")
def list_(
    process: str | None = typer.Option(None, "--process", "-p"),
    status: list[str] = typer.Option([], "--status", "-s", help="repeat for several"),
    since: str | None = typer.Option(None, help=f"changed since: {WHEN_HELP}"),
    until: str | None = typer.Option(None, help="changed before: the same forms"),
    error_code: str | None = typer.Option(None, "--error-code"),
    reference: str | None = typer.Option(None, "--reference", "-r",
                                         help="this reference only (hashed ones too)"),
    limit: int = typer.Option(50, min=1, max=MAX_LIMIT, help="at most this many, newest first"),
    json_out: bool = typer.Option(False, "--json", help="the items as JSON, with their "
                                  "attempt count; `rpa items show ID --json` has every "
                                  "attempt, its error and evidence"),
) -> None:
    """Items, newest change first (each attempt: `rpa items show ID`)."""
    from queues import ItemFilter

    since_at, until_at = parse_window(since, until, STATE.settings.timezone)
    items = STATE.store.list_items(ItemFilter(process=process, statuses=_statuses(status),
                                              since=since_at, until=until_at,
                                              error_code=error_code, limit=limit,
                                              reference=reference))
    if json_out:
        print_json([_item_json(i) for i in items])
        return
    table = make_table(f"Work items ({len(items)})")
    table.add_column("id", justify="right")
    table.add_column("process")
    table.add_column("reference", overflow="fold")
    table.add_column("status")
    table.add_column("try", justify="right")
    table.add_column("changed", justify="right")
    table.add_column("error", overflow="fold")
    now = time.time()
    for i in items:
        table.add_row(str(i.id), i.process, escape(i.reference), styled_status(i.status),
                      f"{i.attempts}/{i.attempt_limit}", format_age(now - i.updated_at) + " ago",
                      escape(i.error_code or i.error_type or ""))
    console.print(table if items else "No items match.")


@items_app.command("show")
def show(item_id: int = typer.Argument(..., min=1, max=MAX_ID, help="the item's id"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """One item: payload, output, every attempt with its error and evidence."""
    from queues import Priority

    item = STATE.store.get_item(item_id)
    tombstones = STATE.store.retention.tombstones(item_id) if item.purged else []
    if json_out:
        print_json(_item_json(item) | {"purges": [t.__dict__ for t in tombstones]})
        return
    tz = STATE.settings.timezone
    console.print(f"[bold]Item {item.id}[/]  {item.process} / {escape(item.reference)}  "
                  f"{styled_status(item.status)}  attempt {item.attempts} of {item.attempt_limit}")
    console.print(f"created {format_time(item.created_at, tz)}   "
                  f"updated {format_time(item.updated_at, tz)}   "
                  f"priority {Priority.NAME_OF.get(item.priority, item.priority)}"
                  + (f"   deadline {format_time(item.deadline, tz)}" if item.deadline else ""))
    if item.lease_owner:
        console.print(f"held by {item.lease_owner} until {format_time(item.lease_expires_at, tz)}")
    if "payload" in item.purged:
        console.print("[bold]payload[/] [dim](purged)[/]")
    else:
        console.print("[bold]payload[/]", escape(json.dumps(item.payload, ensure_ascii=False)))
    if item.output is not None:
        console.print("[bold]output[/] ", escape(json.dumps(item.output, ensure_ascii=False)))
    if item.error_message:
        console.print(f"[bold]error[/]   [red]{escape(item.error_type or '')} "
                      f"{escape(item.error_code or '')}[/] {escape(item.error_message)}")
    for tomb in tombstones:
        console.print(f"[yellow]purged[/] {', '.join(tomb.fields)} on "
                      f"{format_time(tomb.purged_at, tz)} under {escape(tomb.rule)}")
    if not item.history:
        return
    _print_attempts(item.history, tz)


def _print_attempts(history: Sequence[Attempt], tz: str) -> None:
    """A short row per attempt, then each attempt's error and evidence in full.

    Why not all in the table: at 80 columns an error message and a file path
    folded into narrow cells, breaking the paths an operator copies to open.
    """
    table = make_table("Attempts")
    table.add_column("#", justify="right")
    for col in ("started", "took", "outcome", "error"):
        table.add_column(col, no_wrap=True)
    for a in history:
        table.add_row(str(a.number), format_time(a.started_at, tz),
                      f"{a.ended_at - a.started_at:.2f}s", a.outcome,
                      escape(a.error_code or a.error_type or ""))
    console.print(table)
    for a in history:
        error = " ".join(x for x in (a.error_type, a.error_code) if x)
        console.print(f"[bold]attempt {a.number}[/] by {escape(a.worker_id)}"
                      + (f": [red]{escape(error)}[/]" if error else "")
                      + (f" {escape(a.error_message)}" if a.error_message else ""),
                      highlight=False)
        for kind, path in (a.evidence or {}).items():
            console.print(f"  {escape(kind):<10} {escape(str(path))}", soft_wrap=True,
                          highlight=False)


def _selected(ids: list[int], process: str | None, status: list[str],
              error_code: str | None) -> list[int]:
    if ids and (process or status or error_code):
        raise UsageError("give item ids, or --process/--status/--error-code, not both")
    if ids:
        return ids
    if not (process or status or error_code):
        raise UsageError("give item ids, or select with --process, --status, --error-code")
    from queues import ItemFilter

    found = STATE.store.list_items(ItemFilter(process=process, statuses=_statuses(status),
                                              error_code=error_code, limit=0))
    return [i.id for i in found]


def _confirm(verb: str, count: int, yes: bool) -> None:
    if count and not yes and not typer.confirm(f"{verb} {count} item(s)?", default=False):
        raise typer.Abort()


@items_app.command("retry")
def retry(
    ids: list[int] = typer.Argument(None, min=1, max=MAX_ID, help="item ids"),
    process: str | None = typer.Option(None, "--process", "-p"),
    status: list[str] = typer.Option([], "--status", "-s"),
    error_code: str | None = typer.Option(None, "--error-code"),
    reason: str = typer.Option("", help="why; kept in the audit log"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Put failed, dead or abandoned items back in the queue with fresh attempts."""
    chosen = _selected(ids or [], process, status, error_code)
    _confirm("Retry", len(chosen), yes or bool(ids) or json_out)
    from orchestrator.services import items

    done = items.retry(STATE.store, principal(), chosen, reason=reason) if chosen else []
    _report("retried", chosen, done, json_out)


@items_app.command("abandon")
def abandon(
    ids: list[int] = typer.Argument(None, min=1, max=MAX_ID, help="item ids"),
    reason: str = typer.Option(..., help="why; kept in the audit log"),
    process: str | None = typer.Option(None, "--process", "-p"),
    status: list[str] = typer.Option([], "--status", "-s"),
    error_code: str | None = typer.Option(None, "--error-code"),
    yes: bool = typer.Option(False, "--yes", "-y"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Give items up for good: nobody will try them again."""
    chosen = _selected(ids or [], process, status, error_code)
    _confirm("Abandon", len(chosen), yes or bool(ids) or json_out)
    from orchestrator.services import items

    done = items.abandon(STATE.store, principal(), chosen, reason=reason) if chosen else []
    _report("abandoned", chosen, done, json_out)


def _report(verb: str, chosen: list[int], done: list[int], json_out: bool) -> None:
    skipped = sorted(set(chosen) - set(done))
    if json_out:
        print_json({verb: done, "skipped": skipped})
    else:
        console.print(f"[green]✓[/] {len(done)} item(s) {verb}")
        if skipped:
            console.print(f"[yellow]{len(skipped)} skipped[/] (not in a state that allows it "
                          f"or unknown): {', '.join(map(str, skipped[:20]))}")
    if skipped and not done:
        raise typer.Exit(2)  # nothing could be done: the ids or states were wrong
