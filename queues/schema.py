"""The tables, as SQLModel classes over one metadata.

Times are UTC epoch seconds in double-precision columns: they compare, index
and round-trip identically on SQLite and PostgreSQL, with no dialect-specific
date handling on the hot path. Listings turn them into datetimes for people.

Statements on the hot path (claim, complete, fail) use these tables'
`__table__` through SQLAlchemy Core; the SQLModel classes serve configuration,
listings and reports.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# JSON that is jsonb on PostgreSQL (indexable, compact) and text on SQLite.
JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# 64-bit ids on PostgreSQL; SQLite needs INTEGER for its rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Sorts after every real deadline (9999-12-31), so that "earliest deadline
# first, items without one last" is a plain ascending index on both engines.
NO_DEADLINE = 253402300799.0

# Literal predicates (not bound parameters) so that PostgreSQL can match them to
# the partial indexes below even in a prepared statement's generic plan.
CLAIMABLE_SQL = sa.text("status IN ('new', 'retry_scheduled')")
IN_PROGRESS_SQL = sa.text("status = 'in_progress'")
OPEN_SQL = sa.text("status IN ('new', 'retry_scheduled', 'in_progress')")
DUE_OPEN_SQL = sa.text("due_at IS NOT NULL AND status IN ('new', 'retry_scheduled', "
                       "'in_progress')")


class ProcessRow(SQLModel, table=True):
    """A registered process: who owns it, which bot runs it, how it retries."""

    __tablename__ = "processes"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, unique=True))
    owner: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    cost_centre: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    bot: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    manual_minutes_per_item: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    exception_minutes_per_item: float = Field(
        default=0.0, sa_column=sa.Column(sa.Double, nullable=False, server_default="0")
    )
    max_attempts: int = Field(default=3)
    backoff_seconds: float = Field(default=30.0, sa_column=sa.Column(sa.Double, nullable=False))
    backoff_max_seconds: float = Field(
        default=3600.0, sa_column=sa.Column(sa.Double, nullable=False)
    )
    lease_seconds: float = Field(default=300.0, sa_column=sa.Column(sa.Double, nullable=False))
    concurrency: int = Field(default=1)
    default_priority: int = Field(default=1)
    sla_minutes: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    input_schema: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    definition: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    paused: bool = Field(default=False)
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    updated_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    # the circuit breaker (`queues.breaker`): closed, open (paused by it) or half_open
    # (one probe item out); failures counts application errors in a row since `since`
    breaker_state: str = Field(default="closed", sa_column=sa.Column(
        sa.String(10), nullable=False, server_default="closed"))
    breaker_failures: int = Field(default=0, sa_column=sa.Column(
        sa.Integer, nullable=False, server_default="0"))
    breaker_since: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    breaker_opened_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    breaker_probe_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))


class QueueRow(SQLModel, table=True):
    """A queue of work items; each process has one, named after it by default."""

    __tablename__ = "queues"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, unique=True))
    process_id: int = Field(foreign_key="processes.id", index=True)


class WorkItemRow(SQLModel, table=True):
    """One unit of work: a payload, its state, its lease and its last error."""

    __tablename__ = "work_items"
    __table_args__ = (
        sa.UniqueConstraint("queue_id", "reference", name="uq_work_items_queue_reference"),
        # The claim: highest priority, earliest deadline, oldest; only claimable rows.
        sa.Index(
            "ix_work_items_claim", "queue_id", sa.text("priority DESC"), "deadline_order", "id",
            sqlite_where=CLAIMABLE_SQL, postgresql_where=CLAIMABLE_SQL,
        ),
        # Status counts and oldest-waiting per queue, answered from the index alone.
        sa.Index("ix_work_items_queue_status_created", "queue_id", "status", "created_at"),
        # Expired leases are found without scanning finished work.
        sa.Index(
            "ix_work_items_lease", "lease_expires_at",
            sqlite_where=IN_PROGRESS_SQL, postgresql_where=IN_PROGRESS_SQL,
        ),
        # SLA at risk / broken among open items, without touching finished work.
        # (only items that have a due time: the rest would be entries nobody reads)
        sa.Index("ix_work_items_due", "queue_id", "due_at",
                 sqlite_where=DUE_OPEN_SQL, postgresql_where=DUE_OPEN_SQL),
        sa.Index("ix_work_items_updated", "updated_at"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    queue_id: int = Field(foreign_key="queues.id")
    reference: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    payload: dict[str, Any] = Field(sa_column=sa.Column(JSONType, nullable=False))
    priority: int = Field(default=1)
    deadline: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    deadline_order: float = Field(
        default=NO_DEADLINE, sa_column=sa.Column(sa.Double, nullable=False)
    )
    due_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    available_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    attempts: int = Field(default=0)
    attempt_limit: int = Field(default=3)
    lease_owner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    lease_expires_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    attempt_started_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    output: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    error_type: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    error_code: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    error_message: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    updated_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    finished_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    # what retention or an erasure removed ("errors,evidence,output,payload"); see item_purges
    purged: str | None = Field(default=None, sa_column=sa.Column(sa.String(40)))


class AttemptRow(SQLModel, table=True):
    """One try at one item: who, when, how it ended, and the evidence."""

    __tablename__ = "attempts"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    item_id: int = Field(sa_column=sa.Column(BigId, nullable=False, index=True))
    number: int
    worker_id: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    started_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    ended_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    outcome: str = Field(sa_column=sa.Column(sa.String(30), nullable=False))
    error_type: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    error_code: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    error_message: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    evidence: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))


class AuditChainRow(SQLModel, table=True):
    """The head of one hash chain of audit events.

    Each writer (a worker process, an operator's CLI) appends to its own chain,
    so concurrent workers never queue behind a single global chain head; the
    head and length stored here make a removed *last* row detectable too.
    """

    __tablename__ = "audit_chains"

    id: int | None = Field(default=None, primary_key=True)
    writer: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, unique=True))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    head_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    length: int = Field(default=0)
    # HMAC-SHA256 under the audit key from a keyed genesis; false for chains written
    # before keys (renamed "... [unkeyed]" by migration 0007) or by a keyless store
    keyed: bool = Field(default=False, sa_column=sa.Column(
        sa.Boolean, nullable=False, server_default=sa.false()))


class ItemPurgeRow(SQLModel, table=True):
    """A tombstone: what retention or an erasure removed from an item, when, and why."""

    __tablename__ = "item_purges"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    item_id: int = Field(sa_column=sa.Column(BigId, nullable=False, index=True))
    purged_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    fields: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    rule: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))


class DataKeyRow(SQLModel, table=True):
    """A data key, wrapped by the master key (never stored in the clear): what it is for,
    and the id of the master key that wrapped it."""

    __tablename__ = "data_keys"

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(sa_column=sa.Column(sa.String(120), nullable=False, unique=True))
    wrapped: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    kek_id: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))


class AuditCheckpointRow(SQLModel, table=True):
    """A sealed record of every chain's writer, length and head (`queues.checkpoints`)."""

    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    created_by: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    prev_mac: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    mac: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))


