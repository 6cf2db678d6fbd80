"""The web console and the REST API over a large database: do they stay quick?

Why: the console and the API read the same tables the robots fill. Over a year
those hold a million items, nearly all finished; a page that scans them, or an
index the planner ignores, shows only then. So, per engine (a SQLite file;
PostgreSQL when it answers), the bench builds such a database and measures,
from outside, `rpa web` run as its users run it (a subprocess: uvicorn, one
process):

* `GET /` (the overview page) and `GET /items` (the items page), logged in
  through the login form like a browser, and `GET /api/v1/status` with an API
  token: 200 sequential requests each (`--quick`: 50) after 10 warm-up ones;
  p50, p95 and max of the SERVER time, read from the `server-timing:
  app;dur=12.3` header the app's middleware sets on every response, and of the
  time the client saw. Target: server p95 under 200 ms.
* The overview's figures (`/` and `/api/v1/status`) are read at most once a
  second for all callers (`OverviewCache`), so back-to-back requests measure
  that cache, and its misses only show in the max. A lone user, or a page
  polling every 5 s, misses it every time: 20 requests (`--quick`: 5) each
  after 1.1 s of quiet measure the read itself, held to the same target.
* bulk enqueue over the API: 20 requests (`--quick`: 5) of 1,000 new items each
  to `POST /api/v1/processes/invoice-approval/items`, one after the other, every
  payload valid against the process schema and every answer checked (200,
  added == 1000); items/s = items / wall time. Target: at least 5,000 items/s.
* 50 concurrent clients polling `GET /api/v1/status`: 50 asyncio tasks, an
  `httpx.AsyncClient` (one keep-alive connection) each, one request to connect
  and then 20 (`--quick`: 5) measured ones each, the whole run bounded in time.
  Target: p95 of client-observed latency under 300 ms.

The baseline, in the same run and measured the same ways (sequentially and
with 50 clients): `GET /api/v1/health`, no login and no database work: what
HTTP, uvicorn, FastAPI, the middleware and the client cost on this machine.
The clients run on the same machine as the server; under 50 clients their own
CPU competes with the server's (the bench prints the cores its process used),
and the health baseline shows that floor.

The database, per engine: a fresh data directory (and for PostgreSQL a fresh
database `rpa_web_bench_<pid>` next to RPA_TEST_POSTGRES_URL, dropped with
FORCE at the end), migrated with Alembic, a key file so payloads are sealed as
in production, the two bundled processes (config/processes), an admin account
and an API token, and N items (default 1,000,000; `--quick`: 50,000) added
with `store.enqueue` in chunks of 10,000, alternately to each process. Then
the BENCH'S SHORTCUT: one SQL UPDATE marks all but 1 % of them done
(finished_at = updated_at = created_at + a few seconds, one attempt). That is
not how the orchestrator finishes items (no attempt rows, no audit events),
but the bench measures read paths, and claiming and completing a million items
one by one would take the run's whole time. PostgreSQL then gets VACUUM
(ANALYZE), what autovacuum would have done by then (and would otherwise do in
the middle of the measurement); SQLite gets `PRAGMA optimize` on the store's
own connection, which (before SQLite 3.46) analyzes only tables that
connection's queries used, as it would in a long-running process: the table's
caption says whether `work_items` got statistics.

    .venv/bin/python bench/web_bench.py                  # both engines, 1,000,000 items
    .venv/bin/python bench/web_bench.py --quick          # 50,000 items, fewer requests
    .venv/bin/python bench/web_bench.py --engines sqlite --items 200000 --json

The exit code is 0 whether the targets are met or not (it is a measurement):
read PASS/FAIL in the tables and the summary. With --json the figures go to
stdout as JSON and the tables to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from _bench_common import PG_ADMIN_URL, percentile, postgres_version, scratch_dir
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from orchestrator.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
RPA = Path(sys.executable).with_name("rpa")
PASSWORD = "a long bench password"
CHUNK = 10_000                 # items per store.enqueue call while filling
OPEN_EVERY = 100               # one item in OPEN_EVERY stays open (1 %)
WARMUP = 10                    # sequential requests before the measured ones
BULK_SIZE = 1_000              # items per bulk enqueue request
CLIENTS = 50                   # concurrent pollers
START_SECONDS = 120.0          # `rpa web` must answer /api/v1/health by then
POLL_SECONDS = 180.0           # the whole 50-client run, warm-up included
IDLE_SECONDS = 1.1             # longer than the overview cache's 1 s (OverviewCache.ttl)
PAGE_TARGET_MS = 200.0
POLL_TARGET_MS = 300.0
BULK_TARGET = 5_000.0
ENGINES = ("sqlite", "postgres")
# A year of finished work in one statement: the bench's shortcut (see the docstring).
# CAST, so that PostgreSQL adds a double to a double (created_at is DOUBLE PRECISION).
FINISH_SQL = (f"UPDATE work_items SET status = 'done', attempts = 1, "
              f"finished_at = created_at + 1 + CAST(id % 50 AS DOUBLE PRECISION) / 10, "
              f"updated_at = created_at + 1 + CAST(id % 50 AS DOUBLE PRECISION) / 10 "
              f"WHERE id % {OPEN_EVERY} <> 0")

progress_console = Console(stderr=True, highlight=False)


class BenchError(Exception):
    """A request that did not answer as it must (status, body, time limit)."""


@dataclass(frozen=True)
class Sizes:
    """How much one run does."""

    items: int
    sequential: int
    after_idle: int
    bulk_requests: int
    poll_each: int


@dataclass
class Row:
    """One line of an engine's table: a figure, and the issue's target if it has one."""

    what: str
    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    n: int = 0
    target: str = ""
    checked: str = ""          # the figure held against the target, as text
    met: bool | None = None    # None: no target (a baseline or a detail)
    error: str | None = None


@dataclass
class EngineResult:
    engine: str
    setup: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


# -- the database ------------------------------------------------------------------------
@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database `rpa_web_bench_<pid>`; yields the store's URL; dropped at the end."""
    name = f"rpa_web_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        # a run killed with SIGKILL under a pid now reused would have left it behind
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_items(process: str, start: int, count: int) -> list[Any]:
    from queues import NewItem

    if process == "invoice-approval":
        return [NewItem(f"INV-{n:07d}", {"invoice_number": f"INV-2026-{n:07d}"})
                for n in range(start, start + count)]
    return [NewItem(f"APP-{n:07d}", {"full_name": f"Søker {n}", "national_id": f"{n:011d}",
                                     "email": f"soker{n}@example.no",
                                     "position": "Rådgiver"})
            for n in range(start, start + count)]


