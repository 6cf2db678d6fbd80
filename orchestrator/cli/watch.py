"""`rpa status --watch`: a live view of the queues, redrawn every second or two.

Each refresh is two indexed statements for the queues (see
`Store.monitor`) and one small read of the node registry,
so it costs the same on a database with millions of finished items as on an
empty one. Finished items are not counted at all; throughput (`/min`) comes from the
attempt-ending audit events of the last five minutes, and `ETA` (when the
queue is empty) is the open items divided by that pace.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.cli.common import make_table
from orchestrator.durations import format_age, format_time
from orchestrator.scheduling.calendar import ProcessCalendar
from queues import Store
from queues.monitor import QueueOverview
from queues.node_store import NodeView


def _age(seconds: float) -> str:
    """`1h57m`, `29d15h`: format_age without its space, so that two ages side by side
    cannot be misread and the table fits 80 columns."""
    return format_age(seconds).replace(" ", "")


def _cell(count: int, style: str) -> str:
    return f"[{style}]{count}[/]" if count else "[dim]0[/]"


def _eta(q: QueueOverview) -> str:
    seconds = q.seconds_to_empty
    if seconds is None:
        return "[red]stalled[/]" if q.open else "-"
    return "-" if seconds == 0 else _age(seconds)


def _sla(q: QueueOverview) -> str:
    if q.breached:
        return f"[bold red]{q.breached} late[/]"
    if q.at_risk:
        return f"[yellow]{q.at_risk} risk[/]"
    return "[dim]-[/]"


def queue_table(queues: list[QueueOverview], nodes: list[NodeView], now: float,
                timezone: str) -> Table:
    """The per-queue table of the live view (80 columns wide)."""
    busy = Counter(s.get("process") for n in nodes for s in n.slots if s.get("item_id"))
    table = make_table(None, padding=(0, 1, 0, 0), show_edge=False)
    # Only the name gives way at 80 columns (Rich collapses wrappable columns first):
    # a long name is cut with an ellipsis, a paused/closed mark moves below it. Numbers
    # and their headers are never wrapped or cut.
    table.add_column("queue", overflow="ellipsis", max_width=22)
    for label in ("new", "run", "retry", "dead", "/min", "ETA", "oldest", "SLA", "bots"):
        table.add_column(label, justify="right", no_wrap=True, min_width=len(label))
    at = datetime.fromtimestamp(now, UTC)
    for q in queues:
        name = q.queue
        cal = ProcessCalendar.from_definition(q.definition, timezone)
        if q.paused:
            name += " [yellow]paused[/]"
        elif cal is not None and not cal.is_open(at):
            name += " [dim]closed[/]"
        c = q.counts
        rate = q.per_minute
        age = _age(now - q.oldest_waiting_at) if q.oldest_waiting_at else "-"
        table.add_row(
            name, _cell(c["new"], "cyan"), _cell(c["in_progress"], "blue"),
            _cell(c["retry_scheduled"], "magenta"), _cell(c["dead"], "bold red"),
            f"{rate:.1f}" if rate else "[dim]0[/]", _eta(q), age, _sla(q),
            str(busy.get(q.process, 0)) if busy.get(q.process) else "[dim]0[/]")
    return table


def render(store: Store, *, timezone: str, risk_window: float, interval: float) -> Group:
    """One frame: the table and a footer with the nodes and the cost of the refresh."""
    started = time.perf_counter()
    now = time.time()
    queues = store.monitor.overview(now=now, risk_window=risk_window)
    nodes = store.nodes.nodes()
    took = (time.perf_counter() - started) * 1000
    slots = sum(len(n.slots) for n in nodes)
    busy = sum(n.busy for n in nodes)
    leader = next((n.node for n in nodes if n.leader), None)
    worker_nodes = sum(1 for n in nodes if n.role != "scheduler")
    footer = Text.from_markup(
        f"[bold]{worker_nodes}[/] worker node{'s' if worker_nodes != 1 else ''}, "
        f"[bold]{busy}/{slots}[/] slots busy, "
        + (f"scheduler on [bold]{leader}[/]" if leader else "[yellow]no scheduler[/]")
        + f"\n[dim]{format_time(now, timezone)} · every {interval:g}s · {took:.0f} ms · "
          "/min over 5 min · Ctrl-C quits[/]")
    if not queues:
        return Group(Text("No queues yet: register a process with `rpa process register`."),
                     footer)
    return Group(queue_table(queues, nodes, now, timezone), footer)


def watch_status(store: Store, *, timezone: str, interval: float = 2.0,
                 risk_window: float = 3600.0, frames: int | None = None,
                 console: Console | None = None) -> None:
    """Redraw until Ctrl-C (or `frames` frames, for tests)."""
    def frame() -> Group:
        return render(store, timezone=timezone, risk_window=risk_window, interval=interval)

    shown = 1
    try:
        with Live(frame(), console=console, auto_refresh=False,
                  redirect_stdout=False, redirect_stderr=False) as live:
            while frames is None or shown < frames:
                time.sleep(interval)
                live.update(frame(), refresh=True)
                shown += 1
    except KeyboardInterrupt:
        return
