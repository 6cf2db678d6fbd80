"""`rpa review ...` and `rpa org ...`: the review inbox, and the organisation tree.

Both go through the services every other front end uses
(`orchestrator.services.review`, `orchestrator.services.organisation`), as
the OS user acting as an administrator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from orchestrator.cli.arguments import MAX_ID
from orchestrator.cli.common import (
    STATE,
    console,
    json_object_flag,
    make_table,
    principal,
    print_json,
)
from orchestrator.durations import format_time
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from queues.review_store import ReviewTask

review_app = typer.Typer(help="The review inbox: business exceptions and dead items a person "
                         "must look at.", no_args_is_help=True)
org_app = typer.Typer(help="The organisation tree: sectors, departments, units, review "
                      "groups.", no_args_is_help=True)

TASK_ID = typer.Argument(..., min=1, max=MAX_ID, metavar="TASK", help="the review task's id")


def _when(epoch: float | None) -> str:
    return format_time(epoch, STATE.settings.timezone) if epoch else "-"


def _due(task: ReviewTask, now: float, *, short: bool = False) -> str:
    """The due time (month-day hour:minute in a listing), red when it has passed."""
    if not task.is_open:
        return "-"
    text = _when(task.due_at)[5:16] if short else _when(task.due_at)[:16]
    if not task.overdue(now):
        return text
    return f"[bold red]{text} {'escalated' if task.escalated_at else 'overdue'}[/]"


@review_app.command("list")
def list_cmd(
    status: str = typer.Option("open", "--status", help="open, resolved or all"),
    group: str | None = typer.Option(None, "--group", help="only this review group"),
    process: str | None = typer.Option(None, "--process", "-p", help="only this process"),
    mine: bool = typer.Option(False, "--mine", help="only tasks I have claimed"),
    overdue: bool = typer.Option(False, "--overdue", help="only tasks past their due time"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=500),
    before: int | None = typer.Option(None, "--before", min=1, max=MAX_ID,
                                      help="tasks older than this id (the next page)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Review tasks, newest first: what a person must look at, and by when."""
    from orchestrator.services import review

    if status not in ("open", "resolved", "all"):
        raise UsageError(f"--status: {status[:40]!r} is not open, resolved or all")
    store = STATE.store
    tasks = review.list_tasks(store, principal(), status=None if status == "all" else status,
                              group=group, process=process, mine=mine, overdue=overdue,
                              limit=limit, before=before)
    now = store.clock()
    if json_out:
        print_json({"tasks": [review.as_dict(t, now) for t in tasks],
                    "next_before": tasks[-1].id if len(tasks) == limit else None})
        return
    if not tasks:
        console.print(f"No {'' if status == 'all' else status + ' '}review tasks"
                      f"{' match' if group or process or mine or overdue else ''}.")
        return
    # at 80 columns the group gives way (it is in `show` and --json); wider, it shows
    wide = console.width >= 100 and group is None
    table = make_table(f"Review tasks ({status})")
    titles = ["Id", "Process", "Item", "Why", *(["Group"] if wide else []), "Due",
              "Claimed by" if status == "open" else "Claimed / outcome"]
    for title in titles:
        table.add_column(title, justify="right" if title in ("Id", "Item") else "left",
                         no_wrap=title in ("Id", "Item", "Due"))
    for t in tasks:
        why = "dead" if t.kind == "dead" else (t.code or "business")
        cells = [str(t.id), escape(t.process), str(t.item_id), escape(why)]
        if wide:
            cells.append(escape(t.review_group or "-"))
        cells += [_due(t, now, short=True),
                  escape(t.claimed_by or "-") if t.is_open else escape(t.outcome or "")]
        table.add_row(*cells)
    console.print(table)
    if len(tasks) == limit:
        console.print(f"[dim]more: rpa review list --before {tasks[-1].id}[/]")


@review_app.command("show")
def show(task_id: int = TASK_ID, json_out: bool = typer.Option(False, "--json")) -> None:
    """One task with its item: the error, the payload, what was done."""
    from orchestrator.services import review
    from orchestrator.services.items import as_dict as item_dict

    store = STATE.store
    detail = review.get_task(store, principal(), task_id)
    now = store.clock()
    if json_out:
        print_json({**review.as_dict(detail.task, now),
                    "item": None if detail.item is None else item_dict(detail.item)})
        return
    t = detail.task
    console.print(f"[bold]Review task {t.id}[/]  {escape(t.process)}, item {t.item_id}  "
                  f"[{'green' if not t.is_open else 'yellow'}]{t.status}[/]")
    rows = [("Why", "dead item (every attempt failed)" if t.kind == "dead"
             else f"business exception {t.code or ''}".strip()),
            ("Owner", t.owner), ("Review group", t.review_group or "-"),
            ("Opened", _when(t.opened_at)), ("Due", _due(t, now) if t.is_open else "-"),
            ("Escalated", _when(t.escalated_at)), ("Claimed by", t.claimed_by or "-")]
    if not t.is_open:
        rows += [("Outcome", t.outcome or ""), ("Minutes", f"{t.minutes or 0:g}"),
                 ("Resolved", f"{_when(t.resolved_at)} by {t.resolved_by}")]
        if t.reason:
            rows.append(("Reason", t.reason))
    for label, value in rows:
        console.print(f"  [dim]{label:<13}[/] {value if label == 'Due' else escape(value)}")
    if detail.item is not None:
        item = detail.item
        console.print(f"  [dim]{'Reference':<13}[/] {escape(item.reference)}  "
                      f"({item.status}, attempts: {item.attempts})")
        if item.error_message:
            console.print(f"  [dim]{'Error':<13}[/] {escape(item.error_message)}")
        console.print(f"  [dim]{'Payload':<13}[/] "
                      f"{escape(json.dumps(item.payload, ensure_ascii=False))}")
    if t.is_open:
        console.print(f"[dim]resolve: rpa review resolve {t.id} --outcome done_by_hand "
                      "--minutes N[/]")


