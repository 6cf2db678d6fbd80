"""`rpa audit verify` finds every way someone with the database, but not the key, rewrites it.

Each case builds a real audit log on SQLite and on PostgreSQL (two writers'
chains and a checkpoint exported to a file), tampers with it through plain SQL
as an attacker at the database would, and asserts that `rpa audit verify` (with
`--against` the exported checkpoint where that is what catches it) exits 1 and
names the chain or checkpoint. The untampered log verifies, so each failure is
the tampering's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.db import open_sql_store
from orchestrator.settings import load_settings
from queues import ChainKey, NewItem
from queues.chain import canonical_json, chain_start, event_hash
from tests.e2e.conftest import Cli, Db, invoice_rows, write_csv

OTHER_WRITER = "worker:test-host:4242:abc123"


@contextmanager
def transaction(db: Db) -> Iterator[sa.Connection]:
    """One transaction on the database behind the CLI's back; the engine is gone after."""
    engine = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def rows(db: Db, sql: str, **params: Any) -> list[Any]:
    with transaction(db) as conn:
        return list(conn.execute(sa.text(sql), params))


def run(db: Db, sql: str, **params: Any) -> None:
    with transaction(db) as conn:
        conn.execute(sa.text(sql), params)


def chain_of(db: Db, writer: str) -> tuple[int, int]:
    (found,) = rows(db, "SELECT id, length FROM audit_chains WHERE writer = :w", w=writer)
    return int(found.id), int(found.length)


def recompute(db: Db, chain_id: int, writer: str, key: ChainKey | None) -> None:
    """Re-seal a whole chain and its head as an attacker can: with the public algorithm
    (key None) or a key of their own, never ours."""
    events = rows(db, "SELECT * FROM audit_events WHERE chain_id = :c ORDER BY seq", c=chain_id)
    prev = chain_start(chain_id, writer, key)
    with transaction(db) as conn:
        for event in events:
            new = event_hash(prev, event._mapping, key)
            conn.execute(sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h "
                                 "WHERE id = :id"), {"p": prev, "h": new, "id": event.id})
            prev = new
        conn.execute(sa.text("UPDATE audit_chains SET head_hash = :h, keyed = :k WHERE id = :c"),
                     {"h": prev, "k": key is not None, "c": chain_id})


@pytest.fixture
def log(ready: Cli, db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two chains (the operator's and a worker's), sealed in a checkpoint exported to a file,
    then more events after it; returns the exported file."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "a.csv", "reference,invoice_number,amount", invoice_rows(5))
    ready.ok("enqueue", "invoices", "--file", "a.csv")
    other = open_sql_store(load_settings(), writer=OTHER_WRITER)
    try:
        for n in range(4):
            other.enqueue("invoices", [NewItem(f"W-{n}", {"invoice_number": f"INV-9{n}",
                                                          "amount": n})], actor="test:worker")
    finally:
        other.close()
    exported = tmp_path / "checkpoint.json"
    ready.ok("audit", "checkpoint", "--export", exported)
    write_csv(tmp_path / "b.csv", "reference,invoice_number,amount", invoice_rows(2, start=50))
    ready.ok("enqueue", "invoices", "--file", "b.csv")
    ready.ok("audit", "verify", "--against", exported)
    return exported


def tampered(cli: Cli, *names: str, against: Path | None = None) -> str:
    args = ["audit", "verify"] + (["--against", str(against)] if against else [])
    result = cli(*args)
    assert result.code == 1, str(result)
    assert "TAMPERED" in result.out
    for name in names:
        assert name in result.out, f"{name!r} not named in: {result.out}"
    return result.out


def test_an_edited_event(ready: Cli, db: Db, log: Path) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "UPDATE audit_events SET details = :d WHERE chain_id = :c AND seq = 2",
        d=canonical_json({"count": 1000}), c=chain)
    tampered(ready, f"chain {chain}", "position 2", "altered")


def test_a_removed_event(ready: Cli, db: Db, log: Path) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "DELETE FROM audit_events WHERE chain_id = :c AND seq = 2", c=chain)
    tampered(ready, f"chain {chain}", "removed")


def test_an_inserted_event(ready: Cli, db: Db, log: Path) -> None:
    chain, length = chain_of(db, OTHER_WRITER)
    (last,) = rows(db, "SELECT * FROM audit_events WHERE chain_id = :c AND seq = :s",
                   c=chain, s=length)
    forged = {**last._mapping, "seq": length + 1, "details": canonical_json({"count": 3})}
    forged["prev_hash"] = last.hash
    forged["hash"] = hashlib.sha256(b"forged").hexdigest()
    forged.pop("id")
    columns = ", ".join(forged)
    run(db, f"INSERT INTO audit_events ({columns}) VALUES "
            f"({', '.join(':' + c for c in forged)})", **forged)
    run(db, "UPDATE audit_chains SET length = :n, head_hash = :h WHERE id = :c",
        n=length + 1, h=forged["hash"], c=chain)
    tampered(ready, f"chain {chain}", f"position {length + 1}")


def test_reordered_events(ready: Cli, db: Db, log: Path) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "UPDATE audit_events SET seq = -1 WHERE chain_id = :c AND seq = 2", c=chain)
    run(db, "UPDATE audit_events SET seq = 2 WHERE chain_id = :c AND seq = 3", c=chain)
    run(db, "UPDATE audit_events SET seq = 3 WHERE chain_id = :c AND seq = -1", c=chain)
    tampered(ready, f"chain {chain}", "position 2")


