"""`rpa serve`, `rpa scheduler`, `rpa schedule list` and `rpa workers`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from orchestrator.cli.common import STATE, console, make_table, principal, print_json
from orchestrator.durations import format_age
from orchestrator.errors import UsageError
from orchestrator.worker.trace_modes import TRACE_HELP, TraceChoice

schedule_app = typer.Typer(help="Schedules: triggers, their next and last fires, windows.",
                           no_args_is_help=True)


def serve(
    process: list[str] = typer.Option([], "--process", "-p", help="work only these"),
    slots: int = typer.Option(2, min=1, max=64, help="items worked on at once"),
    grace: float = typer.Option(30.0, min=0, max=3600,
                                help="seconds in-flight items get after SIGTERM"),
    trace: TraceChoice = typer.Option(TraceChoice.light, "--trace", help=TRACE_HELP),
    no_trace: bool = typer.Option(False, "--no-trace", help="the same as --trace off"),
    metrics_port: int | None = typer.Option(None, "--metrics-port", min=0, max=65535,
                                            help="Prometheus /metrics on PORT"),
    metrics_host: str | None = typer.Option(None, "--metrics-host", help="the address "
                                            "/metrics listens on (default RPA_METRICS_HOST, "
                                            "127.0.0.1; 0.0.0.0 in a container)"),
    node: str | None = typer.Option(None, "--node", help="this node's name in `rpa workers`"),
    web: bool = typer.Option(False, "--web", help="serve the web console and API beside"),
    web_host: str = typer.Option("127.0.0.1", "--web-host"),
    web_port: int = typer.Option(8080, "--web-port", min=1, max=65535),
) -> None:
    """Run the scheduler and a worker in one process (any number of nodes on PostgreSQL)."""
    import asyncio

    from orchestrator.node import ServiceOptions
    from orchestrator.node import serve as run_service
    from orchestrator.worker.loop import WorkerOptions
    options = WorkerOptions(processes=process or None, slots=slots, grace_seconds=grace,
                            trace="off" if no_trace else trace.value)
    STATE.write_as(f"node:{options.worker_id}")
    console_server = None
    if web:
        from orchestrator.cli.web_cmd import web_store_writer
        from orchestrator.db import open_sql_store
        from orchestrator.web.server import Background

        STATE.store  # noqa: B018 - migrations and the data directory before the web's store
        web_store = open_sql_store(STATE.settings, writer=web_store_writer(web_host, web_port))
        console_server = Background(STATE.settings, web_store, web_host, web_port)
        console_server.start()
        console.print(f"console on http://{web_host}:{web_port}/")
    try:
        report = asyncio.run(run_service(STATE.store, STATE.settings, options,
                                         ServiceOptions(metrics_port=metrics_port,
                                                        metrics_host=_host(metrics_host),
                                                        node_name=node)))
    finally:
        if console_server is not None:
            console_server.stop()
            web_store.close()
    if report is not None:
        console.print(f"serve stopped: {report.done} done, {report.business} business "
                      f"exceptions, {report.application} application errors, "
                      f"{report.released} released")


def scheduler(
    metrics_port: int | None = typer.Option(None, "--metrics-port", min=0, max=65535,
                                            help="Prometheus /metrics on PORT"),
    metrics_host: str | None = typer.Option(None, "--metrics-host", help="the address "
                                            "/metrics listens on (default RPA_METRICS_HOST, "
                                            "127.0.0.1; 0.0.0.0 in a container)"),
    node: str | None = typer.Option(None, "--node", help="this node's name in `rpa workers`"),
) -> None:
    """Run only the scheduler (workers run apart, with `rpa worker`)."""
    import asyncio

    from orchestrator.node import ServiceOptions
    from orchestrator.node import serve as run_service
    from orchestrator.worker.loop import WorkerOptions
    options = WorkerOptions()
    STATE.write_as(f"scheduler:{options.worker_id}")
    asyncio.run(run_service(STATE.store, STATE.settings, options,
                            ServiceOptions(metrics_port=metrics_port,
                                           metrics_host=_host(metrics_host), node_name=node),
                            with_worker=False))
    console.print("scheduler stopped")


def _host(text: str | None) -> str | None:
    """--metrics-host checked before anything starts: exit 2 for a bad one."""
    if text is None:
        return None
    from orchestrator.settings import listen_address
    try:
        return listen_address(text)
    except ValueError as err:
        raise UsageError(f"--metrics-host: {err}") from None


def short_time(epoch: float | None, tz: str, now: float) -> str:
    """`14:05:10` today, `03-29 02:30` another day: narrow enough for a table."""
    if epoch is None:
        return "-"
    local = datetime.fromtimestamp(epoch, ZoneInfo(tz))
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%m-%d %H:%M")


def weekday_time(epoch: float, tz: str, now: float) -> str:
    """`Tue 07:00` within a week, else `12-28 07:00`."""
    local = datetime.fromtimestamp(epoch, ZoneInfo(tz))
    return local.strftime("%a %H:%M" if epoch - now < 6 * 86400 else "%m-%d %H:%M")


def schedule_rows(now: float, *, led: bool) -> list[dict[str, Any]]:
    """The schedule as the service layer gives it, for the OS user at the terminal."""
    from orchestrator.services.processes import schedule_rows as rows

    return rows(STATE.store, principal(), STATE.settings.timezone, now, led=led)


@schedule_app.command("list")
def schedule_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Each process's triggers: next fire, last fire, and its working-hours window."""
    now = time.time()
    leaders = [n for n in STATE.store.nodes.nodes() if n.leader]
    rows = schedule_rows(now, led=bool(leaders))
    if json_out:
        print_json({"leader": leaders[0].node if leaders else None, "triggers": rows})
        return
    if not rows:
        console.print("No process has triggers or working hours: add `triggers:` or "
                      "`working_hours:` to a process file and register it again.")
        return
    table = make_table("Schedules")
    table.add_column("process", overflow="fold")
    table.add_column("trigger", overflow="fold")
    for column in ("next fire", "last fire", "window"):
        table.add_column(column, no_wrap=True)
    for r in rows:
        last = r["last_fire"]
        last_text = "-" if last is None else (
            short_time(last["scheduled_at"], r["timezone"], now)
            + ("" if last["status"] == "fired" else f" [red]{last['status']}[/]")
            + (f" [dim]+{last['added']}[/]" if last["added"] else ""))
        window = r["window"]
        win = "[dim]always[/]" if window is None else "[green]open[/]" if window["open"] else (
            f"[yellow]opens {weekday_time(window['next_open'], r['timezone'], now)}[/]"
            if window["next_open"] else "[red]never opens[/]")
        name = r["process"] + (" [yellow](paused)[/]" if r["paused"] else "")
        table.add_row(name, r["trigger"], short_time(r["next_fire"], r["timezone"], now),
                      last_text, win)
    console.print(table)
    if leaders:
        console.print(f"[dim]scheduler leader: {leaders[0].node} (pid {leaders[0].pid})[/]")
    elif any(r["key"] for r in rows):
        console.print("[yellow]no scheduler is running: start `rpa serve` or `rpa scheduler`[/]")


