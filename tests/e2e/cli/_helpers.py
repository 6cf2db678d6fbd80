"""Helpers shared by the `rpa` CLI test files in this folder."""

from __future__ import annotations

import csv

from tests.e2e.conftest import SAMPLE_CSV, Cli

HEADER = "reference,invoice_number,amount"


def sample_references() -> list[str]:
    with SAMPLE_CSV.open(newline="", encoding="utf-8-sig") as handle:
        return [row["reference"] for row in csv.DictReader(handle)]


def process_names(cli: Cli) -> list[str]:
    return [p["name"] for p in cli.ok("process", "list", "--json").json()]
