"""`rpa init` and the database behind every command: first run, before init, unreachable.

Part of the `rpa` command end to end (see tests/e2e/cli/__init__.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli._helpers import process_names
from tests.e2e.conftest import EXAMPLE_PROCESSES, Cli, Db


def test_init_then_register_the_example_processes(cli: Cli, db: Db, data_dir: Path) -> None:
    init = cli.ok("init", "--json").json()
    assert init["data_dir"] == str(data_dir)
    assert init["schema"]
    assert data_dir.is_dir()
    assert process_names(cli) == []

    result = cli.ok("process", "register", EXAMPLE_PROCESSES)
    assert "registered" in result.out
    expected = sorted(p.stem for p in EXAMPLE_PROCESSES.glob("*.yaml"))
    assert process_names(cli) == expected

    # registering the same files again updates, and adds nothing
    again = cli.ok("process", "register", EXAMPLE_PROCESSES)
    assert "updated" in again.out and "registered" not in again.out
    assert process_names(cli) == expected


@pytest.mark.parametrize("args", [["status"], ["process", "list"], ["items", "list"],
                                  ["audit", "verify"],
                                  ["enqueue", "invoices", "-d", "{}", "-r", "x"]])
def test_commands_before_init_say_run_rpa_init(cli: Cli, data_dir: Path,
                                               args: list[str]) -> None:
    result = cli(*args)
    assert result.code == 2, str(result)
    assert "rpa init" in result.err
    assert not (data_dir / "rpa.db").exists()  # looking did not create a database


def test_an_unreachable_database_is_exit_1(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_DATABASE_URL", "postgresql+psycopg://rpa:s3cret@127.0.0.1:1/rpa")
    for args in (["status"], ["init"]):
        result = cli(*args)
        assert result.code == 1, str(result)
        assert "cannot reach the database" in result.err
        assert "s3cret" not in result.out + result.err
