"""A bot in a folder, without packaging: named by module path in the process file,
found through RPA_BOTS_PATH, registered and run by the real CLI and worker (real
Chromium, a real SQLite file). A module path outside the folder, or one that does
not load, is refused at registration with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RPA = str(Path(sys.executable).with_name("rpa"))  # the console script, as users run it
HELLO = '''
from typing import Any

from pydantic import BaseModel

from bots import Bot, BotContext


class Greeting(BaseModel):
    who: str


class HelloBot(Bot):
    name = "hello"
    Input = Greeting

    async def handle(self, item: Greeting, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.set_content(f"<h1>Hei {item.who}</h1>")
        return {"greeting": await page.inner_text("h1"), "reference": ctx.item.reference,
                "attempt": ctx.item.attempt}


class NotABot:
    pass
'''
PROCESS = """\
name: greetings
owner: Tests
cost_centre: "1"
bot: {bot}
manual_minutes_per_item: 1
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    package = tmp_path / "robots" / "my_bots"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "hello.py").write_text(textwrap.dedent(HELLO), encoding="utf-8")
    return tmp_path


def rpa(home: Path, *args: str, bots: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(home / "data"), "RPA_BROWSER_PATH": "/usr/bin/chromium"}
    if bots:
        env["RPA_BOTS_PATH"] = str(home / "robots")
    return subprocess.run([RPA, *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300, check=False)


def process_file(home: Path, bot: str) -> Path:
    path = home / f"greetings-{abs(hash(bot))}.yaml"
    path.write_text(PROCESS.format(bot=bot), encoding="utf-8")
    return path


def test_a_bot_in_a_folder_is_registered_and_run(home: Path) -> None:
    assert rpa(home, "init").returncode == 0
    registered = rpa(home, "process", "register", str(process_file(
        home, "my_bots.hello:HelloBot")))
    assert registered.returncode == 0, registered.stderr
    assert rpa(home, "enqueue", "greetings", "-d", '{"who": "Kari"}', "-r", "G-1").returncode == 0
    worked = rpa(home, "worker", "--until-empty", "--slots", "1")
    assert worked.returncode == 0, worked.stderr[-2000:]
    [item] = json.loads(rpa(home, "items", "list", "--json").stdout)
    shown = json.loads(rpa(home, "items", "show", str(item["id"]), "--json").stdout)
    assert shown["status"] == "done"
    assert shown["output"] == {"greeting": "Hei Kari", "reference": "G-1", "attempt": 1}


@pytest.mark.parametrize(("bot", "with_path", "words"), [
    ("my_bots.hello:HelloBot", False, "RPA_BOTS_PATH"),
    ("os:system", True, "no module 'os' in the bots folder"),
    ("json.decoder:JSONDecoder", True, "no module 'json' in the bots folder"),
    ("my_bots.hello:Missing", True, "cannot be loaded"),
    ("my_bots.hello:NotABot", True, "not a Bot subclass"),
    ("my_bots.nowhere:HelloBot", True, "cannot be loaded"),
    ("my bots:Hello", True, "package.module:Class"),
])
def test_a_module_path_that_cannot_be_used_is_refused(home: Path, bot: str, with_path: bool,
                                                     words: str) -> None:
    assert rpa(home, "init").returncode == 0
    result = rpa(home, "process", "register", str(process_file(home, bot)), bots=with_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert json.loads(rpa(home, "process", "list", "--json").stdout) == []
