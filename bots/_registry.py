"""Finding bots: the built-in ones, any installed under the entry-point group
`rpa.bots` (so `pip install some-bot` makes it available by name), and bots in a
folder, named by module path (`bot: my_bots.invoices:InvoiceBot`).

A folder bot is imported only from the folders of `RPA_BOTS_PATH` (the
settings' `bots_path`, separated like PATH): a module path that resolves
anywhere else is refused, so a process file cannot make a worker import
arbitrary installed code.
"""

from __future__ import annotations

import os
import re
import sys
from importlib.machinery import PathFinder
from importlib.metadata import entry_points
from pathlib import Path

from bots._base import Bot
from bots._errors import BotError

GROUP = "rpa.bots"
BUILTIN = {
    "invoice-approval": "bots.builtin.invoice_approval:InvoiceApprovalBot",
    "applicant-registration": "bots.builtin.applicant_registration:ApplicantRegistrationBot",
    "noop": "bots.builtin.noop:NoopBot",
}


class UnknownBot(BotError, LookupError):
    """No bot of that name is built in or installed, or its module cannot be loaded."""


def _load(target: str) -> type[Bot]:
    from importlib import import_module
    module, _, attr = target.partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Bot)):
        raise TypeError(f"{target} is not a Bot subclass")
    return cls


def available() -> dict[str, str]:
    """Bot name -> where it comes from (`module:Class`), built-ins first."""
    found = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return found


MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def bots_path() -> list[Path]:
    """The folders of `RPA_BOTS_PATH` that exist, resolved."""
    raw = os.environ.get("RPA_BOTS_PATH", "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep)
            if p.strip() and Path(p).expanduser().is_dir()]


def _inside(path: str | None, folders: list[Path]) -> bool:
    if not path:
        return False
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(folder) for folder in folders)


def _load_from_folder(target: str) -> type[Bot]:
    """`package.module:Class` from a folder of `RPA_BOTS_PATH`."""
    if not MODULE_PATH.match(target):
        raise UnknownBot(f"bot {target!r}: write a bot from a folder as package.module:Class, "
                         "e.g. my_bots.invoices:InvoiceBot")
    folders = bots_path()
    if not folders:
        raise UnknownBot(f"bot {target!r} names a module: set RPA_BOTS_PATH (bots_path in the "
                         "settings) to the folder that holds it")
    top = target.split(":")[0].split(".")[0]
    spec = PathFinder.find_spec(top, [str(f) for f in folders])
    if spec is None or not _inside(spec.origin or next(iter(
            spec.submodule_search_locations or []), None), folders):
        shown = os.pathsep.join(str(f) for f in folders)
        raise UnknownBot(f"bot {target!r}: no module {top!r} in the bots folder(s) {shown}")
    loaded = sys.modules.get(top)
    if loaded is not None and not _inside(getattr(loaded, "__file__", None), folders):
        raise UnknownBot(f"bot {target!r}: a module named {top!r} is installed already; "
                         "rename the bots' package")
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        return _load(target)
    except (ImportError, AttributeError, TypeError, SyntaxError) as err:
        raise UnknownBot(f"bot {target!r} cannot be loaded: {type(err).__name__}: {err}"
                         ) from err


def load_bot(name: str) -> type[Bot]:
    """The bot class registered under `name`, or a folder bot's `module:Class`."""
    if ":" in name:
        return _load_from_folder(name)
    where = available().get(name)
    if where is None:
        known = ", ".join(sorted(available()))
        raise UnknownBot(f"no bot named {name!r}: known bots are {known} "
                         f"(install more as packages with an {GROUP!r} entry point)")
    try:
        return _load(where)
    except (ImportError, AttributeError, TypeError) as err:  # a broken or missing install
        raise UnknownBot(f"bot {name!r} ({where}) cannot be loaded: "
                         f"{type(err).__name__}: {err}") from err