def test_a_truncated_chain_with_its_head_rolled_back(ready: Cli, db: Db, log: Path) -> None:
    chain, length = chain_of(db, OTHER_WRITER)
    (keep,) = rows(db, "SELECT hash FROM audit_events WHERE chain_id = :c AND seq = :s",
                   c=chain, s=length - 2)
    run(db, "DELETE FROM audit_events WHERE chain_id = :c AND seq > :s", c=chain, s=length - 2)
    run(db, "UPDATE audit_chains SET length = :n, head_hash = :h WHERE id = :c",
        n=length - 2, h=keep.hash, c=chain)
    tampered(ready, f"chain {chain}", "truncated", f"saw {length} event(s)")


def test_a_whole_chain_removed(ready: Cli, db: Db, log: Path) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "DELETE FROM audit_events WHERE chain_id = :c", c=chain)
    run(db, "DELETE FROM audit_chains WHERE id = :c", c=chain)
    tampered(ready, f"chain {chain}", OTHER_WRITER, "was removed")


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed", "keyed-with-a-guess"])
def test_a_forged_chain_added(ready: Cli, db: Db, log: Path, keyed: bool) -> None:
    """Three self-consistent `item.completed` events that would raise the freed hours."""
    writer = "worker:forger" if keyed else "worker:forger [unkeyed]"
    run(db, "INSERT INTO audit_chains (writer, created_at, head_hash, length, keyed) "
            "VALUES (:w, 1e9, :g, 0, :k)", w=writer, g="0" * 64, k=keyed)
    chain, _ = chain_of(db, writer)
    guess = ChainKey(b"g" * 32) if keyed else None
    for seq in (1, 2, 3):
        run(db, "INSERT INTO audit_events (chain_id, seq, ts, actor, action, process, owner, "
                "cost_centre, item_id, freed_minutes, robot_seconds, details, prev_hash, hash) "
                "VALUES (:c, :s, 1e9, 'worker:x', 'item.completed', 'invoices', 'Finance', "
                "'1200', 1, 600, 1, '{}', '', '')", c=chain, s=seq)
    run(db, "UPDATE audit_chains SET length = 3 WHERE id = :c", c=chain)
    recompute(db, chain, writer, guess)
    tampered(ready, f"chain {chain}", writer)


def test_a_writer_renamed(ready: Cli, db: Db, log: Path) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "UPDATE audit_chains SET writer = 'worker:someone-else' WHERE id = :c", c=chain)
    tampered(ready, f"chain {chain}", "renamed")


@pytest.mark.parametrize("how", ["sha256", "another-key"])
def test_a_chain_and_its_head_rewritten_consistently_without_the_key(
        ready: Cli, db: Db, log: Path, how: str) -> None:
    chain, _ = chain_of(db, OTHER_WRITER)
    run(db, "UPDATE audit_events SET freed_minutes = 6000 WHERE chain_id = :c AND seq = 1",
        c=chain)
    recompute(db, chain, OTHER_WRITER, None if how == "sha256" else ChainKey(b"k" * 32))
    tampered(ready, f"chain {chain}")


def test_the_latest_checkpoint_removed_is_found_against_the_exported_file(
        ready: Cli, db: Db, log: Path) -> None:
    run(db, "DELETE FROM audit_checkpoints WHERE id = (SELECT max(id) FROM audit_checkpoints)")
    ready.ok("audit", "verify")  # alone, the database cannot tell: the last seal is gone
    tampered(ready, "checkpoint", "missing from the database", against=log)


def test_an_altered_checkpoint(ready: Cli, db: Db, log: Path) -> None:
    run(db, "UPDATE audit_checkpoints SET created_by = 'cli:os:mallory'")
    tampered(ready, "checkpoints", "seal does not hold")


def test_an_altered_exported_checkpoint_is_refused(ready: Cli, db: Db, log: Path) -> None:
    log.write_text(log.read_text().replace('"length": ', '"length": 1'), encoding="utf-8")
    tampered(ready, "checkpoint file", "seal does not hold", against=log)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "not JSON"), (b"{\"format\": 1}", "not an audit checkpoint"),
    (b"[1, 2]", "not an audit checkpoint"), (b"\xff\xfe", "not JSON"),
    (b'{"format": "rpa-audit-checkpoint/1", "id": 1}', "missing or malformed"),
])
def test_a_file_that_is_no_checkpoint_is_exit_2(ready: Cli, db: Db, tmp_path: Path,
                                                 content: bytes, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    result = ready("audit", "verify", "--against", bad)
    assert result.code == 2 and message in result.err and "bad.json" in result.err, str(result)


def test_checkpoint_refuses_a_log_that_does_not_verify(ready: Cli, db: Db, log: Path) -> None:
    run(db, "UPDATE audit_events SET action = 'item.completed' WHERE seq = 1")
    before = db.scalar("SELECT count(*) FROM audit_checkpoints")
    result = ready("audit", "checkpoint")
    assert result.code == 1 and "does not verify" in result.err, str(result)
    assert db.scalar("SELECT count(*) FROM audit_checkpoints") == before



def test_a_new_checkpoint_never_launders_a_removal(ready: Cli, db: Db, log: Path) -> None:
    """A truncation after the last checkpoint is refused by the next one, not sealed."""
    chain, _ = chain_of(db, OTHER_WRITER)
    (keep,) = rows(db, "SELECT hash FROM audit_events WHERE chain_id = :c AND seq = 1", c=chain)
    run(db, "DELETE FROM audit_events WHERE chain_id = :c AND seq > 1", c=chain)
    run(db, "UPDATE audit_chains SET length = 1, head_hash = :h WHERE id = :c",
        h=keep.hash, c=chain)
    before = db.scalar("SELECT count(*) FROM audit_checkpoints")
    result = ready("audit", "checkpoint")
    assert result.code == 1, str(result)
    assert db.scalar("SELECT count(*) FROM audit_checkpoints") == before
    tampered(ready, f"chain {chain}", "truncated")
