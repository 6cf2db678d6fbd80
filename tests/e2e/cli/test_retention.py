"""Retention and erasure as an operator runs them: real worker, real Chromium, real files.

One process keeps nothing (`0d`: due at once), another keeps its data a year.
A worker does the items (business exceptions leave screenshots and pages), and
then: a dry run changes nothing; the purge removes payloads, outputs, error
texts and evidence files of the first process only, leaves a tombstone that
`rpa items show` tells, and one audit event per batch; the freed-hours report
reads the same and `rpa audit verify` still passes; the SQLite file no longer
holds the purged identity numbers; an erasure removes one person's data from
the second process now, and bad requests change nothing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.conftest import Result, Shell

PROCESS = textwrap.dedent("""\
    name: {name}
    owner: HR
    cost_centre: "1400"
    bot: noop
    manual_minutes_per_item: 4
    exception_minutes_per_item: 1
    retry:
      max_attempts: 1
    {retention}
    """)
FORGET = "retention:\n  payload: 0d\n  output: 0d\n  errors: 0d\n  evidence: 0d"
KEEP = "retention:\n  payload: 365d\n  evidence: 365d"


def ok(result: Result) -> Result:
    assert result.code == 0, str(result)
    return result


def nin(n: int) -> str:
    return f"0101701{n:04d}"


@pytest.fixture(scope="module")
def worked_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked folder, made once: a worker run with Chromium is most of this file's
    time, and each test starts from a copy of what it left."""
    tmp_path = tmp_path_factory.mktemp("retention") / "work"
    tmp_path.mkdir()
    _work(Shell(tmp_path, tmp_path / "data"), tmp_path)
    template = tmp_path.with_name("template")
    shutil.copytree(tmp_path, template)
    return tmp_path


@pytest.fixture
def worked(worked_once: Path) -> Shell:
    """The folder as the worker left it, at the same path (evidence paths are absolute)."""
    shutil.rmtree(worked_once)
    shutil.copytree(worked_once.with_name("template"), worked_once)
    return Shell(worked_once, worked_once / "data")


