"""How long `rpa enqueue --file` takes for a big CSV, and how much memory it peaks at.

Each figure is one real `rpa enqueue` process on a fresh database (a SQLite file
in a scratch directory; PostgreSQL when it answers), timed as a whole and
measured for its peak resident memory (`wait4`'s ru_maxrss). The baseline, in
the same run, is the same file only read and checked (`item_chunks`
in a process of its own, streaming as `rpa enqueue` does): what the reader costs,
and what the store adds on top.

    python bench/enqueue_file_bench.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import postgres_version, scratch_postgres, sqlalchemy_url

REPO = Path(__file__).resolve().parents[1]
RPA = [sys.executable, "-m", "orchestrator.cli"]
PROCESS = textwrap.dedent("""\
    name: invoices
    owner: Finance
    cost_centre: "1200"
    bot: noop
    manual_minutes_per_item: 6
    input_schema:
      type: object
      required: [invoice_number, amount]
      properties:
        invoice_number: {type: string, pattern: "^INV-[0-9]+$"}
        amount: {type: number, minimum: 0}
        supplier: {type: string, maxLength: 80}
    """)
READ_ONLY = ("import sys; from pathlib import Path; from orchestrator.item_files import "
             "item_chunks; from orchestrator.process_config import load_process; "
             "schema = load_process(Path(sys.argv[2])).to_spec().input_schema; "
             "print(sum(len(c) for c in item_chunks(Path(sys.argv[1]), schema)))")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("reference,invoice_number,amount,supplier\n")
        for i in range(rows):
            out.write(f"R-{i:07d},INV-{i:07d},{i % 9973}.{i % 100:02d},Leverandør {i % 311} AS\n")


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak MB of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[:6])} failed: {proc.stderr.read().decode()[-800:]}"
                         if proc.stderr else "failed")
    return seconds, usage.ru_maxrss / 1024


def prepare(work: Path, env: dict[str, str]) -> None:
    for command in (["init"], ["process", "register", str(work / "invoices.yaml")]):
        subprocess.run([*RPA, *command], env=env, cwd=work, check=True,
                       stdout=subprocess.DEVNULL)


def measure(label: str, work: Path, csv: Path, env: dict[str, str], repeat: int,
            database: str | None) -> list[tuple[float, float]]:
    figures = []
    for n in range(repeat):
        run_env = dict(env)
        if database is None:
            run_env["RPA_DATA_DIR"] = str(work / f"{label}-{n}")
        prepare(work, run_env)
        figures.append(run([*RPA, "enqueue", "invoices", "--file", str(csv)], run_env, work))
        if database is not None:  # the next repeat starts from an empty queue again
            subprocess.run([sys.executable, "-c", "import psycopg,sys; c=psycopg.connect("
                            "sys.argv[1]); c.execute('DELETE FROM work_items'); c.commit()",
                            database.replace("+psycopg", "")], check=True)
    return figures


def show(label: str, figures: list[tuple[float, float]], rows: int) -> None:
    seconds = statistics.median(s for s, _ in figures)
    peak = max(m for _, m in figures)
    print(f"{label:<34} {seconds:7.2f} s  {rows / seconds:9,.0f} rows/s  peak {peak:6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("RPA_DATABASE_URL",)}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryDirectory(prefix="rpa-enqueue-bench-") as tmp:
        work = Path(tmp)
        (work / "invoices.yaml").write_text(PROCESS, encoding="utf-8")
        csv = work / "invoices.csv"
        write_csv(csv, opts.rows)
        size = csv.stat().st_size / 2**20
        print(f"{opts.rows:,} rows, {size:.1f} MB of CSV; median of {opts.repeat}, peak RSS "
              "of the process")
        base = [run([sys.executable, "-c", READ_ONLY, str(csv), str(work / "invoices.yaml")],
                    env, work) for _ in range(opts.repeat)]
        show("baseline: read and check only", base, opts.rows)
        show("rpa enqueue, SQLite", measure("lite", work, csv, env, opts.repeat, None),
             opts.rows)
        if postgres_version() is None:
            print("PostgreSQL does not answer: skipped")
            return
        with scratch_postgres("rpa_enqueue_bench") as url:
            pg_env = env | {"RPA_DATABASE_URL": sqlalchemy_url(url),
                            "RPA_DATA_DIR": str(work / "pg")}
            show("rpa enqueue, PostgreSQL",
                 measure("pg", work, csv, pg_env, opts.repeat, sqlalchemy_url(url)),
                 opts.rows)


if __name__ == "__main__":
    main()
