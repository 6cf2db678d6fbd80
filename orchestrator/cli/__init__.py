"""The `rpa` command: Typer commands over the store, Rich output, meaningful exit codes.

Exit codes: 0 ok, 1 a check failed or the database failed, 2 bad usage or input.
"""

from __future__ import annotations

import sys

import typer

from orchestrator.cli import common
from orchestrator.cli.alerts_cmd import alerts_app
from orchestrator.cli.audit_cmd import audit_app
from orchestrator.cli.candidates_cmd import candidates_app
from orchestrator.cli.demo_cmd import demo
from orchestrator.cli.items_cmd import enqueue, items_app
from orchestrator.cli.keys_cmd import keys_app
from orchestrator.cli.process_cmd import process_app
from orchestrator.cli.report_cmd import report_app
from orchestrator.cli.retention_cmd import erase, purge
from orchestrator.cli.review_cmd import org_app, review_app
from orchestrator.cli.schedule_cmd import schedule_app, scheduler, serve, workers
from orchestrator.cli.setup_cmd import db_app, init
from orchestrator.cli.status_cmd import status
from orchestrator.cli.web_cmd import tokens_app, users_app, web
from orchestrator.cli.worker_cmd import bots_app, credentials_app, worker
from orchestrator.errors import RpaError

app = typer.Typer(
    name="rpa", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="RPA orchestrator: queues of work items, bots that do them, an audit log that "
         "tells what they freed and cost.",
)
app.command()(demo)
app.command()(init)
app.command()(enqueue)
app.command()(status)
app.add_typer(db_app, name="db")
app.add_typer(process_app, name="process")
app.add_typer(items_app, name="items")
items_app.command("erase")(erase)
app.command()(purge)
app.add_typer(audit_app, name="audit")
app.command()(worker)
app.add_typer(bots_app, name="bots")
app.add_typer(bots_app, name="bot", hidden=True)  # `rpa bot run` reads naturally too
app.add_typer(credentials_app, name="credentials")
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")
app.add_typer(candidates_app, name="candidates")
app.command()(serve)
app.command()(scheduler)
app.command()(workers)
app.add_typer(schedule_app, name="schedule")
app.command()(web)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(review_app, name="review")
app.add_typer(org_app, name="org")
app.add_typer(alerts_app, name="alerts")


@app.callback()
def _setup() -> None:
    import os

    from orchestrator.logs import configure
    common.STATE.reset()
    configure(common.STATE.settings.log_format)
    if common.STATE.settings.bots_path:  # the bots package reads it where it loads a bot
        os.environ["RPA_BOTS_PATH"] = common.STATE.settings.bots_path


def error_exit_code(err: Exception) -> int | None:
    """The exit code of an error reported in one line; None for a bug (a traceback).

    The CLI meets three roots (see `orchestrator.errors`): `RpaError` carries its
    code; queue and bot errors that blame the input exit 2, those of the system
    1. The queue package and the bots are imported here, not at start-up: they
    are heavy, and any error of theirs means they are loaded already.
    """
    if isinstance(err, RpaError):
        return err.exit_code
    from bots import BotError, UnknownBot
    from queues import errors as qerr
    from queues.alert_store import AlertNotFound
    from queues.organisation_store import OrganisationVersionError
    from queues.review_store import ReviewError

    if isinstance(err, qerr.QueueNotFound | qerr.ItemNotFound | qerr.PayloadInvalid
                  | qerr.IllegalTransition | UnknownBot | ReviewError
                  | OrganisationVersionError | AlertNotFound):
        return 2
    if isinstance(err, qerr.QueueError | BotError):
        return 1
    return None


def _fail(message: str, code: int) -> int:
    common.err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (tests call this)."""
    from orchestrator.private_files import private_umask
    private_umask()  # what SQLite, Playwright and we create is the user's alone
    try:
        # Standalone mode lets Typer report usage errors (exit 2) and aborts itself;
        # it always ends in SystemExit, whose code we return.
        app(args=argv, standalone_mode=True, prog_name="rpa")
        return 0
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except Exception as err:
        code = error_exit_code(err)
        if code is None:
            raise
        return _fail(str(err), code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    finally:
        common.STATE.reset()


def main() -> None:
    sys.exit(run())
