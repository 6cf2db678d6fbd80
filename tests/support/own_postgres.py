"""A PostgreSQL server that one test starts for itself.

The shared server at 127.0.0.1:5432 serves every test in the session (and the
developer's own work), so a test that wants to see what the orchestrator does
when the database restarts, kills its connections or stops answering must not
do that to the shared one. This module starts a private, throw-away cluster:
`initdb` into a temporary directory, `pg_ctl start` on a free loopback port,
trust authentication for the `postgres` role and a database named `test`.

    with OwnPostgres(tmp_path) as pg:
        engine = sa.create_engine(pg.url)
        ...
        pg.restart(down_for=1)          # same port, same data
        pg.terminate_backends()         # every client of `test` is disconnected

or, in a conftest or test module:

    own_postgres = own_postgres_fixture()           # a function-scoped fixture
    shared_pg = own_postgres_fixture(scope="module", name="shared_pg")

It is tuned for speed (`--no-sync`, `fsync=off`, `full_page_writes=off`): nothing
is ever fsynced, which only a power cut could punish, and tests do not have
those. A fast shutdown or restart keeps the data; an immediate stop (a crash,
as far as PostgreSQL knows) is followed by crash recovery from the WAL in the
OS page cache, and keeps every commit that was acknowledged, because
`synchronous_commit` stays on by default. With `synchronous_commit=False` (a
little faster) a commit returns before its WAL leaves shared memory, and an
immediate stop within ~0.6 s of it loses it, exactly as a real crash of a server
with asynchronous commit would; only ask for that when that loss is the point.

Running as root: initdb and postgres refuse to run as root, so when the
process's effective uid is 0 the server binaries run as the `postgres` OS user
(`subprocess`'s `user=`/`group=`), and the directories they write are chowned to
it. pytest's own tmp_path lives under a 0700 root directory the `postgres` user
cannot traverse, so in that case the cluster goes into a fresh directory under
the system temp dir instead of under `base`. Not root: everything runs as the
current user, under `base`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
import pytest

DATABASE = "test"
SUPERUSER = "postgres"
_BINARIES = ("initdb", "pg_ctl", "postgres")
_LOG_TAIL_LINES = 40
_PG_CTL_TIMEOUT = 30  # seconds pg_ctl waits for start/stop before giving up


class OwnPostgresError(RuntimeError):
    """The private server could not be initialised, started or stopped."""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres.

    PATH first, so a developer can point the tests at another version; then the
    newest Debian-style /usr/lib/postgresql/<major>/bin.
    """
    found = shutil.which("initdb")
    if found:
        bindir = Path(found).resolve().parent
        if all((bindir / name).exists() for name in _BINARIES):
            return bindir

    def major(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True):
        bindir = Path(candidate)
        if all((bindir / name).exists() for name in _BINARIES):
            return bindir
    raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found "
                            "on PATH or in /usr/lib/postgresql/*/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (racy, but good enough)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a process with this uid/gids can traverse every directory down to `path`."""
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class OwnPostgres:
    """initdb into a temp dir, start on a free 127.0.0.1 port, trust auth, database `test`.

    Attributes:
        url:  SQLAlchemy form, ``postgresql+psycopg://postgres@127.0.0.1:PORT/test``
        dsn:  libpq form, ``postgresql://postgres@127.0.0.1:PORT/test``
        port: the TCP port; it stays the same across stop/start/restart
        directory: the temp directory (data/, server.log, initdb.log)
        log_path: the server log
    """

    def __init__(self, base: Path, *, synchronous_commit: bool = True) -> None:
        self.synchronous_commit = synchronous_commit
        self.bindir = find_bindir()
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(SUPERUSER)
            except KeyError:
                self._user = None  # initdb will refuse; its error message says why

        base = Path(base)
        base.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            gids = {self._user.pw_gid, *os.getgrouplist(self._user.pw_name, self._user.pw_gid)}
            if not _reachable_by(base, self._user.pw_uid, gids):
                base = Path(tempfile.gettempdir())
        self.directory = Path(tempfile.mkdtemp(prefix="own-pg-", dir=base))
        # Unix sockets: a path longer than ~107 bytes cannot be bound, and pytest's
        # tmp_path for a long test name gets close, so the socket dir is always short.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="pgs-"))
        self._chown(self.directory)
        self._chown(self.socket_dir)
        self.data_dir = self.directory / "data"
        self.log_path = self.directory / "server.log"

        self.port = free_port()
        self._auto_port = self.port  # free_port() is racy: only a port we chose is re-chosen
        self._initialised = False
        self._database_created = False
        self._running = False
        self._frozen_pids: list[int] = []

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        """SQLAlchemy URL of database `test`."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """libpq connection string of database `test` (for psycopg.connect)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def dsn_for(self, database: str) -> str:
        """libpq connection string of another database on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the server (initdb the first time, create database `test` the first time).

        Blocks until the server accepts connections. On failure raises
        OwnPostgresError carrying the tail of the server log.
        """
        if self._running:
            return
        if not self._initialised:
            self._initdb()
        for _attempt in range(3):
            result = self._pg_ctl_start()
            if result.returncode == 0 or not self._port_was_stolen():
                break
            # someone took the port between free_port() and the postmaster's bind
            self.port = self._auto_port = free_port()
        if result.returncode != 0:
            raise OwnPostgresError(self._failure("pg_ctl start", result))
        self._running = True
        if not self._database_created:
            with psycopg.connect(self.dsn_for("postgres"), autocommit=True,
                                 connect_timeout=10) as admin:
                admin.execute(f'CREATE DATABASE "{DATABASE}"')
            self._database_created = True

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        args = [
            str(self.bindir / "pg_ctl"), "start", "-w", "-t", str(_PG_CTL_TIMEOUT),
            "-D", str(self.data_dir), "-l", str(self.log_path),
            "-o", " ".join([
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                f"-c synchronous_commit={'on' if self.synchronous_commit else 'off'}",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]),
        ]
        return self._run(args)

    def _port_was_stolen(self) -> bool:
        """Whether the last start failed on a port we picked ourselves, before any first
        start succeeded (after that the port must stay the same, so no retry)."""
        if self._database_created or self.port != self._auto_port:
            return False
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return False
        return "Address already in use" in "\n".join(log.splitlines()[-10:])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back and disconnect clients, clean shutdown),
        `smart` (wait for clients to leave) or `immediate` (abort; crash recovery on
        the next start). A no-op if it is not running.
        """
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        if not self._running:
            return
        self.thaw()  # a stopped postmaster cannot handle the shutdown signal
        result = self._run([str(self.bindir / "pg_ctl"), "stop", "-w", "-t", str(_PG_CTL_TIMEOUT),
                            "-m", mode, "-D", str(self.data_dir)])
        if result.returncode != 0:
            raise OwnPostgresError(self._failure(f"pg_ctl stop -m {mode}", result))
        self._running = False

    def restart(self, down_for: float = 0.0, mode: str = "fast") -> None:
        """Stop, stay down for `down_for` seconds, start again on the same port."""
        self.stop(mode)
        if down_for > 0:
            time.sleep(down_for)
        self.start()

    def close(self) -> None:
        """Stop immediately (the data is thrown away anyway) and remove the directories."""
        try:
            if self._running:
                try:
                    self.stop("immediate")
                except OwnPostgresError:
                    self._kill_postmaster()
        finally:
            self._running = False
            shutil.rmtree(self.directory, ignore_errors=True)
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> OwnPostgres:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ disturbances

    def terminate_backends(self, database: str | None = DATABASE, wait: float = 5.0) -> int:
        """Kill every client backend connected to `database` (None: to any database).

        Our own admin connection is never among them. This is what an operator's
        pg_terminate_backend or a failover does to the orchestrator's pool: the
        clients' next query fails with "terminating connection due to administrator
        command". Waits up to `wait` seconds until the backends have really gone, so
        the caller sees a settled state. Returns how many were signalled.
        """
        query = ("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                 "AND pid <> pg_backend_pid()")
        params: tuple[Any, ...] = ()
        if database is not None:
            query += " AND datname = %s"
            params = (database,)
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True,
                             connect_timeout=10) as admin:
            pids = [row[0] for row in admin.execute(query, params).fetchall()]
            killed = [pid for pid in pids
                      if admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                      == (True,)]
            deadline = time.monotonic() + wait
            while killed and time.monotonic() < deadline:
                left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                                     (killed,)).fetchone()
                if left is None or left[0] == 0:
                    break
                time.sleep(0.02)
        return len(killed)

    def freeze(self) -> None:
        """SIGSTOP the postmaster and all its children: the server is alive but silent.

        New TCP connections still complete their handshake (the kernel's listen
        backlog answers for the stopped postmaster) and then hang, as do queries on
        existing connections. Linux only (reads /proc to find the children).
        """
        if not self._running or self._frozen_pids:
            return
        postmaster = self.postmaster_pid()
        children = _children_of(postmaster)
        # postmaster first, so it cannot fork a new backend we would miss
        self._frozen_pids = [postmaster, *children]
        for pid in self._frozen_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what freeze() stopped."""
        for pid in self._frozen_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen_pids = []

    def postmaster_pid(self) -> int:
        """The postmaster's pid, from postmaster.pid."""
        first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        return int(first_line.strip())

    # ------------------------------------------------------------------ internals

    def _initdb(self) -> None:
        log = self.directory / "initdb.log"
        result = self._run([str(self.bindir / "initdb"), "--no-sync", "--no-instructions",
                            "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
                            "-D", str(self.data_dir)])
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise OwnPostgresError(self._failure("initdb", result))
        self._initialised = True

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as the `postgres` OS user when we are root."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            env["HOME"] = self._user.pw_dir
            env["USER"] = env["LOGNAME"] = self._user.pw_name
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        return subprocess.run(args, cwd=self.directory, env=env, capture_output=True, text=True,
                              timeout=_PG_CTL_TIMEOUT + 30, check=False, **kwargs)

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _failure(self, what: str, result: subprocess.CompletedProcess[str]) -> str:
        tail = ""
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").splitlines()
            tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        return (f"{what} failed (exit {result.returncode}) for {self.data_dir} on port "
                f"{self.port}\nstdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}"
                f"\n--- tail of {self.log_path} ---\n{tail}")

    def _kill_postmaster(self) -> None:
        """Last resort when pg_ctl cannot stop it: SIGKILL postmaster and children."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = self.postmaster_pid()
            for pid in [postmaster, *_children_of(postmaster)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _children_of(parent: int) -> list[int]:
    """Direct children of `parent`, from /proc (a postmaster's backends are all direct)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: split after it
        fields = stat_line.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


def own_postgres_fixture(scope: str = "function", name: str = "own_postgres",
                         **options: Any) -> Callable[..., Any]:
    """A pytest fixture yielding a started OwnPostgres; assign it in a conftest or test module:

        own_postgres = own_postgres_fixture()
        module_pg = own_postgres_fixture(scope="module", name="module_pg")

    `options` go to OwnPostgres (e.g. synchronous_commit=False). Without
    PostgreSQL's server binaries the test fails and says what to install: a
    skipped outage test would read as green.
    """

    @pytest.fixture(scope=scope, name=name)  # type: ignore[call-overload]
    def _own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
        try:
            find_bindir()
        except FileNotFoundError as e:
            pytest.fail(f"{e} (apt-get install postgresql)", pytrace=False)
        with OwnPostgres(tmp_path_factory.mktemp("own-pg"), **options) as pg:
            yield pg

    return _own_postgres
