"""`rpa status`: JSON counts, the empty state, and the text table at 80 columns."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli._helpers import HEADER
from tests.e2e.conftest import APPLICANTS_YAML, Cli, Db, Shell, invoice_rows, write_csv


def status_lines(sh: Shell) -> list[str]:
    result = sh("status", env={"COLUMNS": "80"})
    assert result.code == 0, str(result)
    return result.out.splitlines()


def test_status_json_counts(ready: Cli, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(5)))
    ready.ok("items", "abandon", 1, 2, "--reason", "duplicate invoice")
    rows = {r["queue"]: r for r in ready.ok("status", "--json").json()}
    assert set(rows) == {"invoices", "applicants"}
    assert rows["invoices"]["counts"] == {"new": 3, "in_progress": 0, "done": 0,
                                         "business_failed": 0, "retry_scheduled": 0,
                                         "dead": 0, "abandoned": 2}
    assert rows["invoices"]["oldest_waiting_seconds"] is not None
    assert rows["invoices"]["paused"] is False
    assert rows["invoices"]["sla_broken"] == 0
    assert rows["applicants"]["counts"]["new"] == 0
    assert rows["applicants"]["oldest_waiting_seconds"] is None

    ready.ok("process", "pause", "invoices")
    rows = {r["queue"]: r for r in ready.ok("status", "--json").json()}
    assert rows["invoices"]["paused"] is True


def test_status_text_and_empty_status(cli: Cli, sqlite_db: Db) -> None:
    cli.ok("init")
    assert "No queues yet" in cli.ok("status").out
    assert cli.ok("status", "--json").json() == []


# -- real subprocesses -----------------------------------------------------------------------------
def test_status_fits_80_columns(sh: Shell, cli: Cli, process_dir: Path, tmp_path: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER, invoice_rows(3)))
    lines = status_lines(sh)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    header = next(line for line in lines if line.lstrip().startswith("queue"))
    assert header.split() == ["queue", "new", "run", "done", "biz", "retry", "dead", "oldest",
                              "SLA"]
    row = next(line for line in lines if line.lstrip().startswith("invoices"))
    assert row.split()[1:7] == ["3", "0", "0", "0", "0", "0"]


def test_status_keeps_every_count_whole_at_80_columns(sh: Shell, cli: Cli, sqlite_db: Db,
                                                      process_dir: Path,
                                                      tmp_path: Path) -> None:
    # a paused queue with a longer (valid) name, thousands waiting for two days
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("name: applicants", "name: applicant-registration"))
    cli.ok("init")
    cli.ok("process", "register", process_dir)
    cli.ok("process", "pause", "applicant-registration")
    cli.ok("enqueue", "invoices", "-f",
           write_csv(tmp_path / "a.csv", HEADER, invoice_rows(1_500)), "--json")
    sqlite_db.execute("UPDATE work_items SET created_at = created_at - 187300")  # 2d 04h

    lines = status_lines(sh)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text, text
    row = next(line for line in lines if line.lstrip().startswith("invoices"))
    assert "1500" in row.split(), text
    assert "2d 04h" in row, text
