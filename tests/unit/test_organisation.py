"""The organisation tree: the bundled file, every refusal with its line, the queries,
the stored form, and fuzzing (whatever the data, only OrganisationError escapes)."""

from __future__ import annotations

import contextlib
import json
import string
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.organisation import (
    DEFAULT_LEVELS,
    Organisation,
    OrganisationError,
    ReviewGroup,
    flat_organisation,
    load_organisation,
    parse_organisation,
)

BUNDLED = Path(__file__).resolve().parents[2] / "config" / "organisation.yaml"
FINANCE = "Finance service (Økonomitjenesten)"
HR = "HR service (HR-tjenesten)"

SMALL = """\
units:
  Økonomi og styring: {}
  Økonomiavdelingen: {parent: Økonomi og styring}
  Finance service (Økonomitjenesten): {parent: Økonomiavdelingen}
review_groups:
  faktura-kontroll:
    unit: Finance service (Økonomitjenesten)
    members: [ola, kari]
"""


def load(tmp_path: Path, text: str) -> Organisation:
    path = tmp_path / "organisation.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_organisation(path)


def refused(tmp_path: Path, text: str, *needles: str) -> str:
    with pytest.raises(OrganisationError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "organisation.yaml" in message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


# -- the bundled file ------------------------------------------------------------------------


def test_bundled_file_loads() -> None:
    tree = load_organisation(BUNDLED)
    assert tree.levels == DEFAULT_LEVELS
    assert FINANCE in tree and HR in tree
    assert tree.level_of(FINANCE) == "unit" and tree.level_of(HR) == "unit"
    assert len([u for u in tree.units() if tree.parents[u] is None]) == 3
    assert tree.review_groups["faktura-kontroll"].unit == FINANCE
    assert tree.review_groups["hr-kontroll"].unit == HR
    for process in (BUNDLED.parent / "processes").glob("*.yaml"):
        owner = next(line.split(":", 1)[1].strip() for line in process.read_text().splitlines()
                     if line.startswith("owner:"))
        assert owner in tree, process


def test_organisation_error_is_a_config_error() -> None:
    assert issubclass(OrganisationError, ConfigError)


# -- queries ---------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Organisation:
    return load(tmp_path, SMALL)


def test_level_path_ancestor_at_every_depth(tree: Organisation) -> None:
    sector, department, unit = "Økonomi og styring", "Økonomiavdelingen", FINANCE
    assert [tree.level_of(n) for n in (sector, department, unit)] == list(DEFAULT_LEVELS)
    assert tree.path(sector) == (sector,)
    assert tree.path(department) == (sector, department)
    assert tree.path(unit) == (sector, department, unit)
    assert [tree.ancestor(unit, level) for level in DEFAULT_LEVELS] == [sector, department, unit]
    assert [tree.ancestor(department, level) for level in DEFAULT_LEVELS] == [
        sector, department, department]  # above the unit level: stands for itself
    assert [tree.ancestor(sector, level) for level in DEFAULT_LEVELS] == [sector] * 3


def test_children_units_contains(tree: Organisation) -> None:
    assert tree.units() == sorted(["Økonomi og styring", "Økonomiavdelingen", FINANCE])
    assert tree.children("Økonomi og styring") == ["Økonomiavdelingen"]
    assert tree.children(FINANCE) == []
    assert FINANCE in tree and "Finance service" not in tree and 5 not in tree
    assert tree.review_groups["faktura-kontroll"] == ReviewGroup(
        "faktura-kontroll", FINANCE, ("kari", "ola"))


def test_unknown_names_are_refused_with_a_suggestion(tree: Organisation) -> None:
    with pytest.raises(OrganisationError, match="did you mean 'Økonomiavdelingen'"):
        tree.path("økonomiavdelingen")
    with pytest.raises(OrganisationError, match="not a level"):
        tree.ancestor(FINANCE, "team")
    assert tree.suggest("Finance service") == f", did you mean {FINANCE!r}?"
    assert tree.suggest("Helt annet navn") == ""


def test_flat_organisation_shows_each_owner_at_every_level() -> None:
    flat = flat_organisation(["Skole", "Barnehage", "Skole"])
    assert flat.units() == ["Barnehage", "Skole"]
    assert [flat.ancestor("Skole", level) for level in flat.levels] == ["Skole"] * 3
    assert flat.level_of("Skole") == "sector" and flat.review_groups == {}


def test_custom_levels(tmp_path: Path) -> None:
    tree = load(tmp_path, """\
        levels: [kommune, sektor]
        units:
          Kommunen: {}
          Helse: {parent: Kommunen}
        """)
    assert tree.level_of("Helse") == "sektor" and tree.ancestor("Kommunen", "sektor") == "Kommunen"


def test_names_are_stripped_and_review_group_may_be_empty(tmp_path: Path) -> None:
    tree = load(tmp_path, """\
        units:
          " Skole ": ~
          Skolekontoret: {parent: "Skole  "}
        review_groups:
          skole-kontroll:
          tom: {}
        """)
    assert tree.path("Skolekontoret") == ("Skole", "Skolekontoret")
    assert tree.review_groups["skole-kontroll"] == ReviewGroup("skole-kontroll")
    assert tree.review_groups["tom"].members == ()


# -- refusals, each with its line and names --------------------------------------------------


@pytest.mark.parametrize(("text", "needles"), [
    ("", ["empty file"]),
    ("- a\n- b\n", ["expected a mapping", "list"]),
    ("units: {A: {}}\nunit: {}\n", ["line 2", "'unit'", "unknown key", "did you mean 'units'"]),
    ("levels: [a, b]\n", ["units: is missing"]),
    ("units: {}\n", ["line 1", "units", "is empty"]),
    ("units: [A, B]\n", ["line 1", "expected a mapping", "list"]),
    ("levels: []\nunits: {A: {}}\n", ["line 1", "levels", "is empty"]),
    ("levels: sector\nunits: {A: {}}\n", ["line 1", "levels", "expected a list"]),
    ("levels: [a, b, a]\nunits: {A: {}}\n", ["line 1", "levels[2]", "named twice"]),
    ("levels: [a, B, b]\nunits: {A: {}}\n", ["levels[2]", "named twice"]),
    ("levels: [a, 3]\nunits: {A: {}}\n", ["levels[1]", "not a level name"]),
    ("levels: [a, {x: 1}]\nunits: {A: {}}\n", ["levels[1]", "dict"]),
    ("units:\n  A: {}\n  B: {parent: Økonomiavdeling}\n  Økonomiavdelingen: {}\n",
     ["line 3", "units['B']", "'Økonomiavdeling' is not a unit",
      "did you mean 'Økonomiavdelingen'"]),
    ("units:\n  A: {}\n  B: {parent: a}\n", ["line 3", "units['B']", "did you mean 'A'"]),
    ("units:\n  A: {}\n  B: {parent: 5}\n", ["line 3", "units['B'].parent", "int 5"]),
    ("units:\n  A: {}\n  B: {parent: A, owner: x}\n",
     ["line 3", "units['B'].owner", "unknown key", "only parent"]),
    ("units:\n  A: {}\n  B: {parnet: A}\n", ["line 3", "did you mean 'parent'"]),
    ("units:\n  A: {}\n  B: A\n", ["line 3", "units['B']", "expected {}"]),
    ("units:\n  A: {}\n  B: [A]\n", ["line 3", "units['B']", "list"]),
    ("units:\n  A: {}\n  123: {}\n", ["line 3", "123", "not text", "quotes"]),
    ("units:\n  A: {}\n  '   ': {}\n", ["line 3", "is empty"]),
    ('units:\n  A: {}\n  "B\\x00C": {}\n', ["line 3", "control character", "\\x00"]),
    ('units:\n  A: {}\n  "B\\x07": {}\n', ["line 3", "control character"]),
    ('units:\n  A: {}\n  "B\\ud800": {}\n', ["line 3", "lone surrogate"]),
    (f"units:\n  A: {{}}\n  {'x' * 101}: {{}}\n", ["line 3", "101 characters", "at most 100"]),
    ("units:\n  Skole: {}\n  skole: {}\n",
     ["line 3", "'skole'", "'Skole' on line 2", "only in case"]),
    ("units:\n  Skole: {}\n  ' Skole': {}\n", ["line 3", "'Skole' on line 2"]),
    ("units:\n  A: {}\n  A: {}\n", ["line 3", "duplicate key"]),  # load_yaml refuses these
    ("units:\n  A: {}\n  B: {parent: A}\n  C: {parent: B}\n  D: {parent: C}\n",
     ["line 5", "units['D']", "deeper than its levels", "A > B > C > D",
      "sector, department, unit"]),
    ("levels: [top]\nunits:\n  A: {}\n  B: {parent: A}\n",
     ["line 4", "units['B']", "deeper than its levels"]),
    ("units: {A: {}}\nreview_groups: [a]\n", ["line 2", "review_groups", "expected a mapping"]),
    ("units: {A: {}}\nreview_groups:\n  Faktura_Kontroll: {}\n",
     ["line 3", "'Faktura_Kontroll'", "lower-case letters"]),
    ("units: {A: {}}\nreview_groups:\n  -bad: {}\n", ["line 3", "'-bad'"]),
    (f"units: {{A: {{}}}}\nreview_groups:\n  {'a' * 64}: {{}}\n", ["line 3", "1-63"]),
    ("units: {A: {}}\nreview_groups:\n  g: {unit: B}\n",
     ["line 3", "review_groups['g'].unit", "'B' is not in the tree"]),
    ("units: {Skole: {}}\nreview_groups:\n  g:\n    unit: skole\n",
     ["line 4", "did you mean 'Skole'"]),
    ("units: {A: {}}\nreview_groups:\n  g: {unit: [A]}\n", ["line 3", "unit must be"]),
    ("units: {A: {}}\nreview_groups:\n  g:\n    members: kari\n",
     ["line 4", "review_groups['g'].members", "expected a list"]),
    ("units: {A: {}}\nreview_groups:\n  g:\n    members: [kari, '']\n",
     ["line 4", "members[1]", "not an account name"]),
    ("units: {A: {}}\nreview_groups:\n  g:\n    members: [kari, 7]\n",
     ["members[1]", "int 7"]),
    ("units: {A: {}}\nreview_groups:\n  g:\n    members: [kari, kari]\n",
     ["members[1]", "listed twice"]),
    ("units: {A: {}}\nreview_groups:\n  g:\n    members: [kari]\n    owner: A\n",
     ["line 5", "review_groups['g'].owner", "unknown key"]),
    ("units: {A: {}}\nreview_groups:\n  g: 5\n", ["line 3", "expected a mapping"]),
])
def test_bad_files_are_refused_with_line_and_names(
        tmp_path: Path, text: str, needles: list[str]) -> None:
    path = tmp_path / "organisation.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_organisation(path)
    message = str(caught.value)
    if "duplicate key" not in needles:
        assert isinstance(caught.value, OrganisationError)
    assert str(path) in message
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.parametrize(("units", "cycle", "line"), [
    ("  A: {parent: A}\n", "'A' -> 'A'", 2),
    ("  A: {parent: B}\n  B: {parent: A}\n", "'A' -> 'B' -> 'A'", 2),
    ("  Top: {}\n  A: {parent: C}\n  B: {parent: A}\n  C: {parent: B}\n",
     "'A' -> 'C' -> 'B' -> 'A'", 3),
])
def test_cycles_name_every_unit_in_them(tmp_path: Path, units: str, cycle: str,
                                        line: int) -> None:
    message = refused(tmp_path, "units:\n" + units, "cycle", cycle, f"line {line}")
    assert message.count("form a cycle") == 1  # one cycle, named once


def test_a_unit_below_a_cycle_is_not_reported_again(tmp_path: Path) -> None:
    message = refused(tmp_path, "units:\n  A: {parent: B}\n  B: {parent: A}\n  C: {parent: A}\n",
                      "'A' -> 'B' -> 'A'")
    assert "'C'" not in message


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    message = refused(tmp_path, "units:\n  A: {parent: X}\n  B: {parent: Y}\nfoo: 1\n",
                      "line 4", "'foo'")
    # shapes first: the unknown parents are reported once the top level is right
    assert "'X'" not in message
    message = refused(tmp_path, "units:\n  A: {parent: X}\n  B: {parent: Y}\n",
                      "2 problems", "line 2", "'X'", "line 3", "'Y'")


def test_a_long_cycle_and_too_many_levels_are_cut_short(tmp_path: Path) -> None:
    units = "".join(f"  U{i}: {{parent: U{(i + 1) % 200}}}\n" for i in range(200))
    message = refused(tmp_path, "units:\n" + units, "'U0' -> 'U1'", "(151 more)", "-> 'U0'")
    assert len(message) < 2000
    levels = ", ".join(f"l{i}" for i in range(21))
    refused(tmp_path, f"levels: [{levels}]\nunits: {{A: {{}}}}\n", "line 1", "21 levels",
            "at most 20")


def test_many_problems_are_cut_short(tmp_path: Path) -> None:
    units = "".join(f"  U{i}: {{parent: Missing{i}}}\n" for i in range(50))
    message = refused(tmp_path, "units:\n" + units, "50 problems", "and 30 more")
    assert message.count("\n  - ") == 20


# -- the stored form -------------------------------------------------------------------------


def test_document_round_trip_and_digest(tree: Organisation) -> None:
    doc = tree.to_document()
    assert doc == {
        "levels": ["sector", "department", "unit"],
        "units": {FINANCE: "Økonomiavdelingen", "Økonomi og styring": None,
                  "Økonomiavdelingen": "Økonomi og styring"},
        "review_groups": {"faktura-kontroll": {"unit": FINANCE, "members": ["kari", "ola"]}},
    }
    assert json.loads(json.dumps(doc)) == doc
    again = Organisation.from_document(json.loads(json.dumps(doc)))
    assert again == tree and again.digest() == tree.digest()
    assert len(tree.digest()) == 64


def test_digest_is_stable_across_key_order(tmp_path: Path, tree: Organisation) -> None:
    shuffled = load(tmp_path, """\
        review_groups:
          faktura-kontroll:
            members: [kari, ola]
            unit: Finance service (Økonomitjenesten)
        units:
          Finance service (Økonomitjenesten): {parent: Økonomiavdelingen}
          Økonomiavdelingen: {parent: Økonomi og styring}
          Økonomi og styring: {}
        levels: [sector, department, unit]
        """)
    assert shuffled.digest() == tree.digest() and shuffled == tree
    doc = tree.to_document()
    reversed_doc = {key: (dict(reversed(value.items())) if isinstance(value, dict) else value)
                    for key, value in reversed(doc.items())}
    assert Organisation.from_document(reversed_doc).digest() == tree.digest()
    moved = dict(doc, units={**doc["units"], FINANCE: "Økonomi og styring"})
    assert Organisation.from_document(moved).digest() != tree.digest()


@pytest.mark.parametrize(("change", "needles"), [
    ({"units": {"A": "B", "B": "A"}}, ["cycle", "'A' -> 'B' -> 'A'"]),
    ({"units": {"A": None, "B": "Z"}}, ["units['B']", "'Z' is not a unit"]),
    ({"units": {"A": {"parent": None}}}, ["units['A']", "parent must be"]),
    ({"units": {"A": None}, "review_groups": {"g": {"unit": "Z", "members": []}}},
     ["'Z' is not in the tree"]),
    ({"levels": []}, ["levels", "is empty"]),
    ({"extra": 1}, ["'extra'", "unknown key"]),
])
def test_from_document_refuses_a_tampered_document(tree: Organisation, change: dict[str, Any],
                                                   needles: list[str]) -> None:
    doc = {**tree.to_document(), **change}
    with pytest.raises(OrganisationError) as caught:
        Organisation.from_document(doc)
    message = str(caught.value)
    assert message.startswith("the stored organisation document")
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.parametrize("doc", [None, [], "units", 5])
def test_from_document_refuses_what_is_not_a_document(doc: Any) -> None:
    with pytest.raises(OrganisationError, match="expected a mapping"):
        Organisation.from_document(doc)


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(OrganisationError, match="cycle"):
        Organisation(DEFAULT_LEVELS, {"A": "B", "B": "A"})
    with pytest.raises(OrganisationError, match="deeper"):
        Organisation(("one",), {"A": None, "B": "A"})
    with pytest.raises(OrganisationError, match="not in the tree"):
        Organisation(DEFAULT_LEVELS, {"A": None}, {"g": ReviewGroup("g", "B")})


# -- fuzzing ---------------------------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = st.sampled_from(["levels", "units", "review_groups", "parent", "unit", "members", "A",
                        "B", "a-b", "Økonomi", " A ", "a", "\x00", "\ud800", ""])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | KEYS
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(KEYS | st.text(max_size=5) | st.integers(), inner, max_size=4),
    max_leaves=25)


