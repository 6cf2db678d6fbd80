"""How much does the orchestrator cost per item, over a bare Playwright script?

(a) "bare": the invoice bot's own `login` and `handle`, called in a plain loop in
    one warm browser: no queue, no audit, no logging, no heartbeats. This is the
    baseline, measured in the same run.
(b) `rpa worker` on a SQLite file with 1, 2 and 4 slots, same items, same bot.

Both do the same work on the same kind of item (invoices the portal expects to
be approved), each against a fresh portal running in its own process (as a real
target would; in-process it would share our GIL). Rates are measured from the
first finished item to the last, so browser start-up and login are left out of
both. The runs are interleaved over several rounds and the median is shown,
since one run to the next moves by 10 % here. The worker runs with each trace
mode: `off` isolates the orchestrator's own cost (queue, audit, logging,
heartbeats), `light` is the default, `full` the trace with DOM snapshots.

The CPU column is how busy both cores were during the run: the browser does
most of the work, and once the CPU is saturated more slots cannot help.

Then a memory run: the `noop` bot over many items, the worker's and the
browser's resident memory sampled as it goes (contexts must be recycled, not
piled up).

    .venv/bin/python bench/bot_bench.py            # 100 items x 3 rounds, memory over 5,000
    .venv/bin/python bench/bot_bench.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import async_playwright
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bots import BotContext, BusinessRuleError, Credential
from bots._registry import BUILTIN
from bots.builtin.invoice_approval import InvoiceApprovalBot
from orchestrator import db
from orchestrator.credentials import CredentialVault
from orchestrator.process_config import ProcessConfig
from orchestrator.secrets import ensure_key_file
from orchestrator.settings import load_settings
from orchestrator.worker.browser import CHROMIUM_ARGS, find_browser
from orchestrator.worker.loop import WorkerOptions
from orchestrator.worker.run import run_worker
from queues import NewItem
from targets.invoice_portal.data import expected_outcomes

console = Console()
SEED = 2026
HANDLES: list[tuple[float, float]] = []  # (start, end) of every `handle` in the current run


class TimedInvoiceBot(InvoiceApprovalBot):
    """The invoice bot, stamping when each `handle` starts and ends.

    At one slot, the time from one handle's end to the next one's start is
    everything around the bot: in the bare loop almost nothing, in the worker
    the claim, the outcome's transaction, the log line, the dispatch. That gap
    is the orchestrator's overhead per item, measured directly instead of as a
    difference of two noisy rates.
    """

    name = "bench-invoice"

    async def handle(self, item: Any, page: Any, ctx: BotContext) -> Any:
        started = time.perf_counter()
        try:
            return await super().handle(item, page, ctx)
        finally:
            HANDLES.append((started, time.perf_counter()))


def gap_ms() -> float:
    """Median ms between one handle's end and the next one's start (one slot)."""
    spans = sorted(HANDLES)
    gaps = [(b[0] - a[1]) * 1000 for a, b in itertools.pairwise(spans)]
    return statistics.median(gaps) if gaps else float("nan")


def approvable(count: int) -> list[str]:
    """Invoice numbers the portal expects to be approved, from a pool large enough."""
    pool = expected_outcomes(SEED, max(300, count * 2))
    numbers = [n for n, outcome in pool.items() if outcome == "approve"]
    if len(numbers) < count:
        raise SystemExit(f"only {len(numbers)} approvable invoices; ask for fewer")
    return numbers[:count]


async def bare_run(numbers: list[str], pool_size: int) -> dict[str, float]:
    """Items per second of the bot's own steps in a plain loop."""
    bot_cls = TimedInvoiceBot
    bot = bot_cls()
    HANDLES.clear()
    with portal_process(pool_size) as url:
        ctx = BotContext(log=_NullLog(), config={"base_url": url},
                         credentials=lambda _n: Credential("approver", "approver-pass"),
                         evidence=lambda _n, _d: Path(os.devnull))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=find_browser(),
                                               args=CHROMIUM_ARGS)
            page = await (await browser.new_context()).new_page()
            await bot.login(page, ctx)
            clock = RunClock()
            for number in numbers:
                item = bot_cls.Input.model_validate({"invoice_number": number})
                with contextlib.suppress(BusinessRuleError):
                    await bot.handle(item, page, ctx)
                clock.tick()
            await browser.close()
        await ctx.aclose()
    return {**clock.result(), "gap_ms": gap_ms()}