@review_app.command("claim")
def claim(task_id: int = TASK_ID, json_out: bool = typer.Option(False, "--json")) -> None:
    """Take a task, so that others see someone is on it."""
    from orchestrator.services import review

    task = review.claim(STATE.store, principal(), task_id)
    _done(task, f"claimed review task {task.id}", json_out)


@review_app.command("unclaim")
def unclaim(task_id: int = TASK_ID, json_out: bool = typer.Option(False, "--json")) -> None:
    """Give a claimed task back to its group."""
    from orchestrator.services import review

    task = review.unclaim(STATE.store, principal(), task_id)
    _done(task, f"review task {task.id} is unclaimed", json_out)


@review_app.command("resolve")
def resolve(
    task_id: int = TASK_ID,
    outcome: str = typer.Option(..., "--outcome", "-o",
                                help="fixed_and_retried, done_by_hand or no_action"),
    minutes: str | None = typer.Option(None, "--minutes", "-m",
                                       help="minutes you spent (done_by_hand: default the "
                                            "process's exception minutes; else 0)"),
    reason: str = typer.Option("", "--reason", help="why (required for no_action)"),
    data: str | None = typer.Option(None, "--data", "-d",
                                    help="fixed_and_retried: the corrected payload as JSON"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Close a task: fixed and queued again, done by hand, or no action."""
    from orchestrator.services import review

    payload = json_object_flag(data, "--data") if data is not None else None
    task = review.resolve(STATE.store, principal(), task_id, outcome, minutes=minutes,
                          reason=reason, payload=payload)
    extra = " (the item is queued again)" if outcome == "fixed_and_retried" else ""
    _done(task, f"review task {task.id} resolved as {task.outcome}, "
          f"{task.minutes or 0:g} minutes{extra}", json_out)


def _done(task: ReviewTask, message: str, json_out: bool) -> None:
    from orchestrator.services import review

    if json_out:
        print_json(review.as_dict(task, STATE.store.clock()))
    else:
        console.print(f"[green]✓[/] {escape(message)}")


# -- the organisation ----------------------------------------------------------------------
@org_app.command("load")
def org_load(
    file: Path = typer.Argument(Path("config/organisation.yaml"), help="the organisation file"),
    valid_from: str | None = typer.Option(None, "--from",
                                          help="the date it takes effect, YYYY-MM-DD "
                                               "(default: now; never before the one in force)"),
    check: bool = typer.Option(False, "--check", help="validate only; store nothing"),
) -> None:
    """Store the organisation tree (a new dated version when the file changed)."""
    from orchestrator.services import organisation

    when = _date(valid_from, "--from") if valid_from else None
    tree, version = organisation.load(STATE.store, principal(), file, valid_from=when,
                                      check=check)
    units = len(tree.units())
    if check:
        console.print(f"[green]✓[/] {file}: {units} units, {len(tree.review_groups)} review "
                      "groups; nothing stored (--check)")
    elif version is None:
        console.print(f"[green]✓[/] {file} is the organisation in force already; nothing "
                      "changed")
    else:
        console.print(f"[green]✓[/] organisation version {version.id} stored: {units} units, "
                      f"{len(tree.review_groups)} review groups, in force from "
                      f"{_when(version.valid_from)}")


def _date(text: str, flag: str) -> float:
    from zoneinfo import ZoneInfo

    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        raise UsageError(f"{flag}: {text[:40]!r} is not a date like 2027-01-01") from None
    return day.replace(tzinfo=ZoneInfo(STATE.settings.timezone)).astimezone(UTC).timestamp()


@org_app.command("show")
def org_show(
    as_of: str | None = typer.Option(None, "--as-of", help="the tree in force on this date"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The organisation tree in force (now, or on a date), with its review groups."""
    from rich.tree import Tree

    from orchestrator.services import organisation

    history = organisation.history(STATE.store)
    if not history.loaded:
        raise UsageError("no organisation is loaded: rpa org load config/organisation.yaml")
    when = _date(as_of, "--as-of") + 86399 if as_of else STATE.store.clock()
    index = history.index_at(when)
    tree = history.tree(index)
    version = history.versions[index]
    if json_out:
        print_json({"version": version.id, "valid_from": version.valid_from,
                    **tree.to_document()})
        return
    root = Tree(f"[bold]Organisation[/] (version {version.id}, from "
                f"{_when(version.valid_from)[:10]})")

    def grow(branch: Tree, name: str) -> None:
        node = branch.add(f"{escape(name)} [dim]{tree.level_of(name)}[/]")
        for child in sorted(tree.children(name)):
            grow(node, child)
    for top in sorted(u for u in tree.units() if tree.parents[u] is None):
        grow(root, top)
    console.print(root)
    groups = make_table("Review groups")
    groups.add_column("Group")
    groups.add_column("Unit")
    groups.add_column("Members")
    for name, g in sorted(tree.review_groups.items()):
        groups.add_row(escape(name), escape(g.unit or "-"), escape(", ".join(g.members) or "-"))
    console.print(groups)
