"""The CLI as a whole: the real console script and `python -m orchestrator.cli` across
commands, exit 2 for usage errors without a traceback, every text view at 80 columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli._helpers import HEADER, process_names, sample_references
from tests.e2e.conftest import (
    APPLICANTS_YAML,
    EXAMPLE_PROCESSES,
    SAMPLE_CSV,
    Cli,
    Shell,
    console_script,
    invoice_rows,
    write_csv,
)


def test_unknown_command_and_option_are_exit_2(cli: Cli) -> None:
    assert cli("frobnicate").code == 2
    assert cli("status", "--jsn").code == 2


# -- real subprocesses -----------------------------------------------------------------------------
def test_console_script_end_to_end(sh: Shell, cli: Cli) -> None:
    cli.ok("init")
    cli.ok("process", "register", EXAMPLE_PROCESSES)
    refs = sample_references()
    assert cli.ok("enqueue", "invoice-approval", "-f", SAMPLE_CSV, "--json").json()["added"] \
        == len(refs)

    rpa = [console_script()]
    again = sh.start("enqueue", "invoice-approval", "-f", SAMPLE_CSV, "--json", command=rpa)
    status = sh.start("status", "--json")  # python -m orchestrator.cli
    verify = sh.start("audit", "verify", command=rpa)

    again_result = sh.result(again)
    assert again_result.code == 0, str(again_result)
    assert again_result.json()["already_present"] == len(refs)
    assert again_result.json()["added"] == 0
    status_result = sh.result(status)
    assert status_result.code == 0, str(status_result)
    rows = {r["process"]: r for r in status_result.json()}
    assert rows["invoice-approval"]["counts"]["new"] == len(refs)
    verify_result = sh.result(verify)
    assert verify_result.code == 0, str(verify_result)
    assert "every hash and checkpoint holds" in verify_result.out
    assert cli.references("invoice-approval") == sorted(refs)


def test_subprocess_exit_2_for_bad_input(sh: Shell, cli: Cli, process_dir: Path,
                                         tmp_path: Path) -> None:
    before_init = sh.start("status", env={"RPA_DATA_DIR": str(tmp_path / "fresh")})

    cli.ok("init")
    cli.ok("process", "register", process_dir / "invoices.yaml")
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("cost_centre:", "cost_center:"))
    rows = invoice_rows(100)
    rows.insert(50, "INV-5000,INV-5000")
    bad_csv = write_csv(tmp_path / "bad.csv", HEADER, rows)

    register = sh.start("process", "register", process_dir, command=[console_script()])
    enqueue = sh.start("enqueue", "invoices", "-f", bad_csv)

    result = sh.result(before_init)
    assert result.code == 2, str(result)
    assert "run `rpa init`" in result.err
    result = sh.result(register)
    assert result.code == 2, str(result)
    assert "applicants.yaml" in result.err and "cost_center" in result.err
    result = sh.result(enqueue)
    assert result.code == 2, str(result)
    assert "bad.csv" in result.err and "row 52" in result.err

    assert process_names(cli) == ["invoices"]
    assert cli.counts("invoices")["new"] == 0


def test_subprocess_usage_errors_are_exit_2_without_a_traceback(sh: Shell) -> None:
    procs = [sh.start("status", "--jsn"), sh.start("items", "abandon", "1")]
    results = [sh.result(proc) for proc in procs]
    for result in results:
        assert "Traceback" not in result.err, str(result)
        assert result.code == 2, str(result)


@pytest.mark.parametrize("view", [
    ("status",), ("process", "list"), ("process", "show", "invoices"), ("items", "list"),
    ("items", "show", "1"), ("audit", "list"), ("audit", "verify"), ("bots", "list"),
    ("credentials", "list"), ("report", "hours"), ("report", "costs"), ("workers",),
    ("schedule", "list"), ("candidates", "list"), ("db", "current"),
])
def test_every_text_view_renders_at_80_columns(sh: Shell, cli: Cli, process_dir: Path,
                                               tmp_path: Path, view: tuple[str, ...]) -> None:
    """The text form of each listing, not only its --json (`process show` once crashed)."""
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("process", "register", EXAMPLE_PROCESSES)  # the default costs name these
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(2)))
    result = sh(*view, env={"COLUMNS": "80"})
    assert result.code == 0, str(result)
    assert result.out.strip() and "Traceback" not in result.err, str(result)
    assert all(len(line) <= 80 for line in result.out.splitlines()), result.out