class RunClock:
    """Stamps finished items; the rate and CPU use from the first to the last."""

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[float, tuple[int, int], float] | None = None
        self.last: tuple[float, tuple[int, int], float] | None = None

    def tick(self) -> None:
        self.count += 1
        mark = (time.perf_counter(), cpu_jiffies(), time.process_time())
        if self.first is None:
            self.first = mark
        self.last = mark

    def result(self) -> dict[str, float]:
        """Items/s, both cores' busy share, and this Python process's CPU ms per item
        (the bot's driving in both runs; plus queue, audit, logs, heartbeats in the worker's)."""
        assert self.first is not None and self.last is not None and self.count > 1
        (t0, (busy0, total0), p0), (t1, (busy1, total1), p1) = self.first, self.last
        return {"rate": (self.count - 1) / (t1 - t0),
                "cpu": 100.0 * (busy1 - busy0) / max(1, total1 - total0),
                "py_ms": 1000.0 * (p1 - p0) / (self.count - 1)}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def portal_process(pool_size: int, latency: float = 0.0) -> Iterator[str]:
    """A fresh invoice portal in its own process (`python -m targets`); yields its URL.

    `latency`: every response waits that long first, like a remote system's would.
    """
    port = free_port()
    slow = ["--slow-share", "1", "--slow-seconds", str(latency)] if latency else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "targets", "invoice", "--port", str(port), "--seed", str(SEED),
         "--count", str(pool_size), *slow], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the invoice portal did not start on port {port}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _NullLog:
    def __getattr__(self, _name: str) -> Any:
        return lambda *a, **k: None


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """The worker's JSON logs still get written (that is part of its cost), just not shown."""
    saved = sys.stderr
    with open(os.devnull, "w") as sink:
        sys.stderr = sink
        try:
            yield
        finally:
            sys.stderr = saved


def worker_run(numbers: list[str], pool_size: int, slots: int, *, bot: str = "bench-invoice",
               trace: str = "light", sample_memory: bool = False, latency: float = 0.0
               ) -> dict[str, Any]:
    """Items per second of `rpa worker` over the same items; optional memory samples."""
    from orchestrator.logs import configure
    with tempfile.TemporaryDirectory() as tmp, portal_process(pool_size, latency) as url:
        settings = load_settings(data_dir=Path(tmp))
        db.upgrade(settings.db_url)
        ensure_key_file(settings)
        store = db.open_sql_store(settings, writer="bench")
        cfg = ProcessConfig(name="bench", owner="Bench", cost_centre="0", bot=bot,
                            manual_minutes_per_item=5, concurrency=slots,
                            bot_config={"base_url": url, "credential": "portal"})
        store.upsert_process(cfg.to_spec(), actor="user:bench")
        CredentialVault(store, settings, actor="user:bench").set("portal", "approver",
                                                                 "approver-pass")
        store.enqueue("bench", [NewItem(n, {"invoice_number": n}) for n in numbers],
                      actor="user:bench")
        clock = RunClock()
        HANDLES.clear()
        memory: list[tuple[int, int, int]] = []

        def on_outcome(_item: Any, _outcome: Any) -> None:
            clock.tick()
            if sample_memory and clock.count % 500 == 0:
                memory.append((clock.count, rss_kib(os.getpid()), browser_rss_kib()))

        with quiet_stderr():
            configure("json")  # the logs are written (part of the cost), just not shown
            report = asyncio.run(run_worker(store, settings, WorkerOptions(
                processes=["bench"], slots=slots, until_empty=True, install_signals=False,
                trace=trace, idle_wait=0.2), on_outcome))  # type: ignore[arg-type]
        store.close()
    return {**clock.result(), "gap_ms": gap_ms(), "done": report.done, "business": report.business,
            "errors": report.application, "memory": memory}


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def browser_rss_kib() -> int:
    """Resident memory of every chromium process under this one."""
    total, me = 0, os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if b"chrom" in cmd and _descends_from(int(proc.name), me):
            total += next((int(x.split()[1]) for x in status.splitlines()
                           if x.startswith("VmRSS:")), 0)
    return total


def _descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(10):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if ppid == ancestor:
            return True
        if ppid <= 1:
            return False
        pid = ppid
    return False


