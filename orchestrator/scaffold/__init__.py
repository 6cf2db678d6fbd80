"""`rpa bot new NAME`: a bot project to start from.

It writes a package with a bot (an `Input` model, `login`, `handle`), a process
file that names the bot by module path (so it runs from the folder, with
`RPA_BOTS_PATH`), an items file, a local HTML form and a pytest test that runs
the bot against it in Chromium, and a pyproject.toml with the entry point for
when the bot is published as a package. Nothing is overwritten.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

from orchestrator.errors import UsageError

NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
TEMPLATES = Path(__file__).parent


def _words(name: str) -> list[str]:
    return [w for w in name.split("-") if w]


PLACEHOLDER_OWNER = "Change me (the unit that owns the process)"


def create(name: str, where: Path, owner: str | None = None) -> Path:
    """Write the project `where/name`; its folder. UsageError for a bad or taken name.

    `owner` goes into the process file (a unit of the organisation, once one is
    loaded); without it the file says to change it.
    """
    if owner is not None and (not owner.strip() or len(owner) > 200
                              or not owner.isprintable()):
        raise UsageError("--owner: give the unit's name, 1 to 200 printable characters")
    if not NAME.match(name) or name.endswith("-") or "--" in name:
        raise UsageError(f"bot name {name[:60]!r}: use 2 to 41 lower-case letters, digits "
                         "and single dashes, starting with a letter, e.g. parking-permits")
    folder = where / name
    if folder.exists():
        raise UsageError(f"{folder} exists already; choose another name or folder")
    module = name.replace("-", "_")
    values = {
        "name": name, "module": module,
        "cls": "".join(w.capitalize() for w in _words(name)) + "Bot",
        "title": " ".join(_words(name)).capitalize(),
        "upper": "".join(w[0] for w in _words(name)).upper() or "ITEM",
        "folder": str(folder.resolve()),
        "form": (folder / "tests" / "fixture.html").resolve().as_uri(),
        # JSON's string is YAML's too: quotes and colons in a unit's name stay text
        "owner": json.dumps(owner.strip() if owner else PLACEHOLDER_OWNER,
                            ensure_ascii=False),
    }
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        f"{module}/__init__.py": None,
        f"{module}/bot.py": "bot.py.tmpl",
        f"{name}.yaml": "process.yaml.tmpl",
        "items.csv": "items.csv.tmpl",
        "tests/fixture.html": "fixture.html.tmpl",
        "tests/test_bot.py": "test_bot.py.tmpl",
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "" if template is None else Template(
            (TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        path.write_text(text, encoding="utf-8")
    return folder
