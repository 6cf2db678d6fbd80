"""`rpa demo` end to end: the README's first command, smaller, as a subprocess."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _rpa(args: list[str], data_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update(RPA_DATA_DIR=str(data_dir), COLUMNS="80")
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.browser
@pytest.mark.slow
def test_demo_runs_both_bots_to_their_expected_outcomes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = _rpa(["demo", "--invoices", "40", "--applicants", "30", "--error-share", "0.1"],
               data)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "every item reached its expected outcome" in run.stdout
    assert "What the robots did" in run.stdout and "VAT_MISMATCH" in run.stdout
    assert all(len(line) <= 80 for line in run.stdout.splitlines())
    # the newcomer's way into the console: a one-time login link for the admin account
    assert re.search(r"^http://127\.0\.0\.1:8080/login/once/rpa_\S+$", run.stdout, re.M)
    assert "rpa web" in run.stdout
    # the worker's log goes to a file, not over the live display
    log_lines = (data / "logs" / "demo.log").read_text().splitlines()
    finished = [json.loads(line) for line in log_lines if '"item.finished"' in line]
    assert len(finished) >= 70
    assert "item.finished" not in run.stdout + run.stderr

    status = json.loads(_rpa(["status", "--json"], data).stdout)
    by_queue = {row["queue"]: row["counts"] for row in status}
    assert by_queue["invoice-approval"]["done"] + by_queue["invoice-approval"][
        "business_failed"] == 40
    assert by_queue["applicant-registration"]["new"] == 0
    # every business exception waits in the review inbox, in its process's group
    business = sum(counts["business_failed"] for counts in by_queue.values())
    tasks = json.loads(_rpa(["review", "list", "--json", "--limit", "500"], data).stdout)
    assert len(tasks["tasks"]) == business > 0
    assert {t["group"] for t in tasks["tasks"]} <= {"faktura-kontroll", "hr-kontroll"}
    assert f"{business} review tasks wait for a person" in run.stdout
    assert _rpa(["audit", "verify"], data).returncode == 0

    # the demo's credentials are stored encrypted: the database file never holds them
    raw = b"".join(p.read_bytes() for p in data.glob("rpa.db*"))
    assert b"approver-pass" not in raw and b"hr-pass" not in raw
    listed = json.loads(_rpa(["items", "list", "--json", "--limit", "1000"], data).stdout)
    assert_no_payload_value_at_rest(data, [i["payload"] for i in listed])


def payload_values(value: object) -> list[str]:
    if isinstance(value, dict):
        return [v for x in value.values() for v in payload_values(x)]
    if isinstance(value, list):
        return [v for x in value for v in payload_values(x)]
    return [str(value)] if value is not None else []


def assert_no_payload_value_at_rest(data: Path, payloads: list[object]) -> None:
    """Every payload value (identity numbers, names, e-mail addresses), read back through
    the CLI with the key, is absent from every audit event (which holds ids, reference
    digests, codes and counts only) and from the raw bytes of the database files."""
    with closing(sqlite3.connect(data / "rpa.db")) as conn:
        references = [r for (r,) in conn.execute("SELECT reference FROM work_items")]
        events = "\n".join("|".join(map(str, row)) for row in conn.execute(
            "SELECT actor, action, process, owner, cost_centre, details FROM audit_events"))
    raw = b"".join(p.read_bytes() for p in sorted(data.glob("rpa.db*")))
    # the demo's rows carry the outcome they should reach ("PO_CLOSED", "register"): a
    # code or a word the audit log rightly holds ("process.registered"); every other
    # value is a person's or a business's datum
    values = {v for p in payloads for v in payload_values(p)
              if len(v) >= 6 and not re.fullmatch(r"[A-Z0-9_]+|[a-z_]+", v)}
    assert len(values) > 100 and any("@" in v for v in values)  # the scan means something
    leaked = sorted(v for v in values | set(references) if v in events)
    assert not leaked, f"payload values or references in the audit log: {leaked[:10]}"
    # references stay in clear to be searchable (the invoices use their number as one)
    at_rest = sorted(v for v in values - set(references) if v.encode() in raw)
    assert not at_rest, f"payload values in the database file: {at_rest[:10]}"