def _work(shell: Shell, tmp_path: Path) -> None:
    for name, retention in (("forget", FORGET), ("keep", KEEP)):
        (tmp_path / f"{name}.yaml").write_text(
            PROCESS.format(name=name, retention=textwrap.indent(retention, "    ").strip()),
            encoding="utf-8")
    ok(shell("init"))
    ok(shell("process", "register", "forget.yaml", "keep.yaml"))
    for name, start in (("forget", 0), ("keep", 100)):
        rows = [{"reference": f"{name}-{n}", "nin": nin(start + n),
                 "email": f"person{start + n}@example.no",
                 **({"fail": "business"} if n % 2 else {})} for n in range(6)]
        (tmp_path / f"{name}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        ok(shell("enqueue", name, "--file", f"{name}.jsonl"))
    ok(shell("worker", "--until-empty", "--no-trace", "--slots", "1"))


def items(shell: Shell, process: str) -> list[dict[str, object]]:
    rows = ok(shell("items", "list", "--json", "--process", process, "--limit", "100")).json()
    shows = [shell.start("items", "show", str(r["id"]), "--json") for r in rows]  # side by side
    return [ok(shell.result(p)).json() for p in shows]


def test_purge_removes_what_is_due_and_nothing_else(worked: Shell) -> None:
    shell = worked
    hours_before = ok(shell("report", "hours", "--json")).json()
    forget = items(shell, "forget")
    evidence = [Path(p) for i in forget for a in i["history"]  # type: ignore[union-attr]
                for p in (a["evidence"] or {}).values()]
    assert len(evidence) >= 3 and all(p.is_file() for p in evidence)

    dry = ok(shell("purge", "--dry-run", "--json")).json()
    assert {(d["process"], d["data"]): d["due"] for d in dry}[("forget", "payload")] == 6
    assert {(d["process"], d["data"]): d["due"] for d in dry}[("keep", "payload")] == 0
    assert items(shell, "forget") == forget and all(p.is_file() for p in evidence)

    done = ok(shell("purge", "--json")).json()
    purged = {(d["process"], d["data"]): d["purged"] for d in done}
    assert purged[("forget", "payload")] == 6 and purged[("forget", "evidence")] >= 3
    assert purged[("keep", "payload")] == 0
    assert not any(p.exists() for p in evidence)
    for item in items(shell, "forget"):
        assert item["payload"] == {} and item["output"] is None
        assert all(a["error_message"] is None and a["evidence"] is None
                   for a in item["history"])  # type: ignore[union-attr]
        # each kind is purged where the item had some: outputs of the done, errors and
        # evidence of the failed
        expected = {"payload", "output"} if item["status"] == "done" else {
            "payload", "errors", "evidence"}
        assert set(item["purged"]) == expected, item
        assert "retention.payload 0d (process file)" in str(item["purges"])
    kept = items(shell, "keep")
    assert all(str(i["payload"]).count("@example.no") == 1 for i in kept)

    shown = ok(shell("items", "show", str(forget[0]["id"]))).out
    assert "payload (purged)" in shown and "purged" in shown and "under retention" in shown
    assert ok(shell("report", "hours", "--json")).json() == hours_before
    ok(shell("audit", "verify"))
    events = ok(shell("audit", "list", "--action", "items.purged", "--json")).json()
    assert events and all("nin" not in json.dumps(e) for e in events)
    assert ok(shell("purge", "--json")).json() and not any(
        d["purged"] for d in ok(shell("purge", "--json")).json())  # nothing left: a no-op

    raw = b"".join(p.read_bytes() for p in shell.data_dir.glob("rpa.db*"))
    assert not any(nin(n).encode() in raw for n in range(6)), "a purged NIN is in the file"


def test_erasure_removes_one_persons_data_now_and_bad_requests_change_nothing(
        worked: Shell) -> None:
    shell = worked
    target = next(i for i in items(shell, "keep") if i["reference"] == "keep-1")
    for bad, code, needle in (
            (["999999"], 2, "no work item 999999"),
            ([str(target["id"]), "999999"], 2, "nothing was erased"),
            ([str(target["id"]), "--reason", "  "], 2, "--reason"),
            (["0"], 2, "ids")):
        args = ["items", "erase", *bad, "--yes"]
        if "--reason" not in bad:
            args += ["--reason", "case 2026/41"]
        result = shell(*args)
        assert result.code == code and needle in result.err, str(result)
    assert items(shell, "keep")[0]["payload"] != {}

    ok(shell("items", "erase", str(target["id"]), "--reason", "case 2026/41", "--yes"))
    after = ok(shell("items", "show", str(target["id"]), "--json")).json()
    assert after["payload"] == {} and "erasure: case 2026/41" in str(after["purges"])
    assert all(a["evidence"] is None for a in after["history"])
    (event,) = ok(shell("audit", "list", "--action", "items.erased", "--json")).json()
    assert event["details"]["ids"] == [target["id"]]
    ok(shell("audit", "verify"))
    with closing(sqlite3.connect(shell.data_dir / "rpa.db")) as conn:
        payloads = [p for (p,) in conn.execute("SELECT payload FROM work_items")]
    assert not any(nin(101) in p for p in payloads)


def test_without_the_key_nothing_is_removed(worked: Shell) -> None:
    shell = worked
    (shell.data_dir / "secret.key").rename(shell.data_dir / "elsewhere.key")
    result = shell("purge")
    assert result.code == 1 and "no master key" in result.err and "Nothing" in result.err
    wrong = shell("purge", env={"RPA_SECRET_KEY": "x" * 43 + "="})
    assert wrong.code == 1 and "is not the one that wrapped" in wrong.err, str(wrong)
    (shell.data_dir / "elsewhere.key").rename(shell.data_dir / "secret.key")
    assert all(i["payload"] != {} for i in items(shell, "forget"))
