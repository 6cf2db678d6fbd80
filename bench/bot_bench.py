"""How much does the orchestrator cost per item, over a bare Playwright script?

(a) "bare": the invoice bot's own `login` and `handle`, called in a plain loop in
    one warm browser: no queue, no audit, no logging, no heartbeats. This is the
    baseline, measured in the same run.
(b) `rpa worker` on a SQLite file with 1, 2 and 4 slots, same items, same bot.

Both do the same work on the same kind of item (invoices the portal expects to
be approved), each against a fresh portal. Rates are measured from the first
finished item to the last, so browser start-up and login are left out of both.
Then a memory run: the `noop` bot over many items, the worker's and the
browser's resident memory sampled as it goes (contexts must be recycled, not
piled up).

    .venv/bin/python bench/bot_bench.py            # 150 items, memory over 5,000
    .venv/bin/python bench/bot_bench.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright
from rich.console import Console
from rich.table import Table

from bots import BotContext, BusinessRuleError, Credential, load_bot
from orchestrator import db
from orchestrator.credentials import CredentialVault
from orchestrator.process_config import ProcessConfig
from orchestrator.secrets import ensure_key_file
from orchestrator.settings import load_settings
from orchestrator.worker.browser import CHROMIUM_ARGS, find_browser
from orchestrator.worker.loop import WorkerOptions
from orchestrator.worker.run import run_worker
from queues import NewItem
from targets import start_invoice_portal
from targets.invoice_portal.data import expected_outcomes

console = Console()
SEED = 2026


def approvable(count: int) -> list[str]:
    """Invoice numbers the portal expects to be approved, from a pool large enough."""
    pool = expected_outcomes(SEED, max(300, count * 2))
    numbers = [n for n, outcome in pool.items() if outcome == "approve"]
    if len(numbers) < count:
        raise SystemExit(f"only {len(numbers)} approvable invoices; ask for fewer")
    return numbers[:count]


async def bare_run(numbers: list[str], pool_size: int) -> float:
    """Items per second of the bot's own steps in a plain loop."""
    bot_cls = load_bot("invoice-approval")
    bot = bot_cls()
    with start_invoice_portal(seed=SEED, count=pool_size) as portal:
        ctx = BotContext(log=_NullLog(), config={"base_url": portal.url},
                         credentials=lambda _n: Credential("approver", "approver-pass"),
                         evidence=lambda _n, _d: Path(os.devnull))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=find_browser(),
                                               args=CHROMIUM_ARGS)
            page = await (await browser.new_context()).new_page()
            await bot.login(page, ctx)
            stamps = []
            for number in numbers:
                item = bot_cls.Input.model_validate({"invoice_number": number})
                with contextlib.suppress(BusinessRuleError):
                    await bot.handle(item, page, ctx)
                stamps.append(time.perf_counter())
            await browser.close()
        await ctx.aclose()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


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


def worker_run(numbers: list[str], pool_size: int, slots: int, *, bot: str = "invoice-approval",
               trace: bool = True, sample_memory: bool = False) -> dict[str, Any]:
    """Items per second of `rpa worker` over the same items; optional memory samples."""
    from orchestrator.logs import configure
    with tempfile.TemporaryDirectory() as tmp, \
            start_invoice_portal(seed=SEED, count=pool_size) as portal:
        settings = load_settings(data_dir=Path(tmp))
        db.upgrade(settings.db_url)
        ensure_key_file(settings)
        store = db.open_sql_store(settings, writer="bench")
        cfg = ProcessConfig(name="bench", owner="Bench", cost_centre="0", bot=bot,
                            manual_minutes_per_item=5, concurrency=slots,
                            bot_config={"base_url": portal.url, "credential": "portal"})
        store.upsert_process(cfg.to_spec(), actor="user:bench")
        CredentialVault(store, settings, actor="user:bench").set("portal", "approver",
                                                                 "approver-pass")
        store.enqueue("bench", [NewItem(n, {"invoice_number": n}) for n in numbers],
                      actor="user:bench")
        stamps: list[float] = []
        memory: list[tuple[int, int, int]] = []

        def on_outcome(_item: Any, _outcome: Any) -> None:
            stamps.append(time.perf_counter())
            if sample_memory and len(stamps) % 500 == 0:
                memory.append((len(stamps), rss_kib(os.getpid()), browser_rss_kib()))

        configure("json")
        with quiet_stderr():
            report = asyncio.run(run_worker(store, settings, WorkerOptions(
                processes=["bench"], slots=slots, until_empty=True, install_signals=False,
                trace=trace, idle_wait=0.2), on_outcome))
        store.close()
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return {"rate": rate, "done": report.done, "business": report.business,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--memory-items", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="40 items, memory over 1,000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.items, args.memory_items = 40, 1000
    numbers = approvable(args.items)
    pool = max(300, args.items * 2)
    results: dict[str, Any] = {"items": args.items}
    with console.status("bare Playwright loop (baseline)..."):
        results["bare"] = asyncio.run(bare_run(numbers, pool))
    for slots in (1, 2, 4):
        with console.status(f"rpa worker, {slots} slot(s)..."):
            results[f"worker_{slots}"] = worker_run(numbers, pool, slots)
    with console.status("rpa worker, 1 slot, no trace..."):
        results["worker_1_notrace"] = worker_run(numbers, pool, 1, trace=False)
    with console.status(f"memory: noop bot over {args.memory_items} items..."):
        results["memory"] = worker_run([f"N{i}" for i in range(args.memory_items)], 300, 2,
                                       bot="noop", sample_memory=True)["memory"]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    show(results)


def show(r: dict[str, Any]) -> None:
    bare = r["bare"]
    table = Table(title=f"Invoice bot, {r['items']} approvable invoices, SQLite",
                  title_justify="left")
    for col in ("run", "items/s", "ms/item", "overhead ms/item", "target"):
        table.add_column(col, justify="right" if col != "run" else "left")
    table.add_row("bare Playwright loop", f"{bare:.2f}", f"{1000 / bare:.1f}", "-", "")
    for key, label in (("worker_1", "rpa worker, 1 slot"),
                       ("worker_1_notrace", "rpa worker, 1 slot, --no-trace"),
                       ("worker_2", "rpa worker, 2 slots"), ("worker_4", "rpa worker, 4 slots")):
        rate = r[key]["rate"]
        overhead = 1000 / rate - 1000 / bare
        target = ""
        if key.startswith("worker_1"):
            target = "[green]<= 5 ms met[/]" if overhead <= 5 else "[red]> 5 ms[/]"
        table.add_row(label, f"{rate:.2f}", f"{1000 / rate:.1f}",
                      f"{overhead:+.1f}" if key.startswith("worker_1") else "", target)
    console.print(table)
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
