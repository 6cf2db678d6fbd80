"""`rpa demo` end to end: the README's first command, smaller, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert _rpa(["audit", "verify"], data).returncode == 0

    # the demo's credentials are stored encrypted: the database file never holds them
    raw = b"".join(p.read_bytes() for p in data.glob("rpa.db*"))
    assert b"approver-pass" not in raw and b"hr-pass" not in raw
