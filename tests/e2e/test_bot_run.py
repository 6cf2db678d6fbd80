"""`rpa bot run`: a process's bot on a few items, through the worker's own slot, against
the bundled recruitment portal, with nothing queued. Real CLI, real Chromium, a real
SQLite file; the credential is set by a script with --password-stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from targets import start_recruitment_portal
from targets.recruitment_portal import data as applicant_data
from tests.e2e.conftest_bots import wanted

RPA = str(Path(sys.executable).with_name("rpa"))
ROOT = Path(__file__).resolve().parents[2]
COUNT = 12


def rpa(home: Path, *args: str, stdin: str | None = None, raw: bool = False
        ) -> subprocess.CompletedProcess[str]:
    """`rpa ARGS` in `home` (with `raw`, ARGS is the whole command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(home / "data"), "RPA_BROWSER_PATH": "/usr/bin/chromium"}
    command = list(args) if raw else [RPA, *args]
    return subprocess.run(command, env=env, cwd=home, input=stdin, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    portal = start_recruitment_portal()
    try:
        assert rpa(tmp_path, "init").returncode == 0
        text = (ROOT / "config" / "processes" / "applicant-registration.yaml").read_text()
        text += f"\nbot_config:\n  base_url: {portal.url}\n  credential: recruitment-portal\n"
        (tmp_path / "applicants.yaml").write_text(text, encoding="utf-8")
        done = rpa(tmp_path, "process", "register", "applicants.yaml")
        assert done.returncode == 0, done.stderr
        done = rpa(tmp_path, "credentials", "set", "recruitment-portal", "-u", "hr",
                   "--password-stdin", stdin="hr-pass\n")
        assert done.returncode == 0, done.stderr
        yield tmp_path
    finally:
        portal.stop()


def test_a_few_items_run_through_the_workers_slot_and_nothing_is_queued(home: Path) -> None:
    csv = applicant_data.write_work_items(home / "in" / "applicants.csv", count=COUNT,
                                          cv_dir=home / "in" / "cvs")
    run = rpa(home, "bot", "run", "applicant-registration", "--file", str(csv), "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    expected = applicant_data.expected_outcomes(count=COUNT)
    got = {i["reference"]: "done" if i["outcome"] == "done" else i["code"]
           for i in result["items"]}
    assert got == {ref: wanted(outcome) for ref, outcome in expected.items()}
    registered = [i for i in result["items"] if i["outcome"] == "done"]
    assert all(i["output"]["registration_number"] for i in registered)
    assert Path(result["evidence_dir"]).is_dir()
    assert json.loads(rpa(home, "items", "list", "--json").stdout) == []  # nothing queued
    table = rpa(home, "bot", "run", "applicant-registration", "--file", str(csv))
    assert table.returncode == 0 and "nothing was queued" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())


@pytest.mark.parametrize(("args", "words"), [
    (["applicant-registration"], "--data"),
    (["applicant-registration", "-d", "{}", "--file", "x.csv"], "--data"),
    (["no-such-thing", "-d", "{}"], "no bot named 'no-such-thing'"),
    (["applicant-registration", "-d", '{"full_name": "Kari"}'], "national_id"),
    (["applicant-registration", "-d", '{"a": 1, "a": 2}'], "--data"),
    (["applicant-registration", "-d", "{}", "--pause-on-error"], "--headed"),
    (["noop", "-d", "{}", "--config", "[1]"], "--config"),
])
def test_bad_input_is_refused_before_a_browser_starts(home: Path, args: list[str],
                                                      words: str) -> None:
    result = rpa(home, "bot", "run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_headed_run_on_a_virtual_screen(home: Path) -> None:
    """--headed opens a real window (on Xvfb here, installed by scripts/setup.sh)."""
    applicant = next(a for a in applicant_data.generate_applicants(count=COUNT)
                     if a.expected == "register")
    csv = applicant_data.write_work_items(home / "in" / "one.csv", count=COUNT,
                                          cv_dir=home / "in" / "cvs")
    rows = csv.read_text(encoding="utf-8").splitlines()
    one = home / "in" / "first.csv"
    one.write_text("\n".join([rows[0], next(r for r in rows[1:]
                                            if r.startswith(applicant.reference + ","))]) + "\n",
                   encoding="utf-8")
    run = rpa(home, "xvfb-run", "-a", RPA, "bot", "run", "applicant-registration", "--file",
              str(one), "--headed", "--slowmo", "20", "--json", raw=True)
    assert run.returncode == 0, run.stderr[-2000:]
    [item] = json.loads(run.stdout)["items"]
    assert item["outcome"] == "done" and item["output"]["registration_number"]
