"""`rpa worker`, `rpa bots list` and `rpa credentials ...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from orchestrator.cli.common import (
    STATE,
    actor,
    console,
    json_object_flag,
    make_table,
    print_json,
    read_secret,
)
from orchestrator.durations import format_time
from orchestrator.errors import UsageError
from orchestrator.worker.trace_modes import TRACE_HELP, TraceChoice

if TYPE_CHECKING:  # the vault pulls in the store and the bots: loaded on use
    from orchestrator.credentials import CredentialVault

bots_app = typer.Typer(help="Bots: the built-in ones and those installed as plugins.",
                       no_args_is_help=True)
credentials_app = typer.Typer(help="Credentials the bots log in with (encrypted at rest).",
                              no_args_is_help=True)


def worker(
    process: list[str] = typer.Option([], "--process", "-p", help="serve only these"),
    slots: int = typer.Option(2, min=1, max=64, help="items worked on at once"),
    until_empty: bool = typer.Option(False, "--until-empty",
                                     help="exit when the queues served are empty"),
    grace: float = typer.Option(30.0, min=0, max=3600,
                                help="seconds in-flight items get after SIGTERM"),
    trace: TraceChoice = typer.Option(TraceChoice.light, "--trace", help=TRACE_HELP),
    no_trace: bool = typer.Option(False, "--no-trace", help="the same as --trace off"),
) -> None:
    """Claim work items and run their bots in a shared headless Chromium."""
    import asyncio

    from orchestrator.worker.loop import WorkerOptions
    from orchestrator.worker.run import run_worker
    options = WorkerOptions(processes=process or None, slots=slots, until_empty=until_empty,
                            grace_seconds=grace, trace="off" if no_trace else trace.value)
    STATE.write_as(f"worker:{options.worker_id}")
    report = asyncio.run(run_worker(STATE.store, STATE.settings, options))
    console.print(f"worker stopped: {report.done} done, {report.business} business "
                  f"exceptions, {report.application} application errors, "
                  f"{report.released} released, {report.browser_restarts} browser restarts")


@bots_app.command("list")
def bots_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Every bot that can be named in a process file, with its input fields."""
    from bots import available, load_bot

    rows: list[dict[str, Any]] = []
    for name, where in sorted(available().items()):
        try:
            cls = load_bot(name)
            rows.append({"name": name, "source": where, "description": cls.description,
                         "input": cls.input_fields()})
        except Exception as err:  # a broken plugin must not hide the others
            rows.append({"name": name, "source": where, "description": f"(broken: {err})",
                         "input": {}})
    if json_out:
        print_json(rows)
        return
    table = make_table("Bots")
    table.add_column("bot", no_wrap=True)
    table.add_column("input fields", overflow="fold")
    table.add_column("what it does", overflow="fold")
    for r in rows:
        fields = ", ".join(f"{k}: {v}" for k, v in r["input"].items())
        table.add_row(r["name"], fields, r["description"])
    console.print(table)


def _vault() -> CredentialVault:
    from orchestrator.credentials import CredentialVault

    return CredentialVault(STATE.store, STATE.settings, actor=actor())


@credentials_app.command("set")
def credentials_set(
    name: str,
    username: str | None = typer.Option(None, "--username", "-u",
                                        help="the user name (asked for at a terminal)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from one line of stdin, "
                                             "for scripts"),
) -> None:
    """Store a credential; the secret is asked for or read from stdin, never an argument."""
    import sys

    if username is None:
        if password_stdin or not sys.stdin.isatty():
            raise UsageError("give the user name with --username")
        username = str(typer.prompt("Username"))
    if not username.strip() or "\x00" in username or len(username) > 200:
        raise UsageError("--username: give a name of 1 to 200 characters, with no NUL")
    secret = read_secret(password_stdin, "password")
    created = _vault().set(name, username, secret)
    console.print(f"[green]✓[/] credential {name} {'stored' if created else 'replaced'}")


