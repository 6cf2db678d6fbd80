"""Ctrl-C at a terminal signals the worker's whole process group. The browser must not
die with it: the item in flight finishes, and the worker stops. A real `rpa worker`
in a process group of its own, a real Chromium, a bot from a folder that takes a few
seconds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

RPA = str(Path(sys.executable).with_name("rpa"))
SLOW = '''
import asyncio
from typing import Any

from pydantic import BaseModel

from bots import Bot, BotContext


class Anything(BaseModel):
    pass


class SlowBot(Bot):
    name = "slow"
    Input = Anything

    async def handle(self, item: Anything, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.set_content("<h1>working</h1>")
        await asyncio.sleep(4)  # Ctrl-C arrives meanwhile
        return {"page": await page.inner_text("h1")}
'''
PROCESS = """\
name: slow
owner: Tests
cost_centre: "1"
bot: slow_bots.slow:SlowBot
manual_minutes_per_item: 1
retry: {max_attempts: 1}
"""


def status_of(db: Path) -> str | None:
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT status FROM work_items").fetchone()
    return None if row is None else str(row[0])


def test_ctrl_c_lets_the_item_in_flight_finish(tmp_path: Path) -> None:
    (tmp_path / "robots" / "slow_bots").mkdir(parents=True)
    (tmp_path / "robots" / "slow_bots" / "__init__.py").write_text("")
    (tmp_path / "robots" / "slow_bots" / "slow.py").write_text(SLOW)
    (tmp_path / "slow.yaml").write_text(PROCESS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(tmp_path / "data"), "RPA_BOTS_PATH": str(tmp_path / "robots"),
            "RPA_BROWSER_PATH": "/usr/bin/chromium"}
    for step in (["init"], ["process", "register", "slow.yaml"],
                 ["enqueue", "slow", "-d", "{}", "-r", "S-1"]):
        done = subprocess.run([RPA, *step], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    db = tmp_path / "data" / "rpa.db"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen([RPA, "worker", "--slots", "1"], env=env, cwd=tmp_path,
                                  stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while status_of(db) != "in_progress":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        time.sleep(1.0)  # the bot is inside its four seconds
        os.killpg(worker.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    log_text = (tmp_path / "worker.log").read_text()
    assert status_of(db) == "done", log_text[-3000:]
    shown = subprocess.run([RPA, "items", "list", "--json"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, check=False)
    [item] = json.loads(shown.stdout)
    assert item["attempts"] == 1  # finished in its first attempt, not retried
