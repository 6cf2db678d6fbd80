"""What each rule says: the alerts the orchestrator raises (the store raises `item_dead`
and `breaker_tripped` itself, in the transactions that record them).

Subjects make an alert unique per rule: the same item at risk, the same stale
node, the same overdue task is raised once across restarts and nodes. Texts
name items by id and processes by name, never a reference or a payload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from queues.alert_store import NewAlert
from queues.node_store import NodeView
from queues.review_store import ReviewTask


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def sla_alert(kind: str, fields: dict[str, Any]) -> NewAlert:
    """`sla.at_risk` / `sla.broken` of one item (`SlaWatch.check`'s events)."""
    item, process, due = fields["item_id"], fields["process"], float(fields["due_at"])
    broken = kind.endswith("broken")
    title = (f"Item {item} of {process} missed its due time" if broken
             else f"Item {item} of {process} is at risk of missing its due time")
    text = (f"Item {item} of {process} was due {_when(due)} ({fields.get('cause', 'sla')}) "
            + ("and is not done." if broken else "and is still open. "
               "Check that workers serve the process and that it is not paused."))
    return NewAlert(rule="sla_broken" if broken else "sla_at_risk", subject=f"item:{item}",
                    process=process, title=title, text=text,
                    details={"item_id": item, "due_at": due, "cause": fields.get("cause")})


def review_overdue_alert(task: ReviewTask) -> NewAlert:
    return NewAlert(
        rule="review_overdue", subject=f"review:{task.id}", process=task.process,
        title=f"Review task {task.id} of {task.process} is overdue",
        text=(f"Review task {task.id} ({task.kind.replace('_', ' ')} of item {task.item_id}) "
              f"was due {_when(task.due_at or task.opened_at)} and is not resolved. It has "
              f"been escalated to the process owner ({task.owner}): `rpa review show "
              f"{task.id}`."),
        details={"task": task.id, "item_id": task.item_id, "group": task.review_group,
                 "owner": task.owner})


def missed_alert(process: str, trigger: str, times: list[datetime]) -> NewAlert:
    first, last = times[0], times[-1]
    many = f"{len(times)} fires, {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}" \
        if len(times) > 1 else f"the fire of {first:%Y-%m-%d %H:%M}"
    return NewAlert(
        rule="schedule_missed", subject=f"fire:{process}@{first.timestamp():.0f}",
        process=process, title=f"{process} did not start on time: {len(times)} missed",
        text=(f"{process} ({trigger}) missed {many} ({first.tzname() or 'UTC'}): no "
              "scheduler was leading then, or it was too late by more than the trigger's "
              "misfire_grace. They are recorded as missed (`rpa schedule show`); start the "
              "work by hand if it is still needed."),
        details={"trigger": trigger, "missed": len(times), "first": first.isoformat(),
                 "last": last.isoformat()})


def node_stale_alert(node: NodeView, now: float) -> NewAlert:
    silent = now - node.heartbeat_at
    return NewAlert(
        rule="node_stale", subject=f"node:{node.id}", process=None,
        title=f"Worker node {node.node} has been silent for {silent / 60:.0f} min",
        text=(f"Node {node.node} ({node.role} on {node.host}, pid {node.pid}) last beat at "
              f"{_when(node.heartbeat_at)}. If it died, its items come back when their "
              "leases expire; restart it, or see `rpa workers`."),
        details={"node": node.node, "host": node.host, "pid": node.pid,
                 "heartbeat_at": node.heartbeat_at})


def database_alert(node: str, down_since: float, now: float, *, back: bool) -> NewAlert:
    seconds = max(0.0, now - down_since)
    title = (f"The database was unreachable from {node} for {seconds:.0f} s" if back
             else f"The database is unreachable from {node} (for {seconds:.0f} s)")
    text = (f"Node {node} could not reach the database from {_when(down_since)}"
            + (f" for {seconds:.0f} s; it is back, and the node reconnected by itself."
               if back else ". Workers and the scheduler retry with backoff; no item is lost "
               "(leases bring them back). Check the database server and the network."))
    return NewAlert(rule="database_unreachable",
                    subject=f"database:{node}@{down_since:.0f}" + (":back" if back else ""),
                    title=title, text=text, details={"node": node, "down_since": down_since,
                                                     "seconds": round(seconds, 1)})

