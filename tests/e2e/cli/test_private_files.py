"""Files we create are private to their user, and each worker process audits to its own chain.

The commands run as real subprocesses under a permissive umask (022, the usual
default), so the test sees what an operator's shell would get.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import textwrap
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from orchestrator.worker.evidence import EvidenceDir
from tests.e2e.conftest import Result, Shell

NOOP_YAML = textwrap.dedent("""\
    name: noop-work
    owner: IT
    cost_centre: "1000"
    bot: noop
    manual_minutes_per_item: 1
    """)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def shell(tmp_path: Path, open_umask: None) -> Shell:
    return Shell(tmp_path, tmp_path / "data")


def ok(result: Result) -> Result:
    assert result.code == 0, str(result)
    return result


def test_init_makes_the_data_directory_and_its_files_private(shell: Shell) -> None:
    (shell.cwd / "noop.yaml").write_text(NOOP_YAML, encoding="utf-8")
    ok(shell("init"))
    ok(shell("process", "register", "noop.yaml"))
    ok(shell("enqueue", "noop-work", "--data", '{"n": 1}', "--reference", "A"))
    data = shell.data_dir
    assert mode(data) == 0o700
    assert mode(data / "evidence") == 0o700
    for name in ("rpa.db", "secret.key"):
        assert mode(data / name) == 0o600, name
    for extra in data.glob("rpa.db-*"):  # the WAL and shared-memory files, when present
        assert mode(extra) == 0o600, extra.name


def test_an_older_install_is_repaired_by_the_next_command(shell: Shell) -> None:
    ok(shell("init"))
    data = shell.data_dir
    data.chmod(0o755)
    (data / "rpa.db").chmod(0o644)
    (data / "evidence" / "invoices" / "7").mkdir(parents=True)
    (data / "evidence" / "invoices" / "7" / "a1-page.html").write_text("x")
    (data / "evidence" / "invoices" / "7" / "a1-page.html").chmod(0o644)
    ok(shell("status"))
    assert (mode(data), mode(data / "rpa.db")) == (0o700, 0o600)
    ok(shell("db", "upgrade"))  # walks the evidence too
    assert mode(data / "evidence" / "invoices" / "7") == 0o700
    assert mode(data / "evidence" / "invoices" / "7" / "a1-page.html") == 0o600


def test_evidence_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    evidence = EvidenceDir(tmp_path / "evidence", "Invoice approval", 42, 1)
    shot = evidence.save("screenshot", b"\x89PNG", ".png")
    assert mode(shot) == 0o600
    assert mode(shot.parent) == 0o700 and mode(shot.parent.parent) == 0o700
    trace = evidence.path("trace", ".zip")
    trace.write_bytes(b"PK")  # as Playwright writes it, under the process umask
    trace.chmod(0o644)
    evidence.note("trace", trace)
    assert mode(trace) == 0o600


def test_each_worker_process_appends_to_a_chain_of_its_own(shell: Shell) -> None:
    (shell.cwd / "noop.yaml").write_text(NOOP_YAML, encoding="utf-8")
    ok(shell("init"))
    ok(shell("process", "register", "noop.yaml"))
    for ref in ("A", "B"):  # one item per worker run: each run has something to record
        ok(shell("enqueue", "noop-work", "--data", "{}", "--reference", ref))
        ok(shell("worker", "--until-empty", "--no-trace", "--slots", "1"))
    with closing(sqlite3.connect(shell.data_dir / "rpa.db")) as conn:
        writers = [w for (w,) in conn.execute("SELECT writer FROM audit_chains")]
    workers = [w for w in writers if w.startswith("worker:")]
    assert len(workers) == 2 and len(set(workers)) == 2, writers
    assert any(w.startswith("cli:os:") for w in writers)  # the operator's own commands
    ok(shell("audit", "verify"))
