"""`rpa purge` and `rpa items erase`: personal data removed when due, or on request."""

from __future__ import annotations

import typer

from orchestrator.cli.arguments import MAX_ID
from orchestrator.cli.common import STATE, actor, console, make_table, print_json


def purge(
    process: str | None = typer.Option(None, "--process", "-p", help="only this process"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what is due; remove nothing"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Remove the payloads, outputs, error texts and evidence that retention says are due."""
    from orchestrator import retention

    store = STATE.store
    if process is not None:
        store.get_process(process)  # an unknown process is exit 2 before anything else
    if not dry_run:
        retention.require_audit_key(store)
    lines = retention.purge(store, STATE.settings, actor=actor(), process=process,
                            dry_run=dry_run)
    if json_out:
        print_json([{"process": line.rule.process, "data": line.rule.data,
                     "keep_seconds": line.rule.keep, "source": line.rule.source,
                     "due": line.due, "purged": line.purged,
                     "files_removed": line.files_removed, "dry_run": dry_run}
                    for line in lines])
        return
    title = "Due for purging (dry run: nothing removed)" if dry_run else "Purged"
    table = make_table(title)
    for col, justify in (("process", "left"), ("data", "left"), ("kept for", "right"),
                         ("rule", "left"), ("items", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for line in lines:
        count = line.due if dry_run else line.purged
        files = f" ({line.files_removed} files)" if line.files_removed else ""
        table.add_row(line.rule.process, line.rule.data, retention.format_keep(line.rule.keep),
                      line.rule.source, f"{count}{files}")
    console.print(table)
    total = sum(line.due if dry_run else line.purged for line in lines)
    console.print(f"{'would remove' if dry_run else 'removed'} data from {total} item "
                  "record(s); the audit log and the reports are unchanged")


def erase(
    ids: list[int] = typer.Argument(..., min=1, max=MAX_ID, help="item ids"),
    reason: str = typer.Option(..., "--reason", help="why (e.g. the request's case number); "
                               "kept in the audit log"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Erase items' personal data now (the right to erasure): payload, output, errors,
    evidence. Waiting items are abandoned; all ids or none."""
    from orchestrator import retention

    if not (yes or json_out) and not typer.confirm(
            f"Erase the data of {len(ids)} item(s)? This cannot be undone", default=False):
        raise typer.Abort()
    erased = retention.erase(STATE.store, STATE.settings, sorted(set(ids)), reason=reason,
                             actor=actor())
    if json_out:
        print_json({"erased": erased})
        return
    console.print(f"[green]✓[/] erased the data of {len(erased)} item(s): "
                  f"{', '.join(map(str, erased[:20]))}")
