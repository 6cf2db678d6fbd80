"""Secrets given to the CLI by scripts: `--password-stdin` for credentials and console
accounts, through a real pipe, and every way it can go wrong answered with exit 2, a
message, and nothing stored. The secret itself never appears in any output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cret-Æøå-with spaces"


def rpa(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env["RPA_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env, cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert rpa(data, "init").returncode == 0
    return data


def test_a_credential_is_set_by_a_script(data: Path) -> None:
    done = rpa(data, "credentials", "set", "erp", "--username", "robot", "--password-stdin",
               stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert "stored" in done.stdout
    listed = rpa(data, "credentials", "list", "--json")
    assert [c["name"] for c in __import__("json").loads(listed.stdout)] == ["erp"]
    again = rpa(data, "credentials", "set", "erp", "-u", "robot", "--password-stdin",
                stdin="other\r\n")
    assert again.returncode == 0 and "replaced" in again.stdout
    for run in (done, listed, again):
        assert SECRET not in run.stdout + run.stderr
    raw = b"".join(p.read_bytes() for p in data.glob("rpa.db*"))
    assert SECRET.encode() not in raw


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (["--username", "robot"], "", "no terminal to ask"),          # no flag, no terminal
    (["--password-stdin"], SECRET + "\n", "--username"),          # no user name
    (["-u", "robot", "--password-stdin"], "\n", "empty"),
    (["-u", "robot", "--password-stdin"], "", "empty"),           # stdin closed at once
    (["-u", "robot", "--password-stdin"], "a\x00b\n", "NUL"),
    (["-u", "robot", "--password-stdin"], "x" * 5000 + "\n", "4,096"),
    (["-u", "", "--password-stdin"], SECRET + "\n", "--username"),
])
def test_bad_secret_input_changes_nothing(data: Path, args: list[str], stdin: str,
                                          words: str) -> None:
    result = rpa(data, "credentials", "set", "erp", *args, stdin=stdin)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert rpa(data, "credentials", "list", "--json").stdout.strip() == "[]"


def test_a_console_account_is_added_by_a_script(data: Path) -> None:
    added = rpa(data, "users", "add", "kari", "--role", "operator", "--password-stdin",
                stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    refused = rpa(data, "users", "password", "kari", stdin="")
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
