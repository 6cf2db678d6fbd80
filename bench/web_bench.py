"""The console and the REST API on a database of a million items: are they still quick?

For each engine (a SQLite file; PostgreSQL when it answers) the bench builds a
fresh database with the two bundled processes, sealed payloads (a key file, as
in production) and N items (default 1,000,000), then marks all but about 1 %
of them finished with one UPDATE, so the database looks like one that has run
for a year. That UPDATE is the bench's shortcut: it measures read paths, and
claiming a million items one by one would take the run's whole time. Then it
starts `rpa web` as a subprocess and measures, from outside:

* `GET /` (the overview page), `GET /items` (the items page) and
  `GET /api/v1/status`: 200 requests each after 10 to warm up; p50 and p95 of
  the server's own time (the `Server-Timing` header the app sets) and of the
  time the client saw. Target: p95 server time under 200 ms.
* bulk enqueue over the API: 20 requests of 1,000 new items each. Target:
  5,000 items/s.
* 50 clients polling `GET /api/v1/status` at once, 20 requests each. Target:
  p95 under 300 ms as the clients see it.

The baseline, in the same run and measured the same way, is `GET
/api/v1/health`: no database work, so it is what HTTP, the framework and the
middleware cost on this machine.

    python bench/web_bench.py [--items 1000000] [--engines sqlite,postgres] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    percentile,
    postgres_version,
    scratch_dir,
    scratch_postgres,
    sqlalchemy_url,
)

REPO = Path(__file__).resolve().parents[1]
RPA = Path(sys.executable).with_name("rpa")
PASSWORD = "bench password, long enough"
CHUNK = 10_000
console = Console()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(settings: Any, items: int) -> str:
    """Migrate, register, add an admin and a token, enqueue `items`, finish ~99 %."""
    from orchestrator.db import open_sql_store, upgrade
    from orchestrator.private_files import make_private_dir
    from orchestrator.secrets import ensure_key_file
    from orchestrator.services import accounts
    from orchestrator.services.access import cli_principal
    from orchestrator.services.processes import register
    from queues import NewItem

    make_private_dir(settings.data_dir)
    upgrade(settings.db_url)
    ensure_key_file(settings)
    store = open_sql_store(settings, writer="bench")
    admin = cli_principal("os:bench")
    register(store, admin, sorted((REPO / "config" / "processes").glob("*.yaml")))
    accounts.add_account(store, admin, "admin", "admin", password=PASSWORD)
    token, _ = accounts.create_token(store, admin, "admin", expires_in=86400)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"adding {items:,} items", total=items)
        for start in range(0, items, CHUNK):
            n = min(CHUNK, items - start)
            if (start // CHUNK) % 2:
                batch = [NewItem(f"APP-{start + i}", {
                    "full_name": "Kari Nordmann", "national_id": f"{start + i:011d}",
                    "email": "kari@example.no", "position": "Konsulent"}) for i in range(n)]
                store.enqueue("applicant-registration", batch, actor="bench")
            else:
                batch = [NewItem(f"INV-{start + i}",
                                 {"invoice_number": f"INV-2026-{start + i:06d}"})
                         for i in range(n)]
                store.enqueue("invoice-approval", batch, actor="bench")
            bar.advance(task, n)
    engine: sa.Engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        # the bench's shortcut (see the docstring): a year of finished work in one statement
        conn.execute(sa.text(
            "UPDATE work_items SET status = 'done', attempts = 1, "
            "finished_at = created_at + (id % 86400), updated_at = created_at + (id % 86400) "
            "- 365 * 86400 + (id % (365 * 86400)) WHERE id % 100 <> 0"))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
        else:
            conn.execute(sa.text("PRAGMA optimize"))
            conn.commit()
    store.close()
    return token


@contextmanager
def web_server(env: dict[str, str], root: Path) -> Iterator[str]:
    port = free_port()
    log = (root / "web.log").open("wb")
    proc = subprocess.Popen([str(RPA), "web", "--port", str(port)], env=env, stdout=log,
                            stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((root / "web.log").read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def session_client(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    done = client.post("/login", data={"name": "admin", "password": PASSWORD,
                                       "csrf": csrf.group(1)})
    assert "rpa_session" in client.cookies, done.text[:300]
    return client


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) if found else float("nan")


def timed(client: httpx.Client, path: str, n: int, headers: dict[str, str]
          ) -> dict[str, float]:
    for _ in range(10):
        client.get(path, headers=headers)
    server, seen = [], []
    for _ in range(n):
        started = time.perf_counter()
        answer = client.get(path, headers=headers)
        seen.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        server.append(server_ms(answer))
    return {"server_p50": percentile(server, 50), "server_p95": percentile(server, 95),
            "client_p50": percentile(seen, 50), "client_p95": percentile(seen, 95)}


def bulk_enqueue(url: str, token: str, requests: int) -> float:
    headers = {"authorization": f"Bearer {token}"}
    bodies = [{"items": [{"reference": f"API-{r}-{i}",
                          "payload": {"invoice_number": f"INV-2027-{r * 1000 + i:06d}"}}
                         for i in range(1000)]} for r in range(requests)]
    with httpx.Client(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        for body in bodies:
            answer = client.post("/api/v1/processes/invoice-approval/items", json=body,
                                 headers=headers)
            assert answer.status_code == 200 and answer.json()["added"] == 1000, answer.text
        return requests * 1000 / (time.perf_counter() - started)


async def _poller(port: int, request: bytes, each: int, seen: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(each):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            seen.append((time.perf_counter() - started) * 1000)
    finally:
        writer.close()


async def poll(url: str, token: str, clients: int, each: int) -> dict[str, float]:
    """`clients` keep-alive connections, each asking for the status `each` times.

    A bare HTTP/1.1 client on asyncio streams, not httpx: on this 2-core machine
    httpx's async client topped out near 200 requests a second against an empty
    Starlette app, so it measured itself; this one reaches about 6,000 there.
    """
    port = int(url.rsplit(":", 1)[1])
    request = (f"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    seen: list[float] = []
    await asyncio.wait_for(asyncio.gather(*(_poller(port, request, each, seen)
                                            for _ in range(clients))), timeout=300)
    return {"client_p50": percentile(seen, 50), "client_p95": percentile(seen, 95)}


def measure(engine: str, items: int, quick: bool) -> dict[str, Any]:
    from orchestrator.settings import load_settings

    with ExitStack() as stack:
        root = stack.enter_context(scratch_dir())
        url = None
        if engine == "postgres":
            url = sqlalchemy_url(stack.enter_context(scratch_postgres("rpa_web_bench")))
        settings = load_settings(data_dir=root / "data", database_url=url)
        started = time.perf_counter()
        token = fill(settings, items)
        filled = time.perf_counter() - started
        env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
        env |= {"RPA_DATA_DIR": str(settings.data_dir),
                # httpx keeps a Secure cookie from going over http://127.0.0.1; the bench
                # measures speed, not cookie flags
                "RPA_WEB_SECURE_COOKIES": "false"}
        if url:
            env["RPA_DATABASE_URL"] = url
        base = stack.enter_context(web_server(env, root))
        client = session_client(base)
        stack.callback(client.close)
        api = {"authorization": f"Bearer {token}"}
        n = 50 if quick else 200
        out: dict[str, Any] = {"engine": engine, "items": items, "fill_seconds": filled}
        out["health"] = timed(client, "/api/v1/health", n, {})
        out["overview"] = timed(client, "/", n, {"accept": "text/html"})
        out["items_page"] = timed(client, "/items", n, {"accept": "text/html"})
        out["status"] = timed(client, "/api/v1/status", n, api)
        out["bulk_items_per_s"] = bulk_enqueue(base, token, 5 if quick else 20)
        out["poll50"] = asyncio.run(poll(base, token, 50, 5 if quick else 20))
        return out


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['engine']}: {result['items']:,} items "
                        f"(filled in {result['fill_seconds']:.0f} s)", title_justify="left")
    for column in ("what", "p50 ms", "p95 ms", "target", "verdict"):
        table.add_column(column, justify="left" if column in ("what", "verdict") else "right")

    def row(what: str, figures: dict[str, float], key: str, target: float | None) -> None:
        p95 = figures[f"{key}_p95"]
        verdict = "-" if target is None else ("PASS" if p95 < target else "[red]FAIL[/]")
        table.add_row(what, f"{figures[f'{key}_p50']:.1f}", f"{p95:.1f}",
                      "-" if target is None else f"< {target:.0f}", verdict)

    for name, label in (("health", "GET /api/v1/health (baseline)"), ("overview", "GET /"),
                        ("items_page", "GET /items"), ("status", "GET /api/v1/status")):
        row(f"{label}, server", result[name], "server", None if name == "health" else 200)
        row(f"{label}, client", result[name], "client", None)
    row("50 clients polling status, client", result["poll50"], "client", 300)
    rate = result["bulk_items_per_s"]
    table.add_row("bulk enqueue over the API, items/s", f"{rate:,.0f}", "", ">= 5,000",
                  "PASS" if rate >= 5000 else "[red]FAIL[/]")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="50,000 items, fewer requests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    items = args.items or (50_000 if args.quick else 1_000_000)
    results = []
    for engine in args.engines.split(","):
        if engine == "postgres" and postgres_version() is None:
            console.print("PostgreSQL does not answer: skipped")
            continue
        result = measure(engine, items, args.quick)
        show(result)
        results.append(result)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