RUNS: dict[str, tuple[str, int, str]] = {
    # key: (label, slots, trace mode)
    "worker_1_off": ("worker, 1 slot, trace off", 1, "off"),
    "worker_1_light": ("worker, 1 slot, light", 1, "light"),
    "worker_1_full": ("worker, 1 slot, full", 1, "full"),
    "worker_2_light": ("worker, 2 slots, light", 2, "light"),
    "worker_4_light": ("worker, 4 slots, light", 4, "light"),
}
LATENCY = 0.2  # seconds per response in the slow-target runs
SLOW_RUNS: dict[str, tuple[str, int]] = {
    f"slow_{n}": (f"worker, {n} slot{'s' if n > 1 else ''}, light", n)
    for n in (1, 2, 4)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-items", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="30 items, 1 round, memory over 1,000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    BUILTIN["bench-invoice"] = f"{__name__}:TimedInvoiceBot"  # the worker loads it by name
    if args.quick:
        args.items, args.rounds, args.memory_items = 30, 1, 1000
    numbers = approvable(args.items)
    pool = max(300, args.items * 2)
    samples: dict[str, list[dict[str, Any]]] = {"bare": [], **{k: [] for k in RUNS}}
    results_slow_items = max(10, args.items // 2)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("runs", total=args.rounds * (1 + len(RUNS)) + len(SLOW_RUNS) + 1)
        for round_no in range(1, args.rounds + 1):
            progress.update(task, description=f"round {round_no}: bare Playwright loop")
            samples["bare"].append(asyncio.run(bare_run(numbers, pool)))
            progress.advance(task)
            for key, (label, slots, trace) in RUNS.items():
                progress.update(task, description=f"round {round_no}: {label}")
                samples[key].append(worker_run(numbers, pool, slots, trace=trace))
                progress.advance(task)
        slow_numbers = numbers[:max(10, args.items // 2)]
        for key, (label, slots) in SLOW_RUNS.items():  # one round: the gaps are large
            progress.update(task, description=label)
            samples[key] = [worker_run(slow_numbers, pool, slots, latency=LATENCY)]
            progress.advance(task)
        progress.update(task, description=f"memory: noop bot over {args.memory_items} items")
        memory = worker_run([f"N{i}" for i in range(args.memory_items)], 300, 2,
                            bot="noop", sample_memory=True)["memory"]
        progress.advance(task)
    results: dict[str, Any] = {"items": args.items, "rounds": args.rounds, "memory": memory,
                               "slow_items": results_slow_items}
    for key, runs in samples.items():
        results[key] = {"rate": statistics.median(r["rate"] for r in runs),
                        "cpu": statistics.median(r["cpu"] for r in runs),
                        "py_ms": statistics.median(r["py_ms"] for r in runs),
                        "gap_ms": statistics.median(r["gap_ms"] for r in runs),
                        "rates": [round(r["rate"], 3) for r in runs]}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    show(results)


def show(r: dict[str, Any]) -> None:
    bare = r["bare"]["rate"]
    table = Table(title=f"Invoice bot, {r['items']} approvable invoices, SQLite, median of "
                        f"{r['rounds']} round(s)", title_justify="left")
    for col in ("run", "items/s", "ms/item", "overhead", "gap", "py CPU", "CPU", "≤5 ms"):
        table.add_column(col, justify="right" if col != "run" else "left")
    table.add_row("bare loop", f"{bare:.2f}", f"{1000 / bare:.0f}", "-",
                  f"{r['bare']['gap_ms']:.1f}", f"{r['bare']['py_ms']:.1f}",
                  f"{r['bare']['cpu']:.0f}%", "")
    for key, (label, slots, _trace) in RUNS.items():
        rate = r[key]["rate"]
        overhead = 1000 / rate - 1000 / bare
        extra_py = r[key]["py_ms"] - r["bare"]["py_ms"]
        extra_gap = r[key]["gap_ms"] - r["bare"]["gap_ms"]
        target = ""
        if key == "worker_1_off":
            target = "[green]met[/]" if extra_gap <= 5 else "[red]NOT met[/]"
        table.add_row(label, f"{rate:.2f}", f"{1000 / rate:.0f}",
                      f"{overhead:+.1f}" if slots == 1 else f"{rate / bare:.2f}x",
                      f"{r[key]['gap_ms']:.1f}" if slots == 1 else "",
                      f"{r[key]['py_ms']:.1f} ({extra_py:+.1f})", f"{r[key]['cpu']:.0f}%", target)
    console.print(table)
    console.print("overhead: wall ms per item over the bare loop (1 slot; +-10 ms is noise "
                  "here); with more slots, the rate as a multiple of the bare loop's. gap: "
                  "median ms from one item's handle() ending to the next one's starting, "
                  "i.e. all the orchestrator adds around the bot (the target is judged on "
                  "it, against the bare loop's gap). py CPU: "
                  "this Python process's CPU ms per item (in brackets: over the bare loop's), "
                  "what the orchestrator itself costs. CPU: both cores busy, 100% = saturated.")
    slow = Table(title=f"A slow target: every response +{LATENCY * 1000:.0f} ms, "
                       f"{r['slow_items']} invoices, 1 round", title_justify="left")
    for col in ("run", "items/s", "vs 1 slot", "CPU"):
        slow.add_column(col, justify="right" if col != "run" else "left")
    one = r["slow_1"]["rate"]
    for key, (label, _slots) in SLOW_RUNS.items():
        slow.add_row(label, f"{r[key]['rate']:.2f}", f"{r[key]['rate'] / one:.2f}x",
                     f"{r[key]['cpu']:.0f}%")
    console.print(slow)
    mem = Table(title="Memory over the noop run (KiB resident)", title_justify="left")
    for col in ("items", "worker", "browser"):
        mem.add_column(col, justify="right")
    for n, worker, browser in r["memory"]:
        mem.add_row(str(n), f"{worker:,}", f"{browser:,}")
    console.print(mem)
    if len(r["memory"]) >= 2:
        first, last = r["memory"][0], r["memory"][-1]
        console.print(f"growth from item {first[0]} to {last[0]}: worker "
                      f"{last[1] - first[1]:+,} KiB, browser {last[2] - first[2]:+,} KiB")


if __name__ == "__main__":
    main()
