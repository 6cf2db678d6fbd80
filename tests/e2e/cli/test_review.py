"""`rpa review ...` and `rpa org ...` as a person types them: the inbox, every bad
resolution refused with exit 2 and nothing changed, and the hours report's
gross, review and net after the resolutions, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

from orchestrator.services import review
from orchestrator.services.access import Principal, Role
from queues import open_store
from tests.e2e.conftest import Cli, Db, invoice_rows, write_csv

HEADER = "reference,invoice_number,amount"


def exceptions(db: Db, n: int) -> list[int]:
    """A worker stops `n` invoices on a business rule (the store, as the worker calls it)."""
    store = open_store(db.url, writer="test-worker")
    try:
        claimed = store.claim("invoices", "w1", limit=n)
        for item in claimed:
            store.fail_business(item.id, "w1", code="NO_PO", message="no purchase order")
        return [c.id for c in claimed]
    finally:
        store.close()


def test_the_inbox_from_exception_to_net_hours(ready: Cli, db: Db, tmp_path: Path) -> None:
    ready.ok("enqueue", "invoices", "-f", write_csv(tmp_path / "a.csv", HEADER,
                                                    invoice_rows(4)))
    stopped = exceptions(db, 3)
    tasks = ready.ok("review", "list", "--json").json()["tasks"]
    assert sorted(t["item_id"] for t in tasks) == sorted(stopped)
    assert all(t["status"] == "open" and t["due_at"] and t["kind"] == "business_exception"
               for t in tasks)
    first, second, third = sorted(t["id"] for t in tasks)
    listing = ready.ok("review", "list").out
    assert "Review tasks" in listing and "NO_PO" in listing
    assert all(len(line) <= 80 for line in listing.splitlines())

    # bad input: exit 2, a message naming the problem, nothing changed
    for args, words in [
        (["resolve", first, "--outcome", "shrug"], "unknown outcome"),
        (["resolve", first, "-o", "done_by_hand", "--minutes", "NaN"], "minutes"),
        (["resolve", first, "-o", "done_by_hand", "--minutes", "-5"], "minutes"),
        (["resolve", first, "-o", "no_action"], "reason"),
        (["resolve", first, "-o", "fixed_and_retried"], "payload"),
        (["resolve", first, "-o", "fixed_and_retried", "-d", '{"a": 1, "a": 2}'], "--data"),
        (["resolve", first, "-o", "fixed_and_retried", "-d",
          '{"invoice_number": "bad", "amount": 1}'], "invoice_number"),
        (["resolve", 999999, "-o", "no_action", "--reason", "x"], "no review task 999999"),
        (["show", 0], "greater than or equal to 1"),
    ]:
        result = ready("review", *args)
        assert result.code == 2, f"{args}: {result}"
        assert words in result.err, f"{args}: {result}"
        assert "Traceback" not in result.err
    assert ready.ok("review", "show", first, "--json").json()["status"] == "open"

    # someone else holds the second task
    store = open_store(db.url, writer="test-console")
    try:
        review.claim(store, Principal("kari", Role.OPERATOR), second)
    finally:
        store.close()
    held = ready("review", "resolve", second, "-o", "done_by_hand")
    assert held.code == 2 and "claimed by kari" in held.err

    ready.ok("review", "claim", first)
    ready.ok("review", "resolve", first, "-o", "done_by_hand", "--minutes", "7,5")
    again = ready("review", "resolve", first, "-o", "no_action", "--reason", "x")
    assert again.code == 2 and "already resolved" in again.err
    fixed = ready.ok("review", "resolve", third, "-o", "fixed_and_retried", "-m", "1", "-d",
                     '{"invoice_number": "INV-77", "amount": 3}', "--json").json()
    assert fixed["outcome"] == "fixed_and_retried"
    assert ready.counts("invoices")["new"] == 2  # the untouched one and the retried one

    # invoices: 6 min per item, no exception minutes configured; nothing done yet:
    # gross 0; review = 7.5 + 1 recorded + 0 estimated = 8.5 min; net -8.5 min
    report = ready.ok("report", "hours", "--by", "process", "--json").json()
    row = next(r for r in report["rows"] if r["key"] == "invoices")
    assert Decimal(row["gross_hours"]) == 0
    assert Decimal(row["review_hours"]) == round(Decimal("8.5") / 60, 2)
    assert Decimal(row["freed_hours"]) == round(Decimal("-8.5") / 60, 2)
    monthly = ready.ok("report", "hours", "--by", "process", "--per-month", "--csv",
                       tmp_path / "m.csv")
    assert all(len(line) <= 80 for line in monthly.out.splitlines())
    header = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("key,month,items_done,gross_hours,review_hours")
    events = ready.ok("audit", "list", "--json", "--limit", "100").json()
    actions = [e["action"] for e in events]
    assert actions.count("review.resolved") == 2 and "review.claimed" in actions


ORG = """\
    units:
      Økonomi: {}
      Regnskap: {parent: Økonomi}
      Finance: {parent: Regnskap}
      HR: {parent: Økonomi}
    review_groups:
      faktura-kontroll: {unit: Finance, members: [kari]}
    """


def test_org_load_and_show_and_its_bad_files(ready: Cli, tmp_path: Path) -> None:
    good = tmp_path / "org.yaml"
    good.write_text(textwrap.dedent(ORG), encoding="utf-8")
    assert "2 review groups" not in ready.ok("org", "load", good, "--check").out
    shown = ready("org", "show")
    assert shown.code == 2 and "rpa org load" in shown.err  # nothing stored by --check
    ready.ok("org", "load", good)
    assert "nothing changed" in ready.ok("org", "load", good).out
    tree = ready.ok("org", "show").out
    assert "Regnskap" in tree and "faktura-kontroll" in tree
    for name, text, words in [
        ("cycle.yaml", "units:\n  A: {parent: B}\n  B: {parent: A}\n", "'A' -> 'B' -> 'A'"),
        ("dup.yaml", "units:\n  A: {}\n  A: {}\n", "line 3"),
        ("orphan.yaml", "units:\n  A: {parent: Nowhere}\n", "Nowhere"),
        ("empty.yaml", "", "organisation"),
        ("nul.yaml", "units:\n  \"A\\0\": {}\n", "A"),
        # the registered processes' owners (Finance, HR) must stay in the tree
        ("lost.yaml", "units:\n  Finance: {}\n", "HR"),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = ready("org", "load", path)
        assert result.code == 2 and words in result.err, f"{name}: {result}"
        assert "Traceback" not in result.err
    assert ready.ok("org", "show", "--json").json()["version"] == 1
