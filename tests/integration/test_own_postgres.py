"""The test helpers that disturb a database: a private PostgreSQL and a freezable proxy.

Tests of failover and reconnection are only as good as the disturbances they
inflict, so these check that each one does what it claims: a restart keeps the
data and the port, terminate_backends really cuts open connections, and a frozen
proxy makes a client hang (rather than fail fast, which would be a much kinder
failure than a vanished network) until it is thawed or closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.own_postgres import OwnPostgres, own_postgres_fixture
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

pg = own_postgres_fixture(name="pg")


@pytest.fixture
def proxy(pg: OwnPostgres) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", pg.port) as p:
        yield p


def _proxied_dsn(proxy: TcpProxy) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/test"


class _Background:
    """Runs a call in a thread and keeps its outcome, so a hang can be observed."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self._fn = fn
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as e:  # reported to the test, not to threading's excepthook
            self.error = e

    def finished_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


def test_restart_keeps_data_and_port(pg: OwnPostgres) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO t VALUES (1, 'before restart')")
    port = pg.port
    old = psycopg.connect(pg.dsn, autocommit=True)
    try:
        started = time.monotonic()
        pg.restart(down_for=1)
        assert time.monotonic() - started >= 1
        assert pg.port == port
        with pytest.raises(psycopg.OperationalError):  # a fast shutdown cut it
            old.execute("SELECT 1")
    finally:
        old.close()
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT name FROM t").fetchall() == [("before restart",)]


def test_immediate_stop_recovers_committed_data(pg: OwnPostgres) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT 42 AS answer")
    pg.restart(mode="immediate")
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT answer FROM t").fetchone() == (42,)


def test_sqlalchemy_url_works(pg: OwnPostgres) -> None:
    engine = sa.create_engine(pg.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "test"
    finally:
        engine.dispose()


def test_terminate_backends_cuts_open_connections(pg: OwnPostgres) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as a, \
            psycopg.connect(pg.dsn, autocommit=True) as b:
        assert a.execute("SELECT 1").fetchone() == (1,)
        assert pg.terminate_backends() == 2
        for conn in (a, b):
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
    with psycopg.connect(pg.dsn) as conn:  # the server itself is fine
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pg.terminate_backends() == 0


def test_proxy_forwards_many_pooled_connections(pg: OwnPostgres, proxy: TcpProxy) -> None:
    engine = sa.create_engine(sa.make_url(pg.url).set(port=proxy.port),
                              pool_size=10, max_overflow=0)
    try:
        conns = [engine.connect() for _ in range(10)]
        try:
            pids = {c.execute(sa.text("SELECT pg_backend_pid()")).scalar() for c in conns}
            assert len(pids) == 10
            assert proxy.connection_count == 10
        finally:
            for c in conns:
                c.close()
    finally:
        engine.dispose()
    deadline = time.monotonic() + 5
    while proxy.connection_count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proxy.connection_count == 0  # disposed connections are torn down, not leaked


def test_frozen_proxy_hangs_the_client_until_thawed(pg: OwnPostgres, proxy: TcpProxy) -> None:
    threads_before = set(threading.enumerate())
    with psycopg.connect(_proxied_dsn(proxy), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.freeze()
        query = _Background(lambda: conn.execute("SELECT 2").fetchone())
        assert not query.finished_within(1.5), "the client should hang, not fail"
        assert query.error is None
        proxy.thaw()
        assert query.finished_within(5)
        assert query.error is None
        assert query.result == (2,)
    assert set(threading.enumerate()) - threads_before == set()


def test_closing_a_frozen_proxy_frees_the_hung_client(pg: OwnPostgres) -> None:
    proxy = TcpProxy("127.0.0.1", pg.port)
    proxy.start()
    conn = psycopg.connect(_proxied_dsn(proxy), autocommit=True)
    try:
        proxy.freeze()
        query = _Background(lambda: conn.execute("SELECT 1").fetchone())
        assert not query.finished_within(1.0)
        proxy.close()
        assert query.finished_within(5), "close() must release the client with a FIN"
        assert isinstance(query.error, psycopg.OperationalError)
    finally:
        conn.close()
    assert not any(t.name == f"tcp-proxy-{proxy.port}" for t in threading.enumerate())


def test_freeze_also_hangs_new_connections(pg: OwnPostgres, proxy: TcpProxy) -> None:
    proxy.freeze()
    connecting = _Background(lambda: psycopg.connect(_proxied_dsn(proxy), autocommit=True))
    assert not connecting.finished_within(1.0)
    proxy.thaw()
    assert connecting.finished_within(5)
    assert connecting.error is None
    assert isinstance(connecting.result, psycopg.Connection)
    with connecting.result as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_freezing_the_server_hangs_clients(pg: OwnPostgres) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        pg.freeze()
        try:
            query = _Background(lambda: conn.execute("SELECT 3").fetchone())
            assert not query.finished_within(1.0)
        finally:
            pg.thaw()
        assert query.finished_within(5)
        assert query.result == (3,)


def test_startup_failure_reports_the_server_log(tmp_path: Path) -> None:
    first = OwnPostgres(tmp_path / "a")
    second = OwnPostgres(tmp_path / "b")
    try:
        first.start()
        second.port = first.port  # the port is taken: the second postmaster must fail
        with pytest.raises(RuntimeError, match="tail of"):
            second.start()
    finally:
        second.close()
        first.close()
