"""`rpa process register/show/list`: settings carried over, and every broken process file
refused whole, named by file and line.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli._helpers import process_names
from tests.e2e.conftest import APPLICANTS_YAML, INVOICES_YAML, Cli, Db


def test_registered_process_carries_its_settings(lite: Cli) -> None:
    shown = lite.ok("process", "show", "invoices", "--json").json()
    assert shown["owner"] == "Finance"
    assert shown["cost_centre"] == "1200"
    assert shown["max_attempts"] == 3
    assert shown["backoff_seconds"] == 10.0
    assert shown["lease_seconds"] == 120.0
    assert shown["sla_minutes"] == 2880.0
    assert shown["priority"] == "normal"
    assert shown["input_schema"]["required"] == ["invoice_number", "amount"]
    assert lite("process", "show", "nope", "--json").code == 2


def test_register_check_changes_nothing(cli: Cli, sqlite_db: Db, process_dir: Path) -> None:
    cli.ok("init")
    result = cli.ok("process", "register", "--check", process_dir)
    assert "is valid" in result.out
    assert process_names(cli) == []


def test_broken_process_file_registers_nothing(cli: Cli, db: Db, process_dir: Path) -> None:
    cli.ok("init")
    cli.ok("process", "register", process_dir / "applicants.yaml")
    before = cli.ok("process", "list", "--json").json()

    # one good file changed, one broken file next to it: neither may be registered
    (process_dir / "applicants.yaml").write_text(
        APPLICANTS_YAML.replace("manual_minutes_per_item: 4", "manual_minutes_per_item: 9"))
    broken = process_dir / "zz-broken.yaml"
    broken.write_text(INVOICES_YAML.replace("name: invoices", "name: broken")
                      .replace("max_attempts: 3", "max_attempts: lots"))
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "zz-broken.yaml" in result.err
    assert "retry.max_attempts" in result.err
    assert "line 8" in result.err
    assert cli.ok("process", "list", "--json").json() == before


def test_malformed_yaml_is_exit_2_naming_file_and_line(cli: Cli, sqlite_db: Db,
                                                       process_dir: Path) -> None:
    cli.ok("init")
    (process_dir / "bad.yaml").write_text("name: bad\nowner: [HR\n")
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "bad.yaml" in result.err and "YAML syntax error" in result.err
    assert "line " in result.err
    assert process_names(cli) == []


def test_two_files_with_one_process_name_are_refused(cli: Cli, sqlite_db: Db,
                                                     process_dir: Path) -> None:
    cli.ok("init")
    (process_dir / "copy.yaml").write_text(INVOICES_YAML)
    result = cli("process", "register", process_dir)
    assert result.code == 2
    assert "'invoices' is already used by" in result.err
    assert process_names(cli) == []


def test_register_a_directory_without_process_files(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    (tmp_path / "empty").mkdir()
    result = cli("process", "register", tmp_path / "empty")
    assert result.code == 2
    assert "no *.yaml process files" in result.err


def test_unloadable_input_model_is_exit_2_naming_the_file(cli: Cli, sqlite_db: Db,
                                                          process_dir: Path) -> None:
    cli.ok("init")
    path = process_dir / "modelled.yaml"
    path.write_text(APPLICANTS_YAML.replace("name: applicants", "name: modelled")
                    + "input_model: no_such_module_xyz:Applicant\n")
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "no_such_module_xyz" in result.err
    assert process_names(cli) == []
    # like every other config error, it names the file to fix
    assert "modelled.yaml" in result.err


def test_one_good_one_unknown_bot_registers_nothing(cli: Cli, db: Db,
                                                    process_dir: Path) -> None:
    cli.ok("init")
    (process_dir / "zz-bot.yaml").write_text(
        INVOICES_YAML.replace("name: invoices", "name: botless")
        .replace("bot: invoice-approval", "bot: no-such-bot"))
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "zz-bot.yaml" in result.err and "no-such-bot" in result.err
    assert "line " in result.err
    assert process_names(cli) == []


def test_nan_lease_is_exit_2_not_a_database_error(cli: Cli, sqlite_db: Db,
                                                   process_dir: Path) -> None:
    cli.ok("init")
    assert "lease: 2m" in INVOICES_YAML
    (process_dir / "zz-nan.yaml").write_text(
        INVOICES_YAML.replace("name: invoices", "name: nan-lease")
        .replace("lease: 2m", "lease: .nan"))
    result = cli("process", "register", process_dir)
    assert result.code == 2, str(result)
    assert "zz-nan.yaml" in result.err and "lease" in result.err
    assert process_names(cli) == []
