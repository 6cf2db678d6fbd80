"""`rpa status`: one row per queue, answered by SQL aggregation over indexes."""

from __future__ import annotations

import time

import typer

from orchestrator.cli.common import STATE, console, make_table, print_json
from orchestrator.durations import format_age
from orchestrator.errors import UsageError

COLUMNS = (("new", "new", "cyan"), ("in_progress", "run", "blue"),
           ("done", "done", "green"), ("business_failed", "biz", "yellow"),
           ("retry_scheduled", "retry", "magenta"), ("dead", "dead", "red"))


def status(
    json_out: bool = typer.Option(False, "--json"),
    risk_window: str = typer.Option("1h", help="flag items due within this time"),
    watch: bool = typer.Option(False, "--watch", "-w", help="a live view, redrawn until Ctrl-C"),
    interval: float = typer.Option(2.0, "--interval", min=0.5, max=3600,
                                   help="seconds between redraws"),
) -> None:
    """Per queue: counts by state, oldest waiting item, SLA at risk and broken."""
    from orchestrator.durations import bounded_duration
    try:
        window = bounded_duration(risk_window, 0, 365 * 86400)
    except ValueError as err:
        raise UsageError(f"--risk-window: {err}") from None
    if watch:
        from orchestrator.cli.watch import watch_status
        watch_status(STATE.store, timezone=STATE.settings.timezone, interval=interval,
                     risk_window=window, console=console)
        return
    now = time.time()
    rows = STATE.store.queue_status(now=now, risk_window_seconds=window)
    if json_out:
        print_json([{"queue": r.queue, "process": r.process, "paused": r.paused,
                     "counts": {k: r.count(k) for k, _, _ in COLUMNS}
                     | {"abandoned": r.count("abandoned")},
                     "oldest_waiting_seconds": None if r.oldest_waiting_at is None
                     else round(now - r.oldest_waiting_at, 1),
                     "sla_at_risk": r.at_risk, "sla_broken": r.breached} for r in rows])
        return
    if not rows:
        console.print("No queues yet: register a process with `rpa process register FILE`.")
        return
    table = make_table("Queues")
    # Only the name may shrink (with an ellipsis): counts and ages are never cut.
    table.add_column("queue", no_wrap=True, overflow="ellipsis", max_width=24)
    for _, label, _ in COLUMNS:
        table.add_column(label, justify="right", no_wrap=True, min_width=len(label))
    table.add_column("oldest", justify="right", no_wrap=True, min_width=6)
    table.add_column("SLA", justify="right", no_wrap=True, min_width=3)
    for r in rows:
        cells = [f"[{style}]{r.count(key)}[/]" if r.count(key) else "[dim]0[/]"
                 for key, _, style in COLUMNS]
        sla = "[dim]-[/]"
        if r.breached:
            sla = f"[bold red]{r.breached} late[/]"
        elif r.at_risk:
            sla = f"[yellow]{r.at_risk} risk[/]"
        name = f"[yellow]{r.queue}[/]" if r.paused else r.queue
        age = format_age(now - r.oldest_waiting_at) if r.oldest_waiting_at else "-"
        table.add_row(name, *cells, age, sla)
    paused = [r.queue for r in rows if r.paused]
    if paused:
        table.caption = f"[yellow]paused (claims nothing): {', '.join(paused)}[/]"
        table.caption_justify = "left"
    console.print(table)