def build(settings: Settings, items: int, engine: str, facts: dict[str, Any]) -> str:
    """Migrate, register, add an admin and a token, fill, finish 99 %; the API token.

    What it did and how long it took goes into `facts`, as it goes.
    """
    from orchestrator.db import open_sql_store, upgrade
    from orchestrator.private_files import make_private_dir
    from orchestrator.secrets import ensure_key_file
    from orchestrator.services import accounts
    from orchestrator.services.access import cli_principal
    from orchestrator.services.processes import register

    facts["items"] = items
    make_private_dir(settings.data_dir)
    upgrade(settings.db_url)
    ensure_key_file(settings)
    store = open_sql_store(settings, writer="bench")
    try:
        admin = cli_principal("user:bench")
        register(store, admin, sorted((REPO / "config" / "processes").glob("*.yaml")))
        accounts.add_account(store, admin, "bench", "admin", password=PASSWORD)
        token, _ = accounts.create_token(store, admin, "bench", label="web bench",
                                         expires_in=86_400)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn())
        started = time.perf_counter()
        with Progress(*columns, console=progress_console) as bar:
            task = bar.add_task(f"{engine}: enqueue", total=items)
            for number, start in enumerate(range(0, items, CHUNK)):
                count = min(CHUNK, items - start)
                process = "invoice-approval" if number % 2 == 0 else "applicant-registration"
                result = store.enqueue(process, new_items(process, start, count),
                                       actor="bench")
                if len(result.added) != count:
                    raise BenchError(f"enqueue added {len(result.added)} of {count}")
                bar.advance(task, count)
        facts["enqueue_seconds"] = time.perf_counter() - started
        engine_: sa.Engine = store.engine
        started = time.perf_counter()
        with engine_.begin() as conn:
            facts["finished"] = conn.execute(sa.text(FINISH_SQL)).rowcount
        facts["finish_update_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        with engine_.connect() as conn:
            if engine_.dialect.name == "postgresql":
                auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                auto.exec_driver_sql("VACUUM (ANALYZE) work_items")
                auto.exec_driver_sql("ANALYZE")
                facts["statistics"] = "VACUUM (ANALYZE)"
                facts["database_mb"] = conn.exec_driver_sql(
                    "SELECT pg_database_size(current_database())").scalar_one() / 2**20
            else:
                conn.exec_driver_sql("PRAGMA optimize")
                conn.commit()
                has_stats = conn.exec_driver_sql(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
                ).scalar_one()
                analyzed = sorted(row[0] for row in conn.exec_driver_sql(
                    "SELECT DISTINCT tbl FROM sqlite_stat1")) if has_stats else []
                among = "work_items among them" if "work_items" in analyzed else \
                    "not work_items"
                facts["statistics"] = (f"PRAGMA optimize (statistics of {len(analyzed)} "
                                       f"tables, {among})")
        facts["statistics_seconds"] = time.perf_counter() - started
    finally:
        store.close()  # the last connection: SQLite checkpoints the WAL into the file
    if engine_.dialect.name == "sqlite":
        facts["database_mb"] = (settings.data_dir / "rpa.db").stat().st_size / 2**20
    return token


# -- the server --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env["RPA_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["RPA_DATABASE_URL"] = settings.database_url
    # The session cookie is Secure by default, and httpx keeps a Secure cookie from going
    # to http://127.0.0.1: off here, as the bench measures speed, not cookie flags.
    env["RPA_WEB_SECURE_COOKIES"] = "false"
    return env


@contextmanager
def web_server(env: dict[str, str], root: Path) -> Iterator[str]:
    """`rpa web` on a free port, logging to root/web.log; stopped (killed if need be)."""
    port = free_port()
    log_path = root / "web.log"
    with log_path.open("wb") as log:
        # a session of its own: a Ctrl-C reaches the bench, which then stops the server
        proc = subprocess.Popen([str(RPA), "web", "--port", str(port)], env=env, cwd=root,
                                stdout=log, stderr=log, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(base + "/api/v1/health", timeout=2,
                             trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"`rpa web` did not come up: {tail}")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def logged_in(base: str) -> httpx.Client:
    """A client with a console session, got through the login form as a browser does."""
    client = httpx.Client(base_url=base, timeout=60, trust_env=False,
                          headers={"accept": "text/html"})
    try:
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or csrf is None or "rpa_login" not in client.cookies:
            raise BenchError(f"GET /login: {form.status_code}, no csrf field or rpa_login "
                             "cookie")
        done = client.post("/login", data={"name": "bench", "password": PASSWORD,
                                           "csrf": csrf.group(1)})
        if done.status_code != 303 or "rpa_session" not in client.cookies:
            raise BenchError(f"POST /login: {done.status_code} {done.text[:300]}")
    except BaseException:
        client.close()
        raise
    return client


# -- measuring ---------------------------------------------------------------------------
def server_ms(response: httpx.Response) -> float:
    found = re.fullmatch(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    if found is None:
        raise BenchError(f"{response.request.url.path}: no server-timing header")
    return float(found.group(1))


def checked(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise BenchError(f"{response.request.method} {response.request.url.path}: "
                         f"{response.status_code} {response.text[:300]}")
    return response


def spread(values: list[float]) -> dict[str, Any]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values), "n": len(values)}


def latency_rows(what: str, server: list[float], client: list[float],
                 server_target: float | None = None, client_target: float | None = None
                 ) -> list[Row]:
    rows = []
    for side, values, target in (("server", server, server_target),
                                 ("client", client, client_target)):
        row = Row(f"{what}, {side}", **spread(values))
        if target is not None:
            assert row.p95 is not None
            row.target = f"p95 < {target:.0f} ms"
            row.checked = f"{row.p95:.1f} ms"
            row.met = row.p95 < target
        rows.append(row)
    return rows


def sequential(client: httpx.Client, path: str, n: int) -> tuple[list[float], list[float]]:
    """Server and client milliseconds of `n` requests one after the other, after WARMUP."""
    for _ in range(WARMUP):
        checked(client.get(path))
    server, seen = [], []
    for _ in range(n):
        started = time.perf_counter()
        answer = client.get(path)
        seen.append((time.perf_counter() - started) * 1000)
        server.append(server_ms(checked(answer)))
    return server, seen


def after_idle(client: httpx.Client, path: str, n: int) -> tuple[list[float], list[float]]:
    """Like `sequential`, but each request after IDLE_SECONDS of quiet: a cache miss each."""
    server, seen = [], []
    for _ in range(n):
        time.sleep(IDLE_SECONDS)
        started = time.perf_counter()
        answer = client.get(path)
        seen.append((time.perf_counter() - started) * 1000)
        server.append(server_ms(checked(answer)))
    return server, seen


def timed_rows(what: str, target: float | None,
               take: Callable[[httpx.Client, str, int], tuple[list[float], list[float]]],
               client: httpx.Client, path: str, n: int) -> list[Row]:
    """The rows of `take` (sequential, after_idle), the target on the server's p95."""
    return latency_rows(what, *take(client, path, n), server_target=target)


def bulk_enqueue(client: httpx.Client, engine: str, requests: int) -> list[Row]:
    """`requests` POSTs of BULK_SIZE new items, one after the other; items/s over wall time."""
    bodies = [json.dumps({"items": [
        {"reference": f"WEB-{engine}-{r:03d}-{i:04d}",
         "payload": {"invoice_number": f"INV-2027-{r * BULK_SIZE + i:06d}"}}
        for i in range(BULK_SIZE)]}).encode() for r in range(requests)]
    path = "/api/v1/processes/invoice-approval/items"
    server, seen = [], []
    started = time.perf_counter()
    for body in bodies:
        sent = time.perf_counter()
        answer = checked(client.post(path, content=body,
                                     headers={"content-type": "application/json"}))
        seen.append((time.perf_counter() - sent) * 1000)
        server.append(server_ms(answer))
        added = answer.json().get("added")
        if added != BULK_SIZE:
            raise BenchError(f"POST {path}: added {added}, not {BULK_SIZE}")
    wall = time.perf_counter() - started
    rate = requests * BULK_SIZE / wall
    rows = latency_rows(f"POST {BULK_SIZE:,} items (per request)", server, seen)
    rows.append(Row(f"bulk enqueue: {requests} x {BULK_SIZE:,} items in {wall:.2f} s",
                    n=requests, target=f">= {BULK_TARGET:,.0f} items/s",
                    checked=f"{rate:,.0f} items/s", met=rate >= BULK_TARGET))
    return rows


async def _poll(base: str, path: str, headers: dict[str, str], clients: int, each: int
                ) -> tuple[list[float], list[float], float, float]:
    """Server ms, client ms, wall seconds and the bench process's CPU seconds."""
    pool = [httpx.AsyncClient(base_url=base, headers=headers, timeout=60, trust_env=False)
            for _ in range(clients)]
    server: list[float] = []
    seen: list[float] = []

    async def poller(client: httpx.AsyncClient) -> None:
        for _ in range(each):
            started = time.perf_counter()
            answer = await client.get(path)
            seen.append((time.perf_counter() - started) * 1000)
            server.append(server_ms(checked(answer)))

    try:
        # one request each to connect (and warm the server), all before the clock starts
        for answer in await asyncio.gather(*(c.get(path) for c in pool)):
            checked(answer)
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(poller(c) for c in pool))
        return server, seen, time.perf_counter() - started, time.process_time() - cpu
    finally:
        await asyncio.gather(*(c.aclose() for c in pool), return_exceptions=True)


def poll(base: str, path: str, headers: dict[str, str], each: int, what: str,
         target: float | None) -> list[Row]:
    """CLIENTS pollers at once, `each` requests each; the whole run bounded in time."""
    try:
        server, seen, wall, cpu = asyncio.run(asyncio.wait_for(
            _poll(base, path, headers, CLIENTS, each), POLL_SECONDS))
    except TimeoutError as err:
        raise BenchError(f"{CLIENTS} clients on {path}: not done in {POLL_SECONDS:.0f} s"
                         ) from err
    rows = latency_rows(what, server, seen, client_target=target)
    rows.append(Row(f"{what}: {len(seen) / wall:,.0f} requests/s; the clients used "
                    f"{cpu / wall:.2f} cores", n=len(seen)))
    return rows


def attempt(result: EngineResult, what: str, step: Callable[[], list[Row]],
            target: str = "") -> None:
    """Run one measurement; a failure becomes a FAIL row, and the next one still runs."""
    try:
        result.rows += step()
    except (BenchError, httpx.HTTPError) as err:
        result.rows.append(Row(what, target=target, met=False if target else None,
                               error=f"{type(err).__name__}: {err}"[:400]))


def measure(engine: str, sizes: Sizes, facts: dict[str, Any]) -> EngineResult:
    result = EngineResult(engine, facts)
    with ExitStack() as stack:
        root = stack.enter_context(scratch_dir(f"rpa-web-bench-{engine}-"))
        url = stack.enter_context(postgres_database()) if engine == "postgres" else None
        settings = load_settings(data_dir=root / "data", database_url=url)
        token = build(settings, sizes.items, engine, result.setup)
        result.setup["load_before"] = os.getloadavg()
        base = stack.enter_context(web_server(child_env(settings), root))
        page = logged_in(base)
        stack.callback(page.close)
        api = stack.enter_context(httpx.Client(
            base_url=base, timeout=120, trust_env=False,
            headers={"authorization": f"Bearer {token}"}))
        n = sizes.sequential
        for what, client, path, target in (
                ("GET /api/v1/health (baseline)", api, "/api/v1/health", None),
                ("GET / (overview page)", page, "/", PAGE_TARGET_MS),
                ("GET /items (items page)", page, "/items", PAGE_TARGET_MS),
                ("GET /api/v1/status", api, "/api/v1/status", PAGE_TARGET_MS)):
            attempt(result, what, partial(timed_rows, what, target, sequential, client, path, n),
                    f"p95 < {target:.0f} ms" if target else "")
        for what, client, path in (("GET / (overview page)", page, "/"),
                                   ("GET /api/v1/status", api, "/api/v1/status")):
            what = f"{what} after {IDLE_SECONDS} s idle (overview cache expired)"
            attempt(result, what, partial(timed_rows, what, PAGE_TARGET_MS, after_idle, client,
                                          path, sizes.after_idle),
                    f"p95 < {PAGE_TARGET_MS:.0f} ms")
        attempt(result, "bulk enqueue",
                lambda: bulk_enqueue(api, engine, sizes.bulk_requests),
                f">= {BULK_TARGET:,.0f} items/s")
        bearer = {"authorization": f"Bearer {token}"}
        each = sizes.poll_each
        attempt(result, f"{CLIENTS} clients polling /api/v1/health",
                lambda: poll(base, "/api/v1/health", {}, each,
                             f"{CLIENTS} clients x {each} GET /api/v1/health (baseline)", None))
        attempt(result, f"{CLIENTS} clients polling /api/v1/status",
                lambda: poll(base, "/api/v1/status", bearer, each,
                             f"{CLIENTS} clients x {each} GET /api/v1/status",
                             POLL_TARGET_MS),
                f"p95 < {POLL_TARGET_MS:.0f} ms")
        result.setup["load_after"] = os.getloadavg()
    return result


# -- showing -----------------------------------------------------------------------------
def ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def verdict(met: bool | None) -> str:
    return {True: "[green]PASS[/]", False: "[bold red]FAIL[/]", None: "-"}[met]


def engine_table(result: EngineResult) -> Table:
    s = result.setup
    title = f"{result.engine}: {s.get('items', 0):,} items"
    if "finished" in s:
        title += f", {s['finished']:,} of them marked done"
    if "database_mb" in s:
        title += f", {s['database_mb']:,.0f} MB"
    notes = []
    if "enqueue_seconds" in s:
        rate = s["items"] / s["enqueue_seconds"]
        notes.append(f"filled in {s['enqueue_seconds']:.0f} s ({rate:,.0f} items/s through "
                     "store.enqueue)")
    if "finish_update_seconds" in s:
        notes.append(f"the UPDATE in {s['finish_update_seconds']:.0f} s")
    if "statistics" in s:
        notes.append(f"{s['statistics']} in {s['statistics_seconds']:.0f} s")
    if "load_before" in s:
        after = s.get("load_after", (float("nan"),))[0]
        notes.append(f"load average {s['load_before'][0]:.2f} before the requests, "
                     f"{after:.2f} after")
    caption = "; ".join(notes)
    table = Table(title=title, caption=caption, title_justify="left",
                  caption_justify="left")
    for name in ("engine", "what", "p50 ms", "p95 ms", "max ms", "n", "target", "measured",
                 "verdict"):
        table.add_column(name, justify="right" if name.endswith(("ms", "n")) else "left",
                         overflow="fold")
    if result.error:
        table.add_row(result.engine, "[bold red]the run stopped[/]", "", "", "", "", "", "",
                      "[bold red]FAIL[/]")
        table.add_row("", escape(result.error), "", "", "", "", "", "", "")
    for row in result.rows:
        what = escape(row.what) if row.error is None else \
            f"{escape(row.what)}: [red]{escape(row.error)}[/]"
        table.add_row(result.engine, what, ms(row.p50), ms(row.p95), ms(row.max),
                      str(row.n or ""), row.target, row.checked, verdict(row.met))
    return table


def summary(results: list[EngineResult]) -> tuple[Table, list[str]]:
    table = Table(title="Summary: the issue's targets", title_justify="left")
    for name in ("engine", "target", "measured", "verdict"):
        table.add_column(name)
    missed = []
    for result in results:
        if result.error:
            table.add_row(result.engine, "the whole run", escape(result.error[:120]),
                          "[bold red]FAIL[/]")
            missed.append(f"{result.engine}: the run stopped")
        for row in result.rows:
            if row.met is None:
                continue
            table.add_row(result.engine, f"{row.what.split(':')[0].split(',')[0]}: "
                          f"{row.target}", escape(row.checked or (row.error or "")[:120]),
                          verdict(row.met))
            if not row.met:
                missed.append(f"{result.engine}: {row.what} ({row.target}): "
                              f"{row.checked or row.error}")
    return table, missed


def environment() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgres": postgres_version(),
            "httpx": httpx.__version__}


