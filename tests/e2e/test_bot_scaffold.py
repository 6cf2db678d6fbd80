"""`rpa bot new`, followed as the README's "first bot" section tells a newcomer: the
scaffold's own test passes, the bot runs from its folder with `rpa bot run`, and the
worker does its items (one done, one business exception). Real CLI, real Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def run(cwd: Path, *args: str, data: Path, bots: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(data), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
    if bots is not None:
        env["RPA_BOTS_PATH"] = str(bots)
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_a_new_bot_from_scaffold_to_done_items(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(tmp_path, "rpa", "init", data=data).returncode == 0
    # as after the demo: an organisation is loaded, so the owner must be one of its units
    assert run(tmp_path, "rpa", "org", "load", str(ROOT / "config" / "organisation.yaml"),
               data=data).returncode == 0
    made = run(tmp_path, "rpa", "bot", "new", "parking-permits", "--owner",
               "Digitalisering og IKT", data=data)
    assert made.returncode == 0, made.stderr
    assert all(len(line) <= 100 for line in made.stdout.splitlines())
    project = tmp_path / "parking-permits"
    own_test = run(project, "pytest", "-q", "-p", "no:cacheprovider", "tests", data=data)
    assert own_test.returncode == 0, own_test.stdout + own_test.stderr
    assert "2 passed" in own_test.stdout
    steps = [["rpa", "process", "register", "parking-permits.yaml"],
             ["rpa", "bot", "run", "parking-permits", "--data",
              '{"name": "Kari", "amount": 12}'],
             ["rpa", "enqueue", "parking-permits", "-f", "items.csv"],
             ["rpa", "worker", "--process", "parking-permits", "--until-empty"]]
    for step in steps:
        done = run(project, *step, data=data, bots=project)
        assert done.returncode == 0, f"{step}: {done.stdout}{done.stderr[-2000:]}"
    items = json.loads(run(project, "rpa", "items", "list", "--json", data=data).stdout)
    assert sorted((i["reference"], i["status"], i["error_code"]) for i in items) == [
        ("PP-1", "done", None), ("PP-2", "business_failed", "OVER_LIMIT")]


@pytest.mark.parametrize("name", ["Parking", "x", "9lead", "trail-", "double--dash",
                                  "with space", "ø-bot", "a" * 60, "../escape"])
def test_a_bad_bot_name_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    result = run(tmp_path, "rpa", "bot", "new", name, data=tmp_path / "data")
    assert result.returncode == 2 and "bot name" in result.stderr
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "data"])


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    result = run(tmp_path, "rpa", "bot", "new", "mine", data=tmp_path / "data")
    assert result.returncode == 2 and "exists already" in result.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]


def test_an_owner_with_quotes_and_colons_stays_text(tmp_path: Path) -> None:
    import yaml

    owner = 'Bydel Nord: "Sone 2" # ikke en kommentar'
    made = run(tmp_path, "rpa", "bot", "new", "quoted-bot", "--owner", owner,
               data=tmp_path / "data")
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "quoted-bot" / "quoted-bot.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["owner"] == owner
    bad = run(tmp_path, "rpa", "bot", "new", "other-bot", "--owner", " ", data=tmp_path / "d")
    assert bad.returncode == 2 and "--owner" in bad.stderr
