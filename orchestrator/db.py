"""The database: open the store, create and upgrade the schema with Alembic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from orchestrator.settings import Settings
from queues import open_store
from queues.engine import make_engine, wrapped_errors
from queues.sql_store import SqlStore

if TYPE_CHECKING:  # alembic loads only to migrate: every other command starts faster
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"""^(down_)?revision\s*=\s*["']?(\w+)["']?\s*$""", re.M)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str, revision: str = "head") -> str:
    """Bring the schema at `url` to `revision`; returns the revision now in force."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with wrapped_errors("upgrade the database schema"), engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            return MigrationContext.configure(conn).get_current_revision() or "base"
    finally:
        engine.dispose()


def shipped_head() -> str:
    """The newest revision in `migrations/versions`: the one no other revises.

    Read from the files' `revision = ...` lines rather than through alembic, which
    every command would otherwise import just to compare two strings.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {heads}")
    return heads[0]


def current_revision(url: str) -> tuple[str | None, str]:
    """(revision in the database, newest revision we ship)."""
    engine = make_engine(url)
    try:
        with wrapped_errors("read the schema revision"), engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                current = None
            else:
                current = conn.execute(sa.text("SELECT version_num FROM alembic_version")
                                       ).scalar()
    finally:
        engine.dispose()
    return current, shipped_head()


def open_sql_store(settings: Settings, *, writer: str | None = None) -> SqlStore:
    """The store for the configured database (schema assumed current)."""
    store = open_store(settings.db_url, writer=writer)
    assert isinstance(store, SqlStore)
    use_master_key(store, settings)
    return store


def use_master_key(store: SqlStore, settings: Settings) -> None:
    """Seal the store's data and key its audit chain under the master key, if there is one.

    Without one (a reader with no key) the store writes unkeyed and shows sealed
    values as such. With a key that did not wrap this database's keys, the
    key a rotation left pending is tried; else a `CredentialError` says what to set.
    """
    from orchestrator.encryption import AUDIT, EnvelopeSealer, MasterKey
    from orchestrator.errors import CredentialError
    from orchestrator.secrets import candidate_master_keys
    from queues import ChainKey

    last: CredentialError | None = None
    for raw in candidate_master_keys(settings):
        sealer = EnvelopeSealer(store.keys, MasterKey(raw))
        try:
            audit_key = sealer.raw_key(AUDIT)
        except CredentialError as err:
            last = err
            continue
        store.use_sealer(sealer)
        store.use_audit_key(ChainKey(audit_key))
        return
    if last is not None:
        raise last


def seal_audit_log(settings: Settings, actor: str) -> str | None:
    """After a migration: a checkpoint, when the master key is at hand and the log holds.

    Why here: migration 0007 leaves the chains written before keyed hashing
    unkeyed, and only a checkpoint taken now, before anyone could add another,
    vouches for them. Returns what was done, for the command to say.
    """
    from orchestrator.secrets import master_key
    if master_key(settings) is None:
        return None
    store = open_sql_store(settings, writer=f"cli:{actor}")
    try:
        result = store.verify_audit()
        if not all(f.kind == "unvouched" for f in result.findings):
            return (f"the audit log does not verify ({len(result.findings)} problem(s)); "
                    "no checkpoint was written: run `rpa audit verify`")
        checkpoint = store.checkpoint_audit(actor=actor)
        return f"audit checkpoint {checkpoint.id} sealed ({len(checkpoint.chains)} chain(s))"
    finally:
        store.close()


def ensure_current(settings: Settings) -> None:
    """Fail with a clear hint when the database is missing or behind this version."""
    from orchestrator.errors import UsageError
    where = settings.safe_db_url
    sqlite_file = sa.make_url(settings.db_url).database if settings.is_sqlite else None
    if sqlite_file and not Path(sqlite_file).exists():
        raise UsageError(f"no database at {where}: run `rpa init` first")
    current, head = current_revision(settings.db_url)
    if current is None:
        raise UsageError(f"the database at {where} is not initialised: run `rpa init`")
    if current != head:
        raise UsageError(f"the database schema is at {current}, this version needs {head}: "
                         "run `rpa db upgrade`")
