"""Fixtures for the end-to-end bot tests: a real SQLite file, real portals, the real worker.

Kept out of ``conftest.py`` (owned elsewhere); the test modules import the
fixtures by name. Everything a test builds here is what an operator builds with
the CLI: a data directory with its key file, a migrated database, processes
registered from `ProcessConfig`, a credential in the vault, items read from the
portals' own work-item CSVs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from orchestrator.credentials import CredentialVault
from orchestrator.db import open_sql_store, upgrade
from orchestrator.item_files import read_items
from orchestrator.process_config import ProcessConfig
from orchestrator.secrets import ensure_key_file
from orchestrator.settings import Settings, load_settings
from orchestrator.worker.loop import WorkerOptions, WorkerReport
from orchestrator.worker.run import run_worker
from orchestrator.worker.slot import Outcome
from queues import ClaimedItem, ItemFilter, ItemView
from queues.sql_store import SqlStore
from targets import Misbehaviour, TargetServer, start_invoice_portal, start_recruitment_portal
from targets.invoice_portal import data as invoice_data
from targets.recruitment_portal import data as applicant_data

CHROMIUM = Path("/usr/bin/chromium")
INVOICES = "invoice-approval"
APPLICANTS = "applicant-registration"
INVOICE_LOGIN = ("approver", "approver-pass")
HR_LOGIN = ("hr", "hr-pass")
FAST_RETRY = {"max_attempts": 5, "backoff": 0.2, "backoff_max": 1}
INPUT_MODELS = {
    INVOICES: "bots.builtin.invoice_approval:InvoiceInput",
    APPLICANTS: "bots.builtin.applicant_registration:ApplicantInput",
}
CREDENTIALS = {INVOICES: "invoice-portal", APPLICANTS: "recruitment-portal"}


@dataclass
class Pipeline:
    """An orchestrator installation in a temporary data directory."""

    data_dir: Path
    settings: Settings
    store: SqlStore
    servers: list[TargetServer] = field(default_factory=list)

    # -- set-up ------------------------------------------------------------------------
    def register(self, process: str, server: TargetServer, *, lease: float = 30.0,
                 retry: dict[str, float] | None = None, **bot_config: Any) -> None:
        """Register `process` (named like its bot) against `server`, with fast retries."""
        config = ProcessConfig(
            name=process, owner="Finance service", cost_centre="1200", bot=process,
            manual_minutes_per_item=6, exception_minutes_per_item=2,
            retry=retry or FAST_RETRY, lease=lease, concurrency=2,
            input_model=INPUT_MODELS[process],
            bot_config={"base_url": server.url, "credential": CREDENTIALS[process],
                        **bot_config},
        )
        self.store.upsert_process(config.to_spec(), actor="test:e2e")

    def set_credential(self, process: str, username: str, password: str) -> None:
        vault = CredentialVault(self.store, self.settings, actor="test:e2e")
        vault.set(CREDENTIALS[process], username, password)

    def enqueue_csv(self, process: str, path: Path) -> dict[str, int]:
        """Read a work-item file against the process's schema and enqueue it."""
        schema = self.store.get_process(process).spec.input_schema
        result = self.store.enqueue(process, read_items(path, schema), actor="test:e2e")
        return {**result.existing, **result.added}

    def invoices(self, server: TargetServer, count: int, *, lease: float = 30.0,
                 retry: dict[str, float] | None = None) -> dict[str, int]:
        """Register the invoice process, its credential and `count` invoice items."""
        self.register(INVOICES, server, lease=lease, retry=retry)
        self.set_credential(INVOICES, *INVOICE_LOGIN)
        csv = invoice_data.write_work_items(self.data_dir / "in" / "invoices.csv",
                                            count=count)
        return self.enqueue_csv(INVOICES, csv)

    def applicants(self, server: TargetServer, count: int, *,
                   retry: dict[str, float] | None = None) -> dict[str, int]:
        """Register the applicant process, its credential and `count` applicant items."""
        self.register(APPLICANTS, server, retry=retry)
        self.set_credential(APPLICANTS, *HR_LOGIN)
        csv = applicant_data.write_work_items(self.data_dir / "in" / "applicants.csv",
                                              count=count, cv_dir=self.data_dir / "in" / "cvs")
        return self.enqueue_csv(APPLICANTS, csv)

    # -- running -------------------------------------------------------------------------
    def options(self, **kw: Any) -> WorkerOptions:
        base: dict[str, Any] = {"slots": 2, "until_empty": True, "install_signals": False,
                                "trace": "off", "idle_wait": 0.2}
        base.update(kw)
        return WorkerOptions(**base)

    def run(self, on_outcome: Callable[[ClaimedItem, Outcome], None] | None = None,
            **options: Any) -> WorkerReport:
        """Run the real worker in this thread until the queues are empty."""
        return asyncio.run(run_worker(self.store, self.settings, self.options(**options),
                                      on_outcome))

    # -- looking ---------------------------------------------------------------------------
    def item_ids(self, process: str) -> dict[str, int]:
        """Reference -> item id for every item of a process."""
        listed = self.store.list_items(ItemFilter(process=process, limit=0))
        return {i.reference: i.id for i in listed}

    def items(self, process: str) -> dict[str, ItemView]:
        """Every item of a process by reference, with its attempt history."""
        listed = self.store.list_items(ItemFilter(process=process, limit=0))
        return {i.reference: self.store.get_item(i.id) for i in listed}


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """A migrated SQLite database, key file and store in a fresh data directory."""
    if not CHROMIUM.exists():
        pytest.fail("the e2e tests need Chromium at /usr/bin/chromium")
    data_dir = tmp_path / "rpa-data"
    monkeypatch.setenv("RPA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RPA_BROWSER_PATH", str(CHROMIUM))
    settings = load_settings(data_dir=data_dir)
    data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ensure_key_file(settings)
    store = open_sql_store(settings, writer="test-e2e")
    built = Pipeline(data_dir=data_dir, settings=settings, store=store)
    try:
        yield built
    finally:
        store.close()
        for server in built.servers:
            server.stop()


