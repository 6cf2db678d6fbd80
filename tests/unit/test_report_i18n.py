"""Reports in bokmål, fast: the catalogue covers every text, `lang=` on the writers,
the fixed-language `Translator`, and `rpa report costs --lang nb` in process.

The slower end-to-end run (`python -m orchestrator` in a subprocess, hours and costs,
English default, a bad `--lang`) is `tests/integration/test_report_i18n.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from openpyxl import load_workbook
from typer.testing import CliRunner

from orchestrator.i18n import CATALOGUES, _, gettext_for, language, ngettext, translations
from orchestrator.reports.allocation import CostLine, allocate
from orchestrator.reports.export import write_chart, write_xlsx
from orchestrator.reports.hours import ProcessUsage
from orchestrator.reports.render import _GROUP_TITLES, costs_to_report

ROOT = Path(__file__).resolve().parents[2]
PO = CATALOGUES / "nb" / "LC_MESSAGES" / "reports.po"
SOURCES = [*sorted((ROOT / "orchestrator" / "reports").glob("*.py")),
           ROOT / "orchestrator" / "cli" / "report_cmd.py"]
KEYWORDS = {"_": None, "tr": None, "ngettext": (1, 2)}
# looked up through a variable, which extraction cannot see
DYNAMIC = {*_GROUP_TITLES.values(), "note", "wrote"}
SAME_IN_BOKMAL = {"Type"}  # a text whose bokmål is the English word
USAGE = [ProcessUsage("faktura", "Økonomi", "1200", 10, 1, Decimal(600), Decimal(60),
                      gross_minutes=Decimal(62), review_minutes=Decimal(2),
                      estimated_minutes=Decimal(0))]


def used_texts() -> set[str]:
    found: set[str] = set(DYNAMIC)
    for path in SOURCES:
        for _line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS):
            found.update([message] if isinstance(message, str) else message)
    return found


def test_every_text_the_reports_use_has_a_bokmal_translation() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle, locale="nb_NO")
    texts = used_texts()
    assert len(texts) > 90  # the extraction found the report code's texts at all
    translated = {}
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            translated[text] = all(isinstance(s, str) and s.strip() for s in strings)
    missing = sorted(t for t in texts if not translated.get(t))
    assert missing == []
    nb = translations("nb")
    untranslated = sorted(t for t in texts if nb.gettext(t) == t and t not in SAME_IN_BOKMAL)
    assert untranslated == []


def test_the_catalogue_parses_cleanly_and_has_no_fuzzy_entries() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle, locale="nb_NO", abort_invalid=True)
    assert not [m.id for m in catalogue if m.id and m.fuzzy]
    assert not list(catalogue.check())  # Babel's own checks: placeholders, plural counts


def test_a_translator_has_a_fixed_language_whatever_block_is_in_force() -> None:
    nb, en = gettext_for("nb"), gettext_for("en")
    assert gettext_for("nb") is nb  # cached
    with language("en"):
        assert nb._("Freed hours") == "Frigjorte timer"
    with language("nb"):
        assert en._("Freed hours") == "Freed hours"
        assert _("Freed hours") == "Frigjorte timer"
    assert en.ngettext("{n} process", "{n} processes", 2) == "{n} processes"
    assert ngettext("{n} process", "{n} processes", 1) == "{n} process"
    with pytest.raises(ValueError):
        gettext_for("sv")


def test_write_xlsx_with_lang_nb_names_the_sheets_and_writes_the_method_in_bokmal(
        tmp_path: Path) -> None:
    result = allocate([CostLine("Lisens", 1_000_000, "robot_minutes")], USAGE,
                      hourly_rate_ore=65_000)
    with language("nb"):
        report = costs_to_report(result, period_label="2026")
    write_xlsx(report, tmp_path / "kostnader.xlsx", lang="nb")  # outside any block
    book = load_workbook(tmp_path / "kostnader.xlsx")
    assert book.sheetnames == ["Rapport", "Metode"]
    headers = [c.value for c in book["Rapport"][3]]
    assert headers[:3] == ["Prosess", "Eier", "Kostnadssted"] and "Kostnad" in headers
    method = [[c.value for c in row] for row in book["Metode"].iter_rows()]
    assert method[0][0] == "Metode - Kostnader etter prosess, 2026"
    assert ["Kolonne", "Type", "Forklaring"] in method
    assert ["Kostnad", "NOK", "Summen av kostnadslinjene."] in method
    # the default is the language in force: English, as before
    write_xlsx(report, tmp_path / "costs.xlsx")
    assert load_workbook(tmp_path / "costs.xlsx").sheetnames == ["Report", "Method"]


def test_write_chart_with_lang_nb_labels_the_axes_and_legend_in_bokmal(tmp_path: Path) -> None:
    hours = {"2026-01": {"Økonomi": Decimal(3)}, "2026-02": {"Økonomi": Decimal(5)}}
    svg = write_chart(tmp_path / "c.svg", hours_by_month=hours,
                      cost_value=[("faktura", 10_000, 20_000)], lang="nb").read_text()
    for text in ("Netto frigjorte timer per eier over tid", "Måned", "Eier", "Kostnad"):
        assert f"<!-- {text}" in svg or text in svg, text
    english = write_chart(tmp_path / "e.svg", hours_by_month=hours).read_text()
    assert "Net freed hours per owner over time" in english


@pytest.fixture
def cli_state_kept() -> Iterator[None]:
    """The CLI points structlog at CliRunner's stderr, closed after each run, and keeps
    its store open: put the one back and close the other."""
    from orchestrator.cli.common import STATE

    before = structlog.get_config()
    yield
    structlog.configure(**before)
    STATE.reset()


@pytest.mark.usefixtures("cli_state_kept")
def test_rpa_report_costs_lang_nb_prints_bokmal_headers(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.cli import app

    for name in ("RPA_DATABASE_URL", "RPA_SETTINGS_FILE", "RPA_COSTS_FILE",
                 "RPA_REPORT_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RPA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tmp_path)  # no rpa.yaml or config/costs.yaml of the checkout
    (tmp_path / "costs.yaml").write_text(
        'currency: NOK\nhourly_rate: "650.00"\nperiods:\n  - period: 2026\n    lines:\n'
        '      - {name: Lisens, amount: "1000.00", driver: robot_minutes}\n', encoding="utf-8")
    monkeypatch.setenv("RPA_COSTS_FILE", str(tmp_path / "costs.yaml"))
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0  # a fresh SQLite store
    nb = runner.invoke(app, ["report", "costs", "--lang", "nb", "--period", "2026"])
    assert nb.exit_code == 0, nb.output
    assert "Kostnader etter prosess, 2026" in nb.output
    assert "Kostnad" in nb.output and "Frigjort t" in nb.output
    monkeypatch.setenv("RPA_REPORT_LANGUAGE", "nb")  # the setting is the default
    assert "Kostnader etter prosess" in runner.invoke(app, ["report", "costs"]).output
    en = runner.invoke(app, ["report", "costs", "--lang", "en", "--period", "2026"])
    assert "Costs by process, 2026" in en.output and "Freed h" in en.output
