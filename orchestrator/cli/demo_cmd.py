"""`rpa demo`: the bundled targets, both example processes, a worker, a summary."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import typer

from orchestrator.cli.common import STATE, console, make_table
from orchestrator.durations import format_age


@contextlib.contextmanager
def _log_to_file(data_dir: Path) -> Iterator[Path]:
    """The worker's log lines (JSON) into DATA_DIR/logs/demo.log while the demo runs.

    Why: an event per item, ~900 for the demo, scrolled the live progress away;
    the display and the summary are what a newcomer reads, the log is for later.
    """
    from orchestrator.logs import configure
    path = data_dir / "logs" / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:  # this run's log
        configure(STATE.settings.log_format, file=out)
        try:
            yield path
        finally:
            configure(STATE.settings.log_format)


def demo(
    data_dir: Path | None = typer.Option(None, help="where the demo's data goes "
                                         "(default: RPA_DATA_DIR)"),
    fresh: bool = typer.Option(False, "--fresh", help="start from an empty SQLite database"),
    invoices: int = typer.Option(300, min=1, max=300, help="invoice items"),
    applicants: int = typer.Option(200, min=1, max=200, help="applicant items"),
    slots: int = typer.Option(2, min=1, max=16, help="browser slots"),
    error_share: float = typer.Option(0.05, min=0, max=0.9,
                                      help="share of HTTP 503s the targets inject"),
    show_log: bool = typer.Option(False, "--show-log",
                                  help="the worker's log on the terminal, not in a file"),
) -> None:
    """Run both example bots against the bundled target apps and show what they freed."""
    from orchestrator.demo import DemoOptions, reset_sqlite, run_demo
    if data_dir is not None:
        STATE.settings.data_dir = data_dir
    settings = STATE.settings
    if fresh:
        reset_sqlite(settings)
    console.print(f"[bold]rpa demo[/]: data in {settings.data_dir}, database "
                  f"{settings.safe_db_url}")
    started = time.monotonic()
    opt = DemoOptions(invoices=invoices, applicants=applicants, slots=slots,
                      error_share=error_share)
    with contextlib.ExitStack() as stack:
        if not show_log:
            log_path = stack.enter_context(_log_to_file(settings.data_dir))
            console.print(f"The worker's log: {log_path}")
        summaries, report = run_demo(settings, opt, console)
    table = make_table("What the robots did")
    table.add_column("process", no_wrap=True)
    for col in ("items", "done", "business", "retried", "dead", "freed hours"):
        table.add_column(col, justify="right")
    codes = make_table("Business exceptions: a person must look")
    codes.add_column("process", no_wrap=True)
    codes.add_column("rule broken (code)")
    codes.add_column("items", justify="right")
    for s in summaries:
        table.add_row(s.process, str(s.total), f"[green]{s.done}[/]",
                      f"[yellow]{sum(s.business.values())}[/]", str(s.retried),
                      f"[red]{s.dead}[/]" if s.dead else "0", f"{s.freed_minutes / 60:.1f}")
        for code, n in sorted(s.business.items()):
            codes.add_row(s.process, code, str(n))
    console.print(table)
    console.print(codes)
    waiting = sum(s.review_open for s in summaries)
    if waiting:
        console.print(f"{waiting} review tasks wait for a person: [bold]rpa review list[/], "
                      "or Review in the console.")
    console.print(f"{report.done + report.business} items finished in "
                  f"{format_age(time.monotonic() - started)}; {report.application} attempts "
                  f"hit a transient error and were retried; browser restarts: "
                  f"{report.browser_restarts}.")
    wrong = [m for s in summaries for m in s.mismatches]
    if wrong:
        console.print(f"[bold red]{len(wrong)} item(s) did not reach their expected "
                      "outcome:[/]")
        for line in wrong[:20]:
            console.print(f"  {line}")
        raise typer.Exit(1)
    console.print("[green]✓ every item reached its expected outcome.[/] Next: "
                  "[bold]rpa status[/], [bold]rpa review list[/], "
                  "[bold]rpa report hours --by department[/]")
    from orchestrator.cli.web_cmd import demo_login

    link = demo_login()
    console.print("\n[bold]See the robots' work in a browser[/]: start the console with "
                  "[bold].venv/bin/rpa web[/] (it serves http://127.0.0.1:8080/), then open "
                  "this one-time login for the admin account (it works once, within 24 "
                  "hours; set a password with [bold]rpa users password admin[/]):")
    print(link)
