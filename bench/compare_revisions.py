"""Before and after a change, in one run: `queue_bench.py` of two revisions, alternating.

    .venv/bin/python bench/compare_revisions.py --before HEAD~3            # work tree vs HEAD~3
    .venv/bin/python bench/compare_revisions.py --before v0.1.0 --rounds 3 -- --only postgres

The older revision is checked out into a temporary git worktree and run from
there (its own code on PYTHONPATH, this virtualenv's libraries); the work tree
is "after". Rounds alternate before/after so that a machine that slows down
mid-way slows both. Each `queue_bench` run measures its own raw-SQL baseline,
so the table shows, per measurement, the median rate of each side and the
median of each side's ratio to the baseline of its own run: the ratio is what
to compare on a shared machine, where absolute rates move by 30 %.
Arguments after `--` go to every `queue_bench.py` run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(tree: Path, extra: list[str]) -> list[dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "bench/queue_bench.py", "--json", *extra],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout)["results"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="arguments for queue_bench.py (after --)")
    args = parser.parse_args()
    extra = args.extra or ["--items", "20000", "--status-items", "200000",
                           "--latency-samples", "100"]
    with tempfile.TemporaryDirectory(prefix="rpa-before-") as tmp:
        before = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(before), args.before],
                       cwd=ROOT, check=True)
        try:
            sides: dict[str, list[list[dict[str, object]]]] = {"before": [], "after": []}
            for n in range(args.rounds):
                for side, tree in (("before", before), ("after", ROOT)):
                    print(f"round {n + 1}/{args.rounds}: {side}", file=sys.stderr, flush=True)
                    sides[side].append(run_bench(tree, extra))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT,
                           check=False)
    print(f"{'measurement':58} {'before':>10} {'after':>10} {'b/base':>7} {'a/base':>7}")
    by_key: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for side, runs in sides.items():
        for results in runs:
            for r in results:
                key = (str(r["engine"]), str(r["label"]))
                pair = (float(r["ours"]), float(r["baseline"]))  # type: ignore[arg-type]
                by_key.setdefault(key, {}).setdefault(side, []).append(pair)
    for (engine, label), found in by_key.items():
        if set(found) != {"before", "after"}:
            continue
        cells = []
        for side in ("before", "after"):
            cells.append(statistics.median(o for o, _ in found[side]))
        ratios = [statistics.median(o / b for o, b in found[side] if b)
                  for side in ("before", "after")]
        print(f"{engine + ' ' + label:58} {cells[0]:10,.1f} {cells[1]:10,.1f} "
              f"{ratios[0]:7.2f} {ratios[1]:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