class AuditEventRow(SQLModel, table=True):
    """One thing that happened, hash-chained to the previous event of its chain."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.UniqueConstraint("chain_id", "seq", name="uq_audit_events_chain_seq"),
        sa.Index("ix_audit_events_ts", "ts"),
        sa.Index("ix_audit_events_item", "item_id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    # No foreign key on PostgreSQL (migration 0005: a trigger and a row lock per
    # event); `verify` reports events of no known chain instead.
    chain_id: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    seq: int
    ts: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(50), nullable=False))
    process: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    owner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    cost_centre: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    item_id: int | None = Field(default=None, sa_column=sa.Column(BigId))
    freed_minutes: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    robot_seconds: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    # Canonical JSON text, hashed as stored: no engine may reorder or reformat it.
    details: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False))
    prev_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))


metadata = SQLModel.metadata
processes = ProcessRow.__table__  # type: ignore[attr-defined]
queues_t = QueueRow.__table__  # type: ignore[attr-defined]
work_items = WorkItemRow.__table__  # type: ignore[attr-defined]
attempts_t = AttemptRow.__table__  # type: ignore[attr-defined]
audit_chains = AuditChainRow.__table__  # type: ignore[attr-defined]
audit_events = AuditEventRow.__table__  # type: ignore[attr-defined]
audit_checkpoints = AuditCheckpointRow.__table__  # type: ignore[attr-defined]
item_purges = ItemPurgeRow.__table__  # type: ignore[attr-defined]
data_keys = DataKeyRow.__table__  # type: ignore[attr-defined]


class CredentialRow(SQLModel, table=True):
    """A named secret, Fernet-encrypted; the orchestrator holds the key, never the table."""

    __tablename__ = "credentials"

    name: str = Field(sa_column=sa.Column(sa.String(100), primary_key=True))
    ciphertext: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    updated_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))


credentials_t = CredentialRow.__table__  # type: ignore[attr-defined]


# -- reports (issue 5) --------------------------------------------------------------
# The attempt-ending actions: the only events the freed-hours and cost reports read.
# Kept as one literal predicate (not bound parameters) so that SQLite and PostgreSQL
# both match the report queries to the partial index below, prepared or not.
ATTEMPT_END_ACTIONS = ("item.completed", "item.business_failed", "item.retry_scheduled",
                       "item.dead", "item.lease_expired", "item.released")
ATTEMPT_END_SQL = sa.text(
    "action IN ('item.completed', 'item.business_failed', 'item.retry_scheduled', "
    "'item.dead', 'item.lease_expired', 'item.released')"
)

# A covering, partial index for the report ledger: a period's attempt-ending events
# are one range of it, and every column the aggregation reads is in the index, so the
# reports never touch the wide audit rows (hashes, details). Created by migration 0003.
sa.Index(
    "ix_audit_events_report",
    audit_events.c.ts, audit_events.c.process, audit_events.c.owner,
    audit_events.c.cost_centre, audit_events.c.action, audit_events.c.freed_minutes,
    audit_events.c.robot_seconds,
    sqlite_where=ATTEMPT_END_SQL, postgresql_where=ATTEMPT_END_SQL,
)


class CandidateRow(SQLModel, table=True):
    """A process someone proposes to automate, with the figures that score it.

    `process` names the registered process it became, once it did, so its report
    can set the estimate against the hours the audit log shows it freed.
    """

    __tablename__ = "candidates"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, unique=True))
    owner: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    volume_per_month: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    minutes_per_item: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    rule_based_share: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    target_stability: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    digital_input: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    process: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    notes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False,
                                                       server_default=""))


candidates_t = CandidateRow.__table__  # type: ignore[attr-defined]


# -- scheduling and operations (issue 4) ----------------------------------------------------
class WorkerNodeRow(SQLModel, table=True):
    """A running `rpa worker` / `rpa serve` / `rpa scheduler` process and its slots.

    Written by the node itself: registered at start, its heartbeat and what each
    slot is doing rewritten every few seconds, `stopped_at` set on a clean exit.
    A node whose heartbeat is three beats old is stale: it died without saying so.
    """

    __tablename__ = "workers"

    id: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    node: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    host: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    pid: int
    started_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    heartbeat_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    beat_seconds: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    stopped_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    leader: bool = Field(default=False)
    slots: list[dict[str, Any]] = Field(default_factory=list,
                                        sa_column=sa.Column(JSONType, nullable=False))
    processes: list[str] = Field(default_factory=list,
                                 sa_column=sa.Column(JSONType, nullable=False))


class ScheduleFireRow(SQLModel, table=True):
    """One fire of a time trigger: the row whose uniqueness makes a fire happen once.

    Inserted in the same transaction as the items its feeder produced, so a
    scheduler that dies mid-fire leaves either both or neither, and a new
    leader's attempt at the same (process, scheduled time) finds the row and
    does nothing. `status` is fired, missed (later than its grace) or failed.
    """

    __tablename__ = "schedule_fires"
    __table_args__ = (
        sa.UniqueConstraint("process", "scheduled_at", name="uq_schedule_fires_process_time"),
        sa.Index("ix_schedule_fires_trigger", "trigger_key", "scheduled_at"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    process: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    trigger_key: str = Field(sa_column=sa.Column(sa.String(191), nullable=False))
    scheduled_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    fired_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    node: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    items_added: int = Field(default=0)
    items_existing: int = Field(default=0)
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


workers_t = WorkerNodeRow.__table__  # type: ignore[attr-defined]
schedule_fires = ScheduleFireRow.__table__  # type: ignore[attr-defined]


class AccountRow(SQLModel, table=True):
    """A person who may use the console or the API (`queues.account_store`).

    A local account has an argon2 hash; a single-sign-on account has none and
    takes its role from the identity provider's groups at each login.
    """

    __tablename__ = "accounts"

    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    owner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    source: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    password_hash: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    payload_access: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    disabled: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    failed_logins: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    locked_until: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    updated_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))


class ApiTokenRow(SQLModel, table=True):
    """An API token: only its SHA-256 is kept; the token itself was shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(sa_column=sa.Column(sa.String(64), sa.ForeignKey("accounts.name"),
                                             nullable=False, index=True))
    digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    label: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    expires_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    revoked_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    last_used_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))


