"""`rpa process ...`: register, list, show, pause and resume processes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from orchestrator.cli.common import STATE, console, make_table, principal, print_json
from orchestrator.errors import ConfigError

if TYPE_CHECKING:  # process files and the queue package load on use: `--help` starts faster
    from queues.models import ProcessInfo

process_app = typer.Typer(help="Processes: register from YAML, list, show, pause.",
                          no_args_is_help=True)


def _files(paths: list[Path]) -> list[Path]:
    from orchestrator.process_config import process_files

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = process_files(path)
            if not found:
                raise ConfigError(f"{path}: no *.yaml process files in this directory")
            out.extend(found)
        else:
            out.append(path)
    return out


@process_app.command("register")
def register(
    paths: list[Path] = typer.Argument(..., help="process YAML files or directories"),
    check: bool = typer.Option(False, "--check", help="validate only; change nothing"),
) -> None:
    """Validate process files and create or update them (all files or none)."""
    from orchestrator.services.processes import register as register_files

    done = register_files(STATE.store, principal(), _files(paths), check=check)
    for item in done:
        if check:
            console.print(f"[green]✓[/] {item.source}: {item.name} is valid")
        else:
            verb = "registered" if item.created else "updated"
            console.print(f"[green]✓[/] {item.name} {verb} [dim]({item.source})[/]")


def _row(info: ProcessInfo) -> dict[str, object]:
    from queues.states import Priority

    spec = info.spec
    return {
        "name": spec.name, "owner": spec.owner, "cost_centre": spec.cost_centre,
        "bot": spec.bot, "queue": spec.queue_name, "paused": info.paused,
        "breaker": info.breaker,
        "manual_minutes_per_item": spec.manual_minutes_per_item,
        "exception_minutes_per_item": spec.exception_minutes_per_item,
        "max_attempts": spec.retry.max_attempts, "backoff_seconds": spec.retry.backoff_seconds,
        "concurrency": spec.concurrency, "lease_seconds": spec.lease_seconds,
        "priority": Priority.NAME_OF.get(spec.default_priority, spec.default_priority),
        "sla_minutes": spec.sla_minutes, "description": spec.description,
        "input_schema": spec.input_schema,
    }


@process_app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """All registered processes."""
    infos = STATE.store.list_processes()
    if json_out:
        print_json([_row(i) for i in infos])
        return
    table = make_table("Processes")
    table.add_column("process", no_wrap=True)
    table.add_column("owner", overflow="fold")
    table.add_column("min/item", justify="right")
    table.add_column("tries", justify="right")
    table.add_column("state")
    for info in infos:
        spec = info.spec
        table.add_row(spec.name, escape(spec.owner), f"{spec.manual_minutes_per_item:g}",
                      str(spec.retry.max_attempts),
                      _state(info.paused, info.breaker))
    console.print(table if infos else "No processes yet: rpa process register FILE.yaml")


def _state(paused: bool, breaker: str) -> str:
    if not paused:
        return "[green]active[/]"
    if breaker == "half_open":
        return "[yellow]paused: probing[/]"
    return "[red]paused by its breaker[/]" if breaker == "open" else "[yellow]paused[/]"


@process_app.command("show")
def show(name: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One process in full."""
    row = _row(STATE.store.get_process(name))
    if json_out:
        print_json(row)
        return
    table = make_table(name, show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in row.items():
        if key != "input_schema":
            table.add_row(key, "-" if value is None or value == "" else escape(str(value)))
    fields = (row["input_schema"] or {}).get("properties", {})  # type: ignore[attr-defined]
    table.add_row("input fields", ", ".join(fields) or "(any payload)")
    console.print(table)


def _pause(name: str, paused: bool) -> None:
    from orchestrator.services.processes import set_paused

    set_paused(STATE.store, principal(), name, paused)
    console.print(f"[green]✓[/] {name} {'paused: it claims nothing' if paused else 'resumed'}")


@process_app.command("pause")
def pause(name: str) -> None:
    """Stop a process from claiming work (items stay queued; audited)."""
    _pause(name, True)


@process_app.command("resume")
def resume(name: str) -> None:
    """Let a paused process claim work again (audited)."""
    _pause(name, False)
