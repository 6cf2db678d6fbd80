"""Personal data at rest: sealed in the database, readable with the key, rotated without loss.

A real SQLite file and a real PostgreSQL database hold items whose payloads,
outputs and error texts carry an identity number, a name and an e-mail
address; a byte search of the SQLite file (and its WAL) and of a `pg_dump`
finds none of them, while `rpa items show` reads them back. `rpa keys rotate`
keeps items, credentials and the audit log readable under the new key and
shuts the old one out; a rotation cut short after its commit still opens; a
wrong key is refused by name and changes nothing.
"""

from __future__ import annotations

import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from orchestrator import key_rotation
from orchestrator.credentials import CredentialVault
from orchestrator.db import open_sql_store
from orchestrator.settings import load_settings
from tests.e2e.conftest import Cli, Db

NIN, NAME, EMAIL = "31129955555", "Ingrid Bjørnstad-Kveseth", "ingrid.kveseth@example.no"
SECRETS = (NIN, NAME, EMAIL)


@pytest.fixture
def filled(ready: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """On SQLite and PostgreSQL: see `fill`."""
    return fill(ready, tmp_path, monkeypatch)


@pytest.fixture
def lite_filled(lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """On SQLite only (what it tests lives above the database): see `fill`."""
    return fill(lite, tmp_path, monkeypatch)


def fill(ready: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Three items: one done (its output names the person), one failed (its error text
    does), one waiting; every payload holds all three values."""
    monkeypatch.chdir(tmp_path)
    rows = [f"P-{n},INV-{n},{n},{NIN},{NAME},{EMAIL}" for n in (1, 2, 3)]
    (tmp_path / "p.csv").write_text("reference,invoice_number,amount,nin,name,email\n"
                                    + "\n".join(rows) + "\n", encoding="utf-8")
    ready.ok("enqueue", "invoices", "--file", "p.csv")
    store = open_sql_store(load_settings(), writer="worker:test")
    try:
        first, second = store.claim("invoices", "w", limit=2)
        store.complete(first.id, "w", {"confirmed_for": NAME, "nin": NIN})
        store.fail_business(second.id, "w", code="EMAIL_BOUNCED",
                            message=f"mail to {EMAIL} for {NAME} bounced")
        assert first.payload["nin"] == NIN  # the worker sees the plaintext
    finally:
        store.close()
    return ready


def raw_copy(db: Db, data_dir: Path) -> bytes:
    """What someone with a copy of the database gets."""
    if db.is_sqlite:
        return b"".join(p.read_bytes() for p in sorted(data_dir.glob("rpa.db*")))
    url = sa.make_url(db.url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    return subprocess.run(["pg_dump", "--no-owner", url], check=True, capture_output=True,
                          timeout=60).stdout


def test_a_copy_of_the_database_holds_no_personal_data(filled: Cli, db: Db,
                                                       data_dir: Path) -> None:
    raw = raw_copy(db, data_dir)
    assert b"P-1" in raw  # references stay searchable: the copy is the real one
    for value in SECRETS:
        assert value.encode() not in raw, f"{value!r} is in the copy"
    shown = [filled.ok("items", "show", str(i), "--json").json() for i in (1, 2, 3)]
    assert all(s["payload"]["nin"] == NIN for s in shown)
    assert shown[0]["output"] == {"confirmed_for": NAME, "nin": NIN}
    assert shown[1]["history"][0]["error_message"] == f"mail to {EMAIL} for {NAME} bounced"
    listed = filled.ok("items", "list", "--json").json()
    assert {i["payload"]["email"] for i in listed} == {EMAIL}


def test_rotation_keeps_everything_readable_and_shuts_the_old_key_out(
        lite_filled: Cli, sqlite_db: Db, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    with closing(open_sql_store(settings)) as store:
        CredentialVault(store, settings, actor="test").set("portal", "robot", "Pa55-word!")
    old_key = (data_dir / "secret.key").read_bytes().strip()
    done = lite_filled.ok("keys", "rotate", "--json").json()
    assert done["data_keys"] >= 2 and done["credentials"] == 1
    new_key = (data_dir / "secret.key").read_bytes().strip()
    assert new_key != old_key and (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    assert not (data_dir / "secret.key.new").exists()

    assert lite_filled.ok("items", "show", "2", "--json").json()["payload"]["name"] == NAME
    with closing(open_sql_store(load_settings())) as store:
        vault = CredentialVault(store, load_settings(), actor="test")
        assert vault.get("portal").password == "Pa55-word!"
    lite_filled.ok("audit", "verify")
    monkeypatch.setenv("RPA_SECRET_KEY", old_key.decode())
    refused = lite_filled("items", "show", "2")
    assert refused.code == 1 and "is not the one that wrapped" in refused.err, str(refused)


def test_a_rotation_cut_short_after_its_commit_still_opens(
        lite_filled: Cli, sqlite_db: Db, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()

    def crash(self: Path, target: object) -> Path:
        raise OSError("the machine went down")

    with monkeypatch.context() as patched, closing(open_sql_store(settings)) as store, \
            pytest.raises(OSError):
        patched.setattr(Path, "replace", crash)
        key_rotation.rotate(store, settings, actor="test")
    assert (data_dir / "secret.key.new").exists()  # the database is under this key now
    assert lite_filled.ok("items", "show", "1", "--json").json()["payload"]["nin"] == NIN
    lite_filled.ok("audit", "verify")


def test_a_wrong_or_missing_key_is_refused_and_changes_nothing(
        lite_filled: Cli, sqlite_db: Db, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sqlite_db.scalar("SELECT count(*) FROM audit_events")
    monkeypatch.setenv("RPA_SECRET_KEY", Fernet.generate_key().decode())
    for args in (("purge",), ("keys", "rotate", "--new-key-file", "x"),
                 ("items", "erase", "1", "--reason", "r", "--yes")):
        result = lite_filled(*args)
        assert result.code == 1 and "is not the one that wrapped" in result.err, str(result)
    monkeypatch.delenv("RPA_SECRET_KEY")
    (data_dir / "secret.key").rename(data_dir / "away.key")
    result = lite_filled("keys", "rotate")
    assert result.code == 1 and "no master key" in result.err, str(result)
    (data_dir / "away.key").rename(data_dir / "secret.key")
    assert sqlite_db.scalar("SELECT count(*) FROM audit_events") == before
    assert lite_filled.ok("items", "show", "1", "--json").json()["payload"]["nin"] == NIN


def test_a_personal_reference_is_stored_as_a_keyed_digest_and_still_found(
        ready: Cli, db: Db, data_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.yaml").write_text(
        "name: people\nowner: HR\ncost_centre: '1400'\nbot: noop\n"
        "manual_minutes_per_item: 4\nhash_reference: true\n", encoding="utf-8")
    ready.ok("process", "register", "people.yaml")
    added = ready.ok("enqueue", "people", "--data", '{"n": 1}', "--reference", NIN,
                     "--json").json()
    assert added["added"] == 1
    again = ready.ok("enqueue", "people", "--data", '{"n": 2}', "--reference", NIN,
                     "--json").json()
    assert (again["added"], again["already_present"]) == (0, 1)  # still unique
    (found,) = ready.ok("items", "list", "--reference", NIN, "--json").json()
    assert found["process"] == "people" and found["reference"].startswith("h1:")
    assert NIN not in found["reference"]
    assert NIN.encode() not in raw_copy(db, data_dir)
    assert ready.ok("items", "list", "--reference", "h1:nothing", "--json").json() == []
