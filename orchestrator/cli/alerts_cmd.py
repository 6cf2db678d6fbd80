"""`rpa alerts ...`: what was raised and where it went, silences, and a test send."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from orchestrator.cli.arguments import MAX_LIMIT, WHEN_HELP, parse_when
from orchestrator.cli.common import STATE, console, make_table, principal, print_json
from orchestrator.durations import format_time
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator.alerts.config import AlertsConfig

alerts_app = typer.Typer(help="Alerts: list what was raised, silence a rule, test channels.",
                         no_args_is_help=True)
STATE_STYLE = {"sent": "green", "pending": "yellow", "failed": "red", "digest": "cyan"}


def _when(epoch: float) -> str:
    return format_time(epoch, STATE.settings.timezone)


def _alerts_config() -> AlertsConfig:
    from orchestrator.node import alerts_config
    return alerts_config(STATE.settings)


@alerts_app.command("list")
def list_(
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_LIMIT),
    since: str | None = typer.Option(None, "--since", help=WHEN_HELP),
    rule: str | None = typer.Option(None, "--rule", help="only this rule"),
    process: str | None = typer.Option(None, "--process", "-p"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The newest alerts, where each went, and the silences in force."""
    from orchestrator.services.alerts import list_alerts, silences

    asker = principal()
    found = list_alerts(STATE.store, asker, limit=limit, rule=rule, process=process,
                        since=parse_when(since, STATE.settings.timezone, "--since"))
    quiet = silences(STATE.store, asker)
    if json_out:
        print_json({"alerts": [{
            "id": a.id, "rule": a.rule, "subject": a.subject, "process": a.process,
            "raised_at": a.raised_at, "title": a.title, "state": a.state,
            "details": a.details, "deliveries": [{
                "channel": d.channel, "status": d.status, "attempts": d.attempts,
                "sent_at": d.sent_at, "last_error": d.last_error} for d in a.deliveries]}
            for a in found], "silences": [{
                "id": s.id, "rule": s.rule, "process": s.process, "until": s.until,
                "by": s.created_by, "reason": s.reason} for s in quiet]})
        return
    if not found:
        console.print("No alerts raised." + ("" if since is None else " (in that window)"))
    else:
        table = make_table("Alerts, newest first")
        table.add_column("id", justify="right")
        table.add_column("raised", no_wrap=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("what", overflow="fold", ratio=1)
        table.add_column("went to", overflow="fold")
        for a in found:
            went = ", ".join(f"[{STATE_STYLE.get(d.status, 'white')}]{escape(d.channel)} "
                             f"{d.status}[/]" for d in a.deliveries) or f"[dim]{a.state}[/]"
            table.add_row(str(a.id), _when(a.raised_at), a.rule, escape(a.title), went)
        console.print(table)
    for s in quiet:
        console.print(f"[yellow]silenced[/] #{s.id}: {s.rule} for "
                      f"{escape(s.process or 'every process')} until {_when(s.until)} "
                      f"[dim](by {escape(s.created_by)})[/]")


@alerts_app.command("silence")
def silence(
    rule: str = typer.Argument(..., help="a rule (e.g. sla_at_risk), or * for every rule"),
    for_: str = typer.Option(..., "--for", help="how long: 30m, 2h, 1d (at most 30d)"),
    process: str | None = typer.Option(None, "--process", "-p", help="only this process"),
    reason: str = typer.Option("", "--reason", help="why, for the next person on duty"),
) -> None:
    """Stop deliveries of a rule for a while (alerts are still recorded; audited)."""
    from orchestrator.durations import parse_duration
    from orchestrator.services.alerts import silence as add_silence

    try:
        seconds = parse_duration(for_)
    except ValueError as err:
        raise UsageError(f"--for: {err}") from None
    made = add_silence(STATE.store, principal(), rule=rule, seconds=seconds, process=process,
                       reason=reason)
    console.print(f"[green]✓[/] silence #{made.id}: {made.rule} for "
                  f"{escape(made.process or 'every process')} until {_when(made.until)}; "
                  f"end it with `rpa alerts unsilence {made.id}`")


@alerts_app.command("unsilence")
def unsilence(silence_id: int = typer.Argument(..., min=1, max=2**63 - 1)) -> None:
    """End a silence now (audited)."""
    from orchestrator.services.alerts import end_silence

    end_silence(STATE.store, principal(), silence_id)
    console.print(f"[green]✓[/] silence #{silence_id} ended")


@alerts_app.command("test")
def test(
    channel: str | None = typer.Option(None, "--channel", help="email or webhook:NAME; "
                                       "default: every channel"),
    rule: str = typer.Option("item_dead", "--rule", help="the rule the sample alert shows"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Send a sample alert through the channels of the alerts file, now. Exit 1 if any
    channel failed."""
    from orchestrator.services.alerts import send_test

    results = send_test(principal(), _alerts_config(), rule=rule, channel=channel)
    if json_out:
        print_json([{"channel": r.channel, "ok": r.ok, "reason": r.reason} for r in results])
    else:
        for r in results:
            console.print(f"[green]✓[/] {escape(r.channel)}: sent" if r.ok
                          else f"[red]✗[/] {escape(r.channel)}: {escape(r.reason)}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