@credentials_app.command("list")
def credentials_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Credential names and when they changed (never their values)."""
    names = _vault().names()
    if json_out:
        print_json([{"name": n, "updated_at": t} for n, t in names])
        return
    table = make_table("Credentials")
    table.add_column("name")
    table.add_column("changed")
    for n, t in names:
        table.add_row(n, format_time(t, STATE.settings.timezone))
    console.print(table if names else "No credentials stored.")


@credentials_app.command("delete")
def credentials_delete(name: str) -> None:
    """Remove a credential (audited)."""
    if not _vault().delete(name):
        console.print(f"no credential named {name}")
        raise typer.Exit(2)
    console.print(f"[green]✓[/] credential {name} deleted")


@bots_app.command("run")
def bots_run(
    target: str = typer.Argument(..., help="a registered process (its bot, bot_config and "
                                 "browser settings), or a bot's name or module path"),
    data: str | None = typer.Option(None, "--data", "-d", help="one payload as JSON"),
    file: Path | None = typer.Option(None, "--file", "-f", help="payloads from .csv, .json, "
                                     ".jsonl or .xlsx (at most 20 rows)"),
    config: str | None = typer.Option(None, "--config", help="bot_config as JSON (merged "
                                      "over the process's)"),
    headed: bool = typer.Option(False, "--headed", help="show the browser window"),
    slowmo: int = typer.Option(0, "--slowmo", min=0, max=10_000,
                               help="milliseconds between browser actions"),
    trace: TraceChoice = typer.Option(TraceChoice.light, "--trace", help=TRACE_HELP),
    pause_on_error: bool = typer.Option(False, "--pause-on-error", help="open Playwright's "
                                        "inspector on a failed item (with --headed)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Run one or a few items visibly, through the worker's own code, without a queue."""
    import asyncio

    from orchestrator.worker.one_run import RunOptions, resolve, run_items

    if (data is None) == (file is None):
        raise UsageError("give either --data '{...}' or --file FILE")
    if pause_on_error and not headed:
        raise UsageError("--pause-on-error opens a window: add --headed")
    extra = json_object_flag(config, "--config") if config is not None else None
    goal = resolve(STATE.store, target, extra)
    payloads = _payloads(data, file, goal.bot)
    folder, results = asyncio.run(run_items(
        STATE.store, STATE.settings, goal, payloads,
        RunOptions(headed=headed, slow_mo=float(slowmo), trace=trace.value,
                   pause_on_error=pause_on_error)))
    failed = [o for _, o in results if o.kind == "application"]
    if json_out:
        print_json({"target": goal.label, "bot": goal.bot.name, "evidence_dir": str(folder),
                    "items": [{"reference": r, "outcome": o.kind, "code": o.code,
                               "error_type": o.error_type, "message": o.message,
                               "output": o.output, "evidence": o.evidence,
                               "seconds": round(o.seconds, 3)} for r, o in results]})
    else:
        table = make_table(f"{goal.label}: {len(results)} item(s), bot {goal.bot.name}")
        for title in ("reference", "outcome", "detail"):
            table.add_column(title, overflow="fold")
        colour = {"done": "green", "business": "yellow", "application": "red"}
        for reference, o in results:
            detail = (json.dumps(o.output, ensure_ascii=False) if o.kind == "done"
                      else f"{o.code or o.error_type or ''}: {o.message or ''}")
            table.add_row(escape(reference), f"[{colour[o.kind]}]{o.kind}[/]",
                          escape(detail[:500]))
        console.print(table)
        for reference, o in results:
            for kind, path in sorted(o.evidence.items()):
                console.print(f"[dim]{escape(reference)} {kind}: {escape(str(path))}[/]")
        console.print(f"[dim]evidence in {escape(str(folder))}; nothing was queued[/]")
    if failed:
        raise typer.Exit(1)


def _payloads(data: str | None, file: Path | None, bot: Any) -> list[tuple[str, dict[str, Any]]]:
    """(reference, payload) pairs, each checked against the bot's input model."""
    from pydantic import ValidationError

    if data is not None:
        pairs = [("run-1", json_object_flag(data, "--data"))]
    else:
        from orchestrator.item_files import read_items

        assert file is not None
        items = read_items(file, bot.Input.model_json_schema(), STATE.settings.timezone,
                           check=True)
        if len(items) > 20:
            raise UsageError(f"{file}: {len(items)} rows; `rpa bot run` takes at most 20 "
                             "(enqueue the rest)")
        pairs = [(i.reference, i.payload) for i in items]
    for reference, payload in pairs:
        try:
            bot.Input.model_validate(payload)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise UsageError(f"{reference}: {where}: {first['msg']}") from None
    return pairs


@bots_app.command("new")
def bots_new(
    name: str = typer.Argument(..., help="the bot's name, e.g. parking-permits"),
    where: Path = typer.Option(Path(), "--dir", help="where to create its folder"),
    owner: str | None = typer.Option(None, "--owner", help="the unit that owns the process "
                                     "(one of `rpa org show`, once an organisation is "
                                     "loaded)"),
) -> None:
    """Create a bot project: the bot, a process file, items, a test against a local form."""
    from orchestrator.scaffold import create

    if not where.is_dir():
        raise UsageError(f"--dir {where}: no such folder")
    folder = create(name, where, owner)
    if owner is None:
        console.print("[yellow]note:[/] set owner: in the process file to your unit "
                      "(or pass --owner); with an organisation loaded it must be one of "
                      "`rpa org show`")
    module = name.replace("-", "_")
    console.print(f"[green]✓[/] created {escape(str(folder))}")
    console.print("Next:")
    for step in (f"cd {folder}",
                 "pytest tests                 # the bot against tests/fixture.html",
                 "export RPA_BOTS_PATH=$PWD    # where `bot: " + module + ".bot:...` is found",
                 f"rpa process register {name}.yaml",
                 f"rpa bot run {name} --data '{{\"name\": \"Kari\", \"amount\": 12}}'",
                 f"rpa enqueue {name} -f items.csv && rpa worker --process {name} "
                 "--until-empty"):
        console.print(f"  {escape(step)}", soft_wrap=True)


def _cls(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("-") if w) + "Bot"