def as_json(results: list[EngineResult], env: dict[str, Any], sizes: Sizes,
            seconds: float) -> str:
    return json.dumps({"environment": env, "sizes": asdict(sizes), "seconds": seconds,
                       "results": [asdict(r) for r in results]}, indent=2)


# -- command line ------------------------------------------------------------------------
def parse(argv: list[str] | None) -> tuple[Sizes, tuple[str, ...], bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=None,
                        help="items in the database (default 1,000,000; --quick 50,000)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="sqlite, postgres or both (default: sqlite,postgres)")
    parser.add_argument("--quick", action="store_true",
                        help="50,000 items, 50 sequential requests, 5 after idling, "
                             "5 bulk requests, 5 polls per client")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the tables go to stderr)")
    args = parser.parse_args(argv)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(engines) - set(ENGINES)
    if unknown or not engines:
        parser.error(f"--engines: one or both of {', '.join(ENGINES)}")
    items = args.items if args.items is not None else (50_000 if args.quick else 1_000_000)
    if items < OPEN_EVERY:
        parser.error(f"--items: at least {OPEN_EVERY}")
    sizes = Sizes(items, 50, 5, 5, 5) if args.quick else Sizes(items, 200, 20, 20, 20)
    return sizes, engines, args.json


def stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the server stops, scratch goes


