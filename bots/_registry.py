"""Finding bots: the built-in ones plus any installed under the entry-point group
`rpa.bots`, so `pip install some-bot` makes it available by name.
"""

from __future__ import annotations

from importlib.metadata import entry_points

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


def load_bot(name: str) -> type[Bot]:
    """The bot class registered under `name`."""
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
