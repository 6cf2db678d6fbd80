"""What every command shares: the console, settings, the store, JSON output.

The CLI package imports only Typer, Rich and light modules of its own at start-up:
settings, the store, the queue package and the bots load inside the commands that
use them, so `rpa --help` and `rpa CMD --help` answer without loading SQLAlchemy,
Alembic or httpx.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from orchestrator.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from orchestrator.services.access import Principal
    from orchestrator.settings import Settings
    from queues import Store

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    "new": "cyan", "in_progress": "blue", "done": "green", "business_failed": "yellow",
    "retry_scheduled": "magenta", "dead": "bold red", "abandoned": "dim",
}


def make_table(title: str | None = None, **kwargs: object) -> Table:
    """A table that fits 80 columns: a rule under the header, no vertical borders.

    `kwargs` go to Rich's `Table` and win over these defaults (`box=None`, say).
    """
    options: dict[str, Any] = {"title_justify": "left", "box": box.SIMPLE_HEAD,
                               "pad_edge": False, **kwargs}
    return Table(title=title, **options)


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def actor() -> str:
    """Who a CLI action is audited as: the OS user, marked `os:` (a console user is
    `web:NAME`, an API token `token:NAME#ID`, a single sign-on `sso:NAME`)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def principal() -> Principal:
    """The CLI's principal: the OS user, acting as an administrator (see `services.access`)."""
    from orchestrator.services.access import cli_principal

    return cli_principal(actor())


class State:
    """Settings and a store opened on first use, shared by the commands of one run."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None
        self.writer = f"cli:{actor()}"

    def write_as(self, writer: str) -> None:
        """Audit this run's writes to a chain of its own (before the store is opened).

        Why: a worker or node appends for hours, concurrently with other workers
        of the same OS user; one chain each keeps them from contending for a head
        and tells an auditor which process wrote what.
        """
        assert self._store is None, "the store is already open"
        self.writer = writer

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from pydantic import ValidationError

            from orchestrator.settings import load_settings
            try:
                self._settings = load_settings()
            except ValidationError as err:
                raise ConfigError("settings: " + "; ".join(
                    f"RPA_{'_'.join(str(p) for p in e['loc']).upper()}: "
                    f"{str(e['msg']).removeprefix('Value error, ')}"
                    for e in err.errors()[:5])) from None
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from orchestrator.db import ensure_current, open_sql_store
            ensure_current(self.settings)
            if self.settings.is_sqlite:
                from orchestrator.private_files import secure_data_dir
                secure_data_dir(self.settings.data_dir)
            self._store = open_sql_store(self.settings, writer=self.writer)
        return self._store

    def reset(self) -> None:
        """Forget settings and close the store: the next command reads them afresh."""
        if self._store is not None:
            self._store.close()
        self._store = None
        self._settings = None
        self.writer = f"cli:{actor()}"


STATE = State()


def print_json(value: Any) -> None:
    """Machine-readable output: plain JSON on stdout, never wrapped or coloured."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def read_secret(from_stdin: bool, what: str = "password") -> str:
    """A secret from one line of stdin (`--password-stdin`), or asked twice at a terminal.

    Never from an argument: those land in shell histories and `ps`. Without a
    terminal and without the flag there is nobody to ask, so that is a usage error.
    """
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise UsageError(f"no terminal to ask for the {what}: pipe it with --password-stdin")
    else:
        import typer

        secret = str(typer.prompt(what, hide_input=True))
        if typer.prompt("again", hide_input=True) != secret:
            raise UsageError(f"the two {what}s differ")
    if not secret:
        raise UsageError(f"the {what} is empty")
    if "\x00" in secret or len(secret) > 4096:
        raise UsageError(f"the {what} must be at most 4,096 characters, with no NUL")
    return secret


def json_object_flag(text: str, flag: str) -> dict[str, Any]:
    """A JSON object given on the command line (`--data`, `--config`), read strictly
    (duplicate keys, NaN and Infinity refused); a usage error naming the flag."""
    from orchestrator.item_readers import BadRow, parse_json_object

    try:
        return parse_json_object(text)
    except BadRow as bad:
        raise UsageError(f"{flag}: {bad}") from None