class WebSessionRow(SQLModel, table=True):
    """A console login: the cookie holds a random id, this table only its SHA-256."""

    __tablename__ = "web_sessions"

    digest: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    account: str = Field(sa_column=sa.Column(sa.String(64), sa.ForeignKey("accounts.name"),
                                             nullable=False, index=True))
    csrf: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    expires_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False, index=True))


accounts_t = AccountRow.__table__  # type: ignore[attr-defined]
api_tokens = ApiTokenRow.__table__  # type: ignore[attr-defined]
web_sessions = WebSessionRow.__table__  # type: ignore[attr-defined]


class ReviewTaskRow(SQLModel, table=True):
    """A person's task: look at a business exception or a dead item (`queues.review_store`).

    Opened in the transaction that records the exception, so none is ever lost.
    The owner and cost centre are those of the process when the task opened, as
    in the audit events: a report keeps counting a task where it happened.
    """

    __tablename__ = "review_tasks"
    __table_args__ = (
        sa.Index("ix_review_tasks_open", "status", "review_group", "due_at"),
        sa.Index("ix_review_tasks_opened", "opened_at"),
        sa.Index("ix_review_tasks_item", "item_id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    item_id: int = Field(sa_column=sa.Column(BigId, nullable=False))
    process: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    owner: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    cost_centre: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(24), nullable=False))
    code: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    estimate_minutes: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    opened_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    review_group: str | None = Field(default=None, sa_column=sa.Column(sa.String(63)))
    due_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    placed: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    escalated_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    claimed_by: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
    claimed_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    outcome: str | None = Field(default=None, sa_column=sa.Column(sa.String(24)))
    minutes: float | None = Field(default=None, sa_column=sa.Column(sa.Double))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    resolved_by: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    resolved_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))


