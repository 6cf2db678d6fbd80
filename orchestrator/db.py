"""The database: open the store, create and upgrade the schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from orchestrator.settings import Settings
from queues import open_store
from queues.engine import make_engine, wrapped_errors
from queues.sql_operator import SqlStore

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str, revision: str = "head") -> str:
    """Bring the schema at `url` to `revision`; returns the revision now in force."""
    engine = make_engine(url)
    try:
        with wrapped_errors("upgrade the database schema"), engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            return MigrationContext.configure(conn).get_current_revision() or "base"
    finally:
        engine.dispose()


def current_revision(url: str) -> tuple[str | None, str]:
    """(revision in the database, newest revision we ship)."""
    engine = make_engine(url)
    try:
        with wrapped_errors("read the schema revision"), engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head or "base"


def open_sql_store(settings: Settings, *, writer: str | None = None) -> SqlStore:
    """The store for the configured database (schema assumed current)."""
    store = open_store(settings.db_url, writer=writer)
    assert isinstance(store, SqlStore)
    return store