def workers(
    all_: bool = typer.Option(False, "--all", help="also stopped and stale nodes"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Nodes running `rpa serve` / `rpa worker` / `rpa scheduler`, and what each slot does."""
    from dataclasses import asdict

    now = time.time()
    nodes = STATE.store.nodes.nodes(include_gone=all_)
    if json_out:
        print_json([asdict(n) | {"state": n.state(now)} for n in nodes])
        return
    if not nodes:
        console.print("No worker is running: start `rpa serve` or `rpa worker`.")
        return
    table = make_table("Workers")
    for column in ("node", "role", "pid", "up", "beat", "slots"):
        table.add_column(column, no_wrap=column == "node",
                         justify="left" if column in ("node", "role") else "right")
    busy_slots = make_table("Slots")
    for column in ("node", "slot", "working on", "for"):
        busy_slots.add_column(column, overflow="fold",
                              justify="right" if column in ("slot", "for") else "left")
    for n in nodes:
        state = n.state(now)
        style = {"running": "", "stale": "red", "stopped": "dim"}[state]
        label = f"[{style}]{n.node}[/]" if style else n.node
        slots = (f"{n.busy}/{len(n.slots)} busy" if n.slots else
                 "scheduler" if n.role == "scheduler" else "-")
        if state != "running":
            slots = f"[{style}]{state}[/]"
        table.add_row(label + (" [bold yellow]★ leader[/]" if n.leader else ""), n.role,
                      str(n.pid), format_age((n.stopped_at or now) - n.started_at),
                      format_age(now - n.heartbeat_at), slots)
        for slot in n.slots if state == "running" else []:
            if slot.get("item_id") is None:
                busy_slots.add_row(n.node, str(slot["slot"]), "[dim]idle[/]", "")
            else:
                since = slot.get("since")
                busy_slots.add_row(n.node, str(slot["slot"]),
                                   escape(f"{slot['process']} #{slot['item_id']} "
                                          f"{slot['reference']}"),
                                   format_age(now - since) if since else "")
    console.print(table)
    if busy_slots.row_count:
        console.print(busy_slots)
