"""`rpa init` and `rpa db ...`: create the data directory and the schema."""

from __future__ import annotations

import typer

from orchestrator.cli.common import STATE, actor, console, print_json

db_app = typer.Typer(help="Database schema: upgrade and inspect.", no_args_is_help=True)


def init(json_out: bool = typer.Option(False, "--json", help="print the result as JSON")) -> None:
    """Create the data directory and the database, and bring its schema up to date."""
    from orchestrator import db  # Alembic and SQLAlchemy: loaded only when a command needs them

    settings = STATE.settings
    from orchestrator.private_files import make_private_dir, secure_data_dir
    make_private_dir(settings.data_dir)
    make_private_dir(settings.evidence_dir)
    revision = db.upgrade(settings.db_url)
    from orchestrator.secrets import ensure_key_file
    key_path = ensure_key_file(settings)
    secure_data_dir(settings.data_dir, settings.evidence_dir)  # repairs an older install
    sealed = db.seal_audit_log(settings, actor())
    if json_out:
        print_json({"data_dir": str(settings.data_dir), "database": settings.safe_db_url,
                    "schema": revision, "key_file": str(key_path) if key_path else None,
                    "audit": sealed})
        return
    console.print(f"[green]✓[/] data directory  {settings.data_dir}")
    console.print(f"[green]✓[/] database        {settings.safe_db_url} (schema {revision})")
    if key_path:
        console.print(f"[green]✓[/] secret key      {key_path} (mode 0600)")
    _say_sealed(sealed)
    console.print("Next: [bold]rpa process register config/processes/*.yaml[/]")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply the schema migrations this version ships."""
    from orchestrator import db
    from orchestrator.private_files import secure_data_dir

    now = db.upgrade(STATE.settings.db_url, revision)
    secure_data_dir(STATE.settings.data_dir, STATE.settings.evidence_dir)
    console.print(f"[green]✓[/] schema at {now} ({STATE.settings.safe_db_url})")
    if revision == "head":
        _say_sealed(db.seal_audit_log(STATE.settings, actor()))


def _say_sealed(sealed: str | None) -> None:
    if sealed:
        mark = "[green]✓[/]" if sealed.startswith("audit checkpoint") else "[yellow]![/]"
        console.print(f"{mark} audit log       {sealed}")


@db_app.command("current")
def current() -> None:
    """Show the schema revision in the database and the newest one shipped."""
    from orchestrator import db

    have, head = db.current_revision(STATE.settings.db_url)
    state = "[green]up to date[/]" if have == head else "[yellow]run `rpa db upgrade`[/]"
    console.print(f"database {have or 'empty'}, newest {head}: {state}")