class OrganisationVersionRow(SQLModel, table=True):
    """One version of the organisation tree, in force from `valid_from` until the next.

    Kept as a whole document (data, never code): a report of an earlier period
    rolls units up under the tree that was in force then.
    """

    __tablename__ = "organisation_versions"

    id: int | None = Field(default=None, primary_key=True)
    valid_from: float = Field(sa_column=sa.Column(sa.Double, nullable=False, index=True))
    digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    document: dict[str, Any] = Field(sa_column=sa.Column(JSONType, nullable=False))
    loaded_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    loaded_by: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))


review_tasks = ReviewTaskRow.__table__  # type: ignore[attr-defined]
organisation_versions = OrganisationVersionRow.__table__  # type: ignore[attr-defined]


# -- operations (issue 18) ------------------------------------------------------------
class LeaderLeaseRow(SQLModel, table=True):
    """Who leads the scheduler, for how long, and in which term (`queues.lease_leadership`).

    A lease ends on its own when its holder stops renewing it: a leader that is
    frozen or cut off loses it after `expires_at`, judged by the database's
    clock, and the next holder's term is one higher. A fire is recorded only if
    its leader's term is still the lease's and unexpired (fencing).
    """

    __tablename__ = "leader_leases"

    name: str = Field(sa_column=sa.Column(sa.String(60), primary_key=True))
    term: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    holder: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    acquired_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    expires_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))


class AlertRow(SQLModel, table=True):
    """One alert: a rule that matched a subject. Unique per (rule, subject), so an alert
    is raised once across restarts and nodes however often its condition is seen.

    Holds no personal data: titles name items by id, never by reference or payload.
    `state` is new (to be routed to channels), routed, silenced or off (rule disabled).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("rule", "subject", name="uq_alerts_rule_subject"),
        sa.Index("ix_alerts_state", "state"),
        sa.Index("ix_alerts_raised", "raised_at"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    rule: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    subject: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    process: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    raised_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    raised_by: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    title: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=sa.Column(JSONType, nullable=False))
    state: str = Field(sa_column=sa.Column(sa.String(12), nullable=False))


class AlertDeliveryRow(SQLModel, table=True):
    """One alert on one channel: sent, pending a retry (with backoff), or given up."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_deliveries_alert_channel"),
        sa.Index("ix_alert_deliveries_due", "status", "next_at"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True))
    alert_id: int = Field(sa_column=sa.Column(BigId, nullable=False))
    channel: str = Field(sa_column=sa.Column(sa.String(60), nullable=False))
    recipients: list[str] = Field(default_factory=list,
                                  sa_column=sa.Column(JSONType, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(12), nullable=False))
    attempts: int = Field(default=0)
    next_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.String(300)))
    sent_at: float | None = Field(default=None, sa_column=sa.Column(sa.Double))


class AlertSilenceRow(SQLModel, table=True):
    """`rpa alerts silence`: a rule (or every rule, `*`) for a process (or all) until then."""

    __tablename__ = "alert_silences"

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    process: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    until: float = Field(sa_column=sa.Column(sa.Double, nullable=False, index=True))
    created_by: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    created_at: float = Field(sa_column=sa.Column(sa.Double, nullable=False))
    reason: str = Field(default="", sa_column=sa.Column(sa.String(300), nullable=False))


leader_leases = LeaderLeaseRow.__table__  # type: ignore[attr-defined]
alerts_t = AlertRow.__table__  # type: ignore[attr-defined]
alert_deliveries = AlertDeliveryRow.__table__  # type: ignore[attr-defined]
alert_silences = AlertSilenceRow.__table__  # type: ignore[attr-defined]