@pytest.fixture
def portals(pipeline: Pipeline) -> Callable[..., TargetServer]:
    """Start a portal (`"invoice"` or `"recruitment"`); it is stopped after the test."""
    def start(kind: str, *, count: int = invoice_data.DEFAULT_COUNT,
              misbehaviour: Misbehaviour | None = None) -> TargetServer:
        if kind == "invoice":
            server = start_invoice_portal(count=count, misbehaviour=misbehaviour)
        else:
            server = start_recruitment_portal(misbehaviour=misbehaviour)
        pipeline.servers.append(server)
        return server
    return start


# -- oracles -------------------------------------------------------------------------------
def invoice_expectations(count: int) -> dict[str, str]:
    """Invoice number (= item reference) -> "approve" or the rule code."""
    return invoice_data.expected_outcomes(count=count)


def applicant_expectations(count: int) -> dict[str, str]:
    """Reference -> "register", "already_registered" or the rule code."""
    return applicant_data.expected_outcomes(count=count)


def outcome_of(item: ItemView) -> str:
    """An item's final state in the vocabulary of the expectations."""
    if item.status == "done":
        return "done"
    if item.status == "business_failed":
        return str(item.error_code)
    return f"{item.status}: {item.error_type}: {item.error_message}"


def wanted(expected: str) -> str:
    """The final state an expectation asks for: done, or the business error's code."""
    return "done" if expected in ("approve", "register", "already_registered") else expected


def assert_expected_outcomes(items: dict[str, ItemView], expected: dict[str, str]) -> None:
    """Every item reached exactly the outcome its expectation names."""
    assert set(items) == set(expected)
    wrong = {ref: (expected[ref], outcome_of(item)) for ref, item in items.items()
             if outcome_of(item) != wanted(expected[ref])}
    assert not wrong, f"items off their expected outcome (expected, got): {wrong}"


# -- trouble -------------------------------------------------------------------------------
class SessionBursts:
    """Now and then, for `burst` seconds, logins older than `lifetime` seconds expire.

    A fixed one-second lifetime would make the tests depend on the machine's
    speed: an item that cannot finish within one login never finishes. In bursts,
    every slot's session still expires mid-work again and again, and a fresh
    login always outlives the burst that ended the previous one.
    """

    def __init__(self, server: TargetServer, *, lifetime: float = 1.0, every: float = 1.5,
                 burst: float = 0.5):
        self.server, self.lifetime, self.every, self.burst = server, lifetime, every, burst
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-bursts", daemon=True)

    def _run(self) -> None:
        # Every change reseeds the portal's error generator; a new seed each time keeps
        # injected errors from repeating the same pattern after every burst.
        seed = self.server.state()["misbehaviour"]["seed"]
        while not self._stop.wait(self.every):
            seed += 1
            self.server.misbehave(session_lifetime=self.lifetime, seed=seed)
            self.count += 1
            self._stop.wait(self.burst)
            seed += 1
            self.server.misbehave(session_lifetime=None, seed=seed)

    def __enter__(self) -> SessionBursts:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# -- processes -------------------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    """Process ids below `pid`, from /proc (children first, then theirs)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def browser_roots(pid: int) -> list[int]:
    """The Chromium main processes below `pid` (those whose parent is no Chromium)."""
    tree = descendants(pid)
    chromes = {p for p in tree if command_name(p).startswith("chrom")}
    roots = []
    for p in chromes:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) not in chromes:
            roots.append(p)
    return roots


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
