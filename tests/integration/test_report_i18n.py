"""Reports in bokmål: every text the report code uses has a translation, the catalogue
parses cleanly, and a real XLSX and a real `rpa report` run come out in bokmål."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from openpyxl import load_workbook

from orchestrator.i18n import CATALOGUES, _, language, translations
from orchestrator.reports.hours import hours_rollup
from orchestrator.reports.periods import parse_period
from orchestrator.reports.render import _GROUP_TITLES, hours_to_report

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "orchestrator" / "reports").glob("*.py")),
           ROOT / "orchestrator" / "cli" / "report_cmd.py"]
# texts looked up through a variable, which extraction cannot see
DYNAMIC = [*_GROUP_TITLES.values(), "unit", "department", "sector", "note", "wrote"]


def used_texts() -> set[str]:
    found = set(DYNAMIC)
    for path in SOURCES:
        for _line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords={"_": None, "tr": None}):
            found.add(message)
    return found


def test_every_report_text_has_a_bokmal_translation() -> None:
    texts = used_texts()
    nb = translations("nb")
    missing = sorted(t for t in texts if not nb.gettext(t) or (nb.gettext(t) == t
                     and t not in ("Type",)))
    assert len(texts) > 90 and missing == []


def test_the_catalogue_parses_without_fuzzy_or_stale_entries() -> None:
    path = CATALOGUES / "nb" / "LC_MESSAGES" / "reports.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale="nb_NO")
    entries = [m for m in catalogue if m.id]
    assert entries and not [m.id for m in entries if m.fuzzy]
    stale = sorted(str(m.id) for m in entries if m.id not in used_texts())
    assert stale == []  # a text the code no longer uses is removed from the catalogue too
    # placeholders survive translation, or .format() would fail in bokmål
    for m in entries:
        wanted = sorted(p for p in str(m.id).split("{")[1:])
        got = sorted(p for p in str(m.string).split("{")[1:])
        assert [w.split("}")[0] for w in wanted] == [g.split("}")[0] for g in got], m.id


def test_the_language_is_set_for_a_block_and_back() -> None:
    assert _("Freed hours") == "Freed hours"
    with language("nb"):
        assert _("Freed hours") == "Frigjorte timer"
        with language("en"):
            assert _("Freed hours") == "Freed hours"
        assert _("Gross h") == "Brutto t"
    assert _("Freed hours") == "Freed hours"
    with pytest.raises(ValueError), language("sv"):
        pass


def test_an_xlsx_in_bokmal_has_bokmal_sheets_headers_and_method(tmp_path: Path) -> None:
    from orchestrator.reports.export import write_xlsx
    from orchestrator.reports.hours import ProcessUsage

    rows = [ProcessUsage("faktura", "Økonomi", "1200", 10, 1, 0, 60, gross_minutes=62,
                         review_minutes=2, estimated_minutes=2)]
    with language("nb"):
        report = hours_to_report(hours_rollup(rows, "owner", parse_period("2026")))
        write_xlsx(report, tmp_path / "timer.xlsx")
    book = load_workbook(tmp_path / "timer.xlsx")
    assert book.sheetnames == ["Rapport", "Metode"]
    headers = [c.value for c in book["Rapport"][3]]
    assert headers[:5] == ["Eier", "Ferdige saker", "Forretningsunntak", "Brutto timer",
                           "Kontrolltimer"]
    method = "\n".join(str(c.value) for c in book["Metode"]["A"] if c.value)
    assert "Netto = brutto - kontroll" in method and "Kolonne" in method


def test_rpa_report_speaks_bokmal_when_asked(tmp_path: Path) -> None:
    env = {"RPA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "100", "PATH": "/usr/bin:/bin"}
    rpa = [sys.executable, "-m", "orchestrator"]
    for setup in (["init"], ["process", "register", "config/processes"]):
        assert subprocess.run([*rpa, *setup], env=env, capture_output=True, cwd=ROOT,
                              timeout=120).returncode == 0
    nb = subprocess.run([*rpa, "report", "costs", "--lang", "nb"], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert nb.returncode == 0, nb.stderr
    assert "Kostnader etter prosess" in nb.stdout and "Kostnad" in nb.stdout
    hours = subprocess.run([*rpa, "report", "hours", "--lang", "nb", "--by", "department"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Frigjorte timer etter avdeling" in hours.stdout, hours.stdout + hours.stderr
    en = subprocess.run([*rpa, "report", "hours"], env=env, cwd=ROOT, capture_output=True,
                        text=True, timeout=120)
    assert "Freed hours by owner" in en.stdout
    bad = subprocess.run([*rpa, "report", "hours", "--lang", "sv"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "nb or en" in bad.stderr