def main(argv: list[str] | None = None) -> int:
    sizes, engines, want_json = parse(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    # the settings of this process are the bench's own, like the server's environment
    for name in [k for k in os.environ if k.startswith("RPA_") and k != "RPA_TEST_POSTGRES_URL"]:
        del os.environ[name]
    out = Console(stderr=want_json, highlight=False, width=200)
    env = environment()
    out.print(f"{env['cores']} cores, Python {env['python']}, SQLite {env['sqlite']}, "
              f"PostgreSQL {env['postgres'] or 'not answering'}, httpx {env['httpx']}")
    started = time.perf_counter()
    results = []
    for engine in engines:
        if engine == "postgres" and env["postgres"] is None:
            out.print(f"PostgreSQL does not answer at {sa.make_url(PG_ADMIN_URL)!r}: skipped")
            continue
        facts: dict[str, Any] = {}
        try:
            result = measure(engine, sizes, facts)
        except (KeyboardInterrupt, SystemExit):
            out.print("interrupted: the server is stopped and the scratch data removed")
            raise
        except Exception as err:  # the other engine still runs; the table says what broke
            traceback.print_exc()
            result = EngineResult(engine, facts, error=f"{type(err).__name__}: {err}"[:1500])
        out.print(engine_table(result))
        results.append(result)
    seconds = time.perf_counter() - started
    table, missed = summary(results)
    out.print(table)
    if missed:
        out.print(f"[bold red]FAIL: {len(missed)} target(s) missed[/]")
        for line in missed:
            out.print(f"  - {line}", markup=False)
    else:
        out.print("[green]PASS: every target met[/]")
    out.print(f"the bench took {seconds:.0f} s")
    if want_json:
        print(as_json(results, env, sizes, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