def _refuses_or_builds(data: Any) -> None:
    with contextlib.suppress(OrganisationError):
        built = parse_organisation(data, None, Path("fuzz.yaml"))
        assert Organisation.from_document(built.to_document()) == built


@FAST
@given(JSONISH)
def test_fuzz_arbitrary_data_only_raises_organisation_error(data: Any) -> None:
    _refuses_or_builds(data)


@FAST
@given(st.dictionaries(st.sampled_from(["levels", "units", "review_groups"]), JSONISH,
                       max_size=3))
def test_fuzz_top_level_shape(data: dict[str, Any]) -> None:
    _refuses_or_builds(data)


@FAST
@given(st.dictionaries(KEYS | st.text(max_size=4),
                       st.none() | st.fixed_dictionaries({}, optional={"parent": KEYS | SCALARS}),
                       max_size=8))
def test_fuzz_units(units: dict[str, Any]) -> None:
    _refuses_or_builds({"units": units})


@FAST
@given(JSONISH)
def test_fuzz_from_document(doc: Any) -> None:
    with contextlib.suppress(OrganisationError):
        Organisation.from_document(doc)


NAMES = st.text(string.ascii_letters + "ÆØÅæøå -()", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s != "")


@st.composite
def valid_trees(draw: st.DrawFn) -> dict[str, Any]:
    levels = draw(st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=6),
                           min_size=1, max_size=4, unique=True))
    names = draw(st.lists(NAMES, min_size=1, max_size=15, unique_by=str.casefold))
    depth: dict[str, int] = {}
    units: dict[str, Any] = {}
    for name in names:
        candidates = [n for n in depth if depth[n] + 1 < len(levels)]
        parent = draw(st.none() | st.sampled_from(candidates)) if candidates else None
        depth[name] = 0 if parent is None else depth[parent] + 1
        units[name] = {} if parent is None else {"parent": parent}
    group_names = draw(st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True),
                                max_size=3, unique=True))
    groups = {g: {"unit": draw(st.none() | st.sampled_from(names)),
                  "members": draw(st.lists(st.sampled_from(["kari", "ola", "per"]),
                                           unique=True))}
              for g in group_names}
    return {"levels": levels, "units": units, "review_groups": groups}


@FAST
@given(valid_trees())
def test_random_valid_trees_round_trip(data: dict[str, Any]) -> None:
    tree = parse_organisation(data, None, Path("random.yaml"))
    doc = tree.to_document()
    again = Organisation.from_document(json.loads(json.dumps(doc)))
    assert again == tree and again.to_document() == doc and again.digest() == tree.digest()
    for name in tree.units():
        path = tree.path(name)
        assert path[-1] == name and tree.parents[path[0]] is None
        assert tree.level_of(name) == tree.levels[len(path) - 1]
        for index, level in enumerate(tree.levels):
            assert tree.ancestor(name, level) == path[min(index, len(path) - 1)]
        for child in tree.children(name):
            assert tree.parents[child] == name
