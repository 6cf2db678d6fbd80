"""Fixtures for driving the `rpa` CLI: in-process (fast) and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.cli import run
from tests.conftest import truncate_all

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROCESSES = REPO / "config" / "processes"
SAMPLE_CSV = REPO / "config" / "samples" / "invoices-small.csv"

# Process files of the tests' own, so they do not move when the bundled examples change.
INVOICES_YAML = textwrap.dedent("""\
    name: invoices
    description: Approve supplier invoices
    owner: Finance
    cost_centre: "1200"
    bot: invoice-approval
    manual_minutes_per_item: 6
    retry:
      max_attempts: 3
      backoff: 10s
      backoff_max: 10m
    lease: 2m
    sla: 2d
    input_schema:
      type: object
      required: [invoice_number, amount]
      properties:
        invoice_number: {type: string, pattern: "^INV-[0-9]+$"}
        amount: {type: number, minimum: 0}
        paid: {type: boolean}
    """)
APPLICANTS_YAML = textwrap.dedent("""\
    name: applicants
    owner: HR
    cost_centre: "1400"
    bot: applicant-registration
    manual_minutes_per_item: 4
    """)


@dataclass
class Result:
    """What one CLI run gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by pytest when an assertion on a result fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Cli:
    """`orchestrator.cli.run` in this process, its output captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: object) -> Result:
        self.capsys.readouterr()
        code = run([str(a) for a in args])
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *args: object) -> Result:
        result = self(*args)
        assert result.code == 0, str(result)
        return result

    def counts(self, process: str) -> dict[str, int]:
        """The `rpa status --json` counts of one process's queue."""
        rows = {r["process"]: r for r in self.ok("status", "--json").json()}
        return dict(rows[process]["counts"])

    def references(self, process: str) -> list[str]:
        rows = self.ok("items", "list", "--json", "--process", process, "--limit", "1000000").json()
        return sorted(r["reference"] for r in rows)


@dataclass
class Db:
    """The database the CLI under test uses, for tampering behind its back."""

    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.is_sqlite:
            with closing(sqlite3.connect(sa.make_url(self.url).database or "")) as conn:
                conn.execute(sql, params)
                conn.commit()
        else:
            plain = sa.make_url(self.url).set(drivername="postgresql")
            with psycopg.connect(plain.render_as_string(hide_password=False)) as conn:
                conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def scalar(self, sql: str) -> Any:
        if self.is_sqlite:
            with closing(sqlite3.connect(sa.make_url(self.url).database or "")) as conn:
                return conn.execute(sql).fetchone()[0]
        plain = sa.make_url(self.url).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False)) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
            assert row is not None
            return row[0]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("RPA_DATA_DIR", str(path))
    return path


@pytest.fixture
def sqlite_db(data_dir: Path) -> Db:
    return Db(f"sqlite:///{data_dir / 'rpa.db'}")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Db:
    """The CLI's database: the default SQLite file in RPA_DATA_DIR, then PostgreSQL."""
    if request.param == "sqlite":
        return Db(f"sqlite:///{data_dir / 'rpa.db'}")
    url = str(request.getfixturevalue("pg_database"))
    truncate_all(url)
    monkeypatch.setenv("RPA_DATABASE_URL", url)
    return Db(url)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], data_dir: Path) -> Cli:
    return Cli(capsys)


@pytest.fixture
def process_dir(tmp_path: Path) -> Path:
    """A directory with the tests' two process files."""
    path = tmp_path / "processes"
    path.mkdir()
    (path / "invoices.yaml").write_text(INVOICES_YAML, encoding="utf-8")
    (path / "applicants.yaml").write_text(APPLICANTS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def ready(cli: Cli, db: Db, process_dir: Path) -> Cli:
    """`rpa init` and the tests' processes registered, on each database."""
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    return cli


@pytest.fixture
def lite(cli: Cli, sqlite_db: Db, process_dir: Path) -> Cli:
    """`rpa init` and the tests' processes registered, on SQLite only (for the cases whose
    logic lives above the database)."""
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    return cli


def write_csv(path: Path, header: str, rows: Sequence[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def invoice_rows(n: int, start: int = 1) -> list[str]:
    """`reference,invoice_number,amount` rows that satisfy the invoices schema."""
    return [f"INV-{i},INV-{i},{i}.50" for i in range(start, start + n)]


# -- subprocesses ---------------------------------------------------------------------------------
def console_script() -> str:
    """The installed `rpa` console script of the interpreter running the tests."""
    beside = Path(sys.executable).with_name("rpa")
    if beside.is_file():
        return str(beside)
    found = shutil.which("rpa")
    assert found, "the `rpa` console script is not installed"
    return found


def module_command() -> list[str]:
    """`python -m orchestrator.cli` when the package can be run so, else the console script."""
    if (REPO / "orchestrator" / "cli" / "__main__.py").is_file():
        return [sys.executable, "-m", "orchestrator.cli"]
    return [console_script()]


class Shell:
    """The CLI as real subprocesses in a scratch directory, with this test's environment.

    `start` returns at once, so independent commands run side by side (each one pays
    the interpreter's start-up); `result` waits for one.
    """

    def __init__(self, cwd: Path, data_dir: Path) -> None:
        self.cwd = cwd
        self.data_dir = data_dir
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: object, command: Sequence[str] | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        full_env["RPA_DATA_DIR"] = str(self.data_dir)
        full_env.update(env or {})
        proc = subprocess.Popen([*(command or module_command()), *(str(a) for a in args)],
                                cwd=self.cwd, env=full_env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started.append(proc)
        return proc

    @staticmethod
    def result(proc: subprocess.Popen[str]) -> Result:
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        return Result(proc.returncode, out, err)

    def __call__(self, *args: object, command: Sequence[str] | None = None,
                 env: dict[str, str] | None = None) -> Result:
        return self.result(self.start(*args, command=command, env=env))

    def close(self) -> None:
        """Reap what a failed test left running, and close its pipes."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture
def sh(tmp_path: Path, data_dir: Path) -> Iterator[Shell]:
    shell = Shell(tmp_path, data_dir)
    yield shell
    shell.close()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 60) -> None:
    """Wait until `rpa web` (or `rpa serve --web`) answers its health check; fail with
    its log if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
