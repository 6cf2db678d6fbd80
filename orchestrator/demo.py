"""`rpa demo`: robots doing real work in a real browser, on a fresh machine.

Starts the bundled target apps on free loopback ports (with a little
misbehaviour: some HTTP 503s and sessions that expire, as real systems have),
initialises the database, registers the two example processes, stores their
credentials, queues the sample items and runs a worker until the queues are
empty, with a live progress display. Then it checks every item against the
outcome the sample data expects and prints what the robots did and freed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator import db
from orchestrator.credentials import CredentialVault
from orchestrator.errors import UsageError
from orchestrator.item_files import read_items
from orchestrator.organisation import load_organisation
from orchestrator.process_config import load_process
from orchestrator.reports.repository import ReportRepository
from orchestrator.scheduling.review_clock import place_new
from orchestrator.secrets import ensure_key_file
from orchestrator.settings import Settings
from orchestrator.worker.loop import WorkerOptions, WorkerReport
from orchestrator.worker.run import run_worker
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem, ItemFilter, Store
from queues.review_store import TaskFilter
from targets import Misbehaviour, TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal import data as invoice_data
from targets.recruitment_portal import data as applicant_data

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config" / "processes"
DONE_EXPECTATIONS = {"approve", "register", "already_registered"}
ACTOR = "user:demo"


@dataclass
class DemoOptions:
    invoices: int = 300
    applicants: int = 200
    slots: int = 2
    error_share: float = 0.05
    session_lifetime: float = 20.0
    seed: int = 2026


@dataclass
class ProcessSummary:
    """One row of the closing table."""

    process: str
    total: int = 0
    done: int = 0
    business: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    dead: int = 0
    other: int = 0
    freed_minutes: float = 0.0
    review_open: int = 0  # review tasks waiting for a person
    mismatches: list[str] = field(default_factory=list)


@contextlib.contextmanager
def running_targets(opt: DemoOptions) -> Iterator[tuple[TargetServer, TargetServer]]:
    trouble = Misbehaviour(error_share=opt.error_share, session_lifetime=opt.session_lifetime,
                           seed=opt.seed)
    invoices = start_invoice_portal(seed=opt.seed, count=opt.invoices, misbehaviour=trouble)
    try:
        applicants = start_recruitment_portal(misbehaviour=trouble)
        try:
            yield invoices, applicants
        finally:
            applicants.stop()
    finally:
        invoices.stop()


def _register(store: Store, name: str, base_url: str, credential: str) -> None:
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.exists():
        raise UsageError(f"the example process file {path} is missing: run the demo from a "
                         "checkout of the project")
    cfg = load_process(path)
    cfg.bot_config = {**cfg.bot_config, "base_url": base_url, "credential": credential}
    # Demo retries come back within a second, not the production ten.
    cfg.retry.backoff, cfg.retry.backoff_max = 0.5, 2.0
    store.upsert_process(cfg.to_spec(), actor=ACTOR)


def _load_organisation(store: Store) -> None:
    """The example organisation tree, so owners and review groups resolve."""
    path = CONFIG_DIR.parent / "organisation.yaml"
    if path.exists():
        tree = load_organisation(path)
        store.organisation.add(tree.to_document(), tree.digest(), store.clock(), actor=ACTOR)


def prepare(store: Store, settings: Settings, invoices: TargetServer,
            applicants: TargetServer, opt: DemoOptions) -> dict[str, int]:
    """Register, store credentials, enqueue; returns items per process."""
    _load_organisation(store)
    _register(store, "invoice-approval", invoices.url, "invoice-portal")
    _register(store, "applicant-registration", applicants.url, "recruitment-portal")
    vault = CredentialVault(store, settings, actor=ACTOR)
    vault.set("invoice-portal", "approver", "approver-pass")
    vault.set("recruitment-portal", "hr", "hr-pass")
    files = settings.data_dir / "demo"
    files.mkdir(parents=True, exist_ok=True)
    inv_csv = invoice_data.write_work_items(files / "invoices.csv", opt.seed, opt.invoices)
    app_csv = applicant_data.write_work_items(files / "applicants.csv", opt.seed,
                                              opt.applicants, files / "cvs")
    counts = {}
    for process, csv_path in (("invoice-approval", inv_csv),
                              ("applicant-registration", app_csv)):
        info = store.get_process(process)
        batch = read_items(Path(csv_path), info.spec.input_schema, settings.timezone,
                           check=True)
        store.enqueue(process, batch, actor=ACTOR)
        counts[process] = len(batch)
    return counts


def run_with_progress(store: Store, settings: Settings, counts: dict[str, int],
                      opt: DemoOptions, console: Any) -> WorkerReport:
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[green]{task.fields[done]} done[/] [yellow]{task.fields[biz]} "
                          "biz[/] [magenta]{task.fields[retry]} retry[/]"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {p: progress.add_task(p, total=n, done=0, biz=0, retry=0)
                 for p, n in counts.items()}
        tally: dict[str, Counter[str]] = {p: Counter() for p in counts}

        def on_outcome(item: ClaimedItem, outcome: Outcome) -> None:
            seen = tally[item.process]
            if outcome.kind == "application":
                seen["retry"] += 1
            else:
                seen["done" if outcome.kind == "done" else "biz"] += 1
                progress.advance(tasks[item.process])
            progress.update(tasks[item.process], done=seen["done"], biz=seen["biz"],
                            retry=seen["retry"])

        options = WorkerOptions(processes=list(counts), slots=opt.slots, until_empty=True,
                                idle_wait=0.5)
        return asyncio.run(run_worker(store, settings, options, on_outcome))


def summarise(store: Store) -> list[ProcessSummary]:
    """Per process: outcomes, codes, retries, freed minutes, and mismatches with the data."""
    place_new(store)
    open_tasks = Counter(t.process for t in store.review.find(TaskFilter(limit=10_000)))
    rows = []
    for info in store.list_processes():
        s = ProcessSummary(info.spec.name)
        for item in store.list_items(ItemFilter(process=s.process, limit=0)):
            s.total += 1
            expected = str(item.payload.get("expected", ""))
            if item.attempts > 1:
                s.retried += 1
            if item.status == "done":
                s.done += 1
                ok = expected in DONE_EXPECTATIONS
            elif item.status == "business_failed":
                s.business[item.error_code or "?"] += 1
                ok = item.error_code == expected
            else:
                s.dead += item.status == "dead"
                s.other += item.status != "dead"
                ok = False
            if not ok:
                s.mismatches.append(f"{item.reference}: expected {expected}, got "
                                    f"{item.status} {item.error_code or ''}".strip())
        s.freed_minutes = ReportRepository.of(store).freed_minutes(s.process)
        s.review_open = open_tasks[s.process]
        rows.append(s)
    return rows


def reset_sqlite(settings: Settings) -> None:
    """Remove a previous demo's SQLite database and evidence (never a PostgreSQL one)."""
    if not settings.is_sqlite:
        raise UsageError("--fresh only resets the SQLite database in the data directory")
    for suffix in ("", "-wal", "-shm"):
        (settings.data_dir / f"rpa.db{suffix}").unlink(missing_ok=True)


def run_demo(settings: Settings, opt: DemoOptions, console: Any
             ) -> tuple[list[ProcessSummary], WorkerReport]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.db_url)
    ensure_key_file(settings)
    store = db.open_sql_store(settings, writer="demo")
    try:
        with running_targets(opt) as (invoices, applicants):
            counts = prepare(store, settings, invoices, applicants, opt)
            report = run_with_progress(store, settings, counts, opt, console)
        return summarise(store), report
    finally:
        store.close()
