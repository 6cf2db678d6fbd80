"""The municipality's organisational tree: sectors, departments, units, and review groups.

Reports roll freed hours up from a unit to its department and sector, and review
tasks are routed to the review groups declared here. The tree is read from
`config/organisation.yaml` (a flat mapping of unit -> parent, so that a typo in a
parent, a cycle or a tree deeper than its levels can each be caught and named
with its line) and is stored by others as `Organisation.to_document()`; reading it
back (`Organisation.from_document`) validates it again, since a database row is
input like any other.

Pure logic: no database and no CLI here (`orchestrator.services.organisation`
stores versions, `rpa org` shows them).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from orchestrator.errors import ConfigError
from orchestrator.yaml_errors import line_of, load_yaml

DEFAULT_LEVELS: tuple[str, ...] = ("sector", "department", "unit")
GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NAME_MAX = 100
TOP_KEYS = ("levels", "units", "review_groups")
UNIT_KEYS = ("parent",)
GROUP_KEYS = ("unit", "members")
LEVELS_MAX = 20  # a tree is a few levels deep; this bounds every path's length
CHAIN_SHOWN = 50  # units named in one cycle or path before the message cuts it short
SHOWN = 20  # problems listed in one message; a broken generated file must not flood a terminal
DOCUMENT = "the stored organisation document"

Loc = tuple[str | int, ...]


class OrganisationError(ConfigError):
    """The organisation file (or a stored document) is invalid, or a name is not in the tree.

    A ConfigError, so the CLI shows the message as is and exits 2: the message
    names the file, the line, the unit or group, and what to change.
    """


@dataclass(frozen=True)
class ReviewGroup:
    """People who review a process's business exceptions, optionally tied to one unit."""

    name: str
    unit: str | None = None
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Organisation:
    """A validated tree: `parents` maps every unit to its parent (None for a top node).

    A node's level is its depth: a top node is at `levels[0]`, its children at
    `levels[1]`, and so on. Construction checks the structure again (known
    parents, no cycle, not deeper than the levels), so no method below can loop.
    """

    levels: tuple[str, ...]
    parents: Mapping[str, str | None]
    review_groups: Mapping[str, ReviewGroup] = field(default_factory=dict)
    _paths: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _children: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # read-only views: a tree shared between reports must not be changed under them
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "parents", MappingProxyType(dict(self.parents)))
        object.__setattr__(self, "review_groups", MappingProxyType(dict(self.review_groups)))
        problems = _level_problems(self.levels)
        paths, tree_problems = _walk(self.parents, self.levels)
        problems += [message for _, message in tree_problems]
        for key, group in self.review_groups.items():
            if key != group.name:
                problems.append(f"review group {key!r} is stored under the name {group.name!r}")
            if group.unit is not None and group.unit not in self.parents:
                problems.append(f"review group {group.name!r}: unit {group.unit!r} is not in "
                                f"the tree{_suggest(group.unit, self.parents)}")
        if problems:
            raise OrganisationError(_message("organisation", problems))
        children: dict[str, list[str]] = {name: [] for name in self.parents}
        for name, parent in self.parents.items():
            if parent is not None:
                children[parent].append(name)
        object.__setattr__(self, "_paths", MappingProxyType(paths))
        object.__setattr__(self, "_children", MappingProxyType(
            {name: tuple(sorted(kids)) for name, kids in children.items()}))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.parents

    def _known(self, name: str) -> None:
        if name not in self:
            raise OrganisationError(f"{name!r} is not a unit of the organisation"
                                    f"{self.suggest(name)}; see config/organisation.yaml")

    def units(self) -> list[str]:
        """Every node of the tree, in name order (stable whatever order the file had)."""
        return sorted(self.parents)

    def children(self, name: str) -> list[str]:
        """The nodes directly below `name`, in name order."""
        self._known(name)
        return list(self._children[name])

    def path(self, name: str) -> tuple[str, ...]:
        """From the top node down to `name` itself, e.g. (sector, department, unit)."""
        self._known(name)
        return self._paths[name]

    def level_of(self, name: str) -> str:
        """The level `name` sits at (its depth: a top node is at `levels[0]`)."""
        return self.levels[len(self.path(name)) - 1]

    def ancestor(self, name: str, level: str) -> str:
        """The node at `level` on the path to `name`, to group figures by that level.

        A node above `level` stands for itself: a process owned by a department
        shows as that department when grouping by unit, instead of vanishing.
        """
        if level not in self.levels:
            raise OrganisationError(f"{level!r} is not a level of the organisation "
                                    f"(it has: {', '.join(self.levels)})")
        path = self.path(name)
        return path[min(self.levels.index(level), len(path) - 1)]

    def suggest(self, name: str) -> str:
        """", did you mean 'X'?" for a name close to a unit's, else "" (to end a message)."""
        return _suggest(name, self.parents)

    def to_document(self) -> dict[str, Any]:
        """A JSON-able canonical form (sorted), what a store keeps and `digest` hashes."""
        return {
            "levels": list(self.levels),
            "units": {name: self.parents[name] for name in sorted(self.parents)},
            "review_groups": {
                name: {"unit": g.unit, "members": list(g.members)}
                for name, g in sorted(self.review_groups.items())},
        }

    @classmethod
    def from_document(cls, doc: Any, source: str = DOCUMENT) -> Organisation:
        """A tree from `to_document()` output, checked like a file: it comes back from a
        database, where anyone with access could have changed it."""
        if not isinstance(doc, Mapping):
            raise OrganisationError(f"{source}: expected a mapping with levels, units and "
                                    f"review_groups, found {type(doc).__name__}; load the "
                                    "organisation file again")
        data: dict[Any, Any] = dict(doc)
        units = data.get("units")
        if isinstance(units, Mapping):
            problems: list[str] = []
            converted: dict[Any, Any] = {}
            for name, parent in units.items():
                if parent is None:
                    converted[name] = None
                elif isinstance(parent, str):
                    converted[name] = {"parent": parent}
                else:
                    problems.append(f"units[{name!r}]: the parent must be a unit name or null, "
                                    f"found {type(parent).__name__}")
            if problems:
                raise OrganisationError(_message(source, problems))
            data["units"] = converted
        return _parse(data, None, source, allow_empty=True)

    def digest(self) -> str:
        """sha256 (hex) of the canonical JSON: equal trees, equal digests, whatever the
        order of keys in the file; a store compares it to skip an unchanged file."""
        text = json.dumps(self.to_document(), sort_keys=True, ensure_ascii=True,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode("ascii")).hexdigest()


def flat_organisation(owners: Iterable[str]) -> Organisation:
    """Every owner a top-level node of its own, for when no tree has been loaded.

    Owners are then free text from the process files; as each sits above every
    lower level, `ancestor` returns the owner itself at every level and reports
    show the owner in each column.
    """
    return Organisation(DEFAULT_LEVELS, dict.fromkeys(owners))


def load_organisation(path: Path) -> Organisation:
    """Read and validate an organisation file; errors name the file, line, unit and fix."""
    data, node = load_yaml(path)
    return parse_organisation(data, node, path)


def parse_organisation(data: Any, node: yaml.Node | None, path: Path) -> Organisation:
    """Validate parsed YAML (`node` gives the lines; None when there is no file).

    Every problem of one kind is listed in one message: first the shapes and
    names, then, once those are right, the tree (parents, cycles, depth) and
    the review groups' units.
    """
    return _parse(data, node, str(path), allow_empty=False)


# -- the parser ------------------------------------------------------------------------------


class _Problems:
    """Problems with their key path; `line_of` turns the key path into a line."""

    def __init__(self, source: str, node: yaml.Node | None) -> None:
        self.source, self.node = source, node
        self.items: list[str] = []

    def add(self, loc: Loc, message: str) -> None:
        # beyond what is shown, skip the line: each lookup scans the mapping
        line = line_of(self.node, loc) if self.node is not None and not self.many else None
        where = f"line {line}: " if line else ""
        self.items.append(f"{where}{_where(loc)}: {message}")

    @property
    def many(self) -> bool:
        """Enough to show; further suggestions (difflib, quadratic) are not worth it."""
        return len(self.items) >= SHOWN

    def check(self) -> None:
        if self.items:
            raise OrganisationError(_message(self.source, self.items))


def _parse(data: Any, node: yaml.Node | None, source: str, *, allow_empty: bool
           ) -> Organisation:
    problems = _Problems(source, node)
    if not isinstance(data, Mapping):
        found = "an empty file" if data is None else type(data).__name__
        raise OrganisationError(
            f"{source}: expected a mapping with units: (and optionally levels: and "
            f"review_groups:), found {found}; see the comments at the top of "
            "config/organisation.yaml for the format")
    for key in data:
        if key not in TOP_KEYS:
            problems.add((_raw(key),), f"unknown key {key!r}{_suggest_key(key, TOP_KEYS)}; "
                         "the file has only levels:, units: and review_groups:")
    levels = _parse_levels(data.get("levels"), "levels" in data, problems)
    if "units" not in data:
        problems.add((), "units: is missing: list the units, each with its parent, e.g. "
                     "`units: {Økonomi og styring: {}, Økonomiavdelingen: "
                     "{parent: Økonomi og styring}}`")
        parents: dict[str, str | None] = {}
        raw_names: dict[str, str] = {}
    else:
        parents, raw_names = _parse_units(data["units"], problems, allow_empty)
    groups = _parse_groups(data.get("review_groups"), problems)
    problems.check()

    _, tree_problems = _walk(parents, levels, with_suggestions=True)
    for name, message in tree_problems:
        problems.add(("units", raw_names.get(name, name)), message)
    for group in groups.values():
        if group.unit is not None and group.unit not in parents:
            hint = "" if problems.many else _suggest(group.unit, parents)
            problems.add(("review_groups", group.name, "unit"),
                         f"unit {group.unit!r} is not in the tree{hint}: name a unit under "
                         "units:, or leave unit: out")
    problems.check()
    return Organisation(levels, parents, groups)


def _parse_levels(value: Any, given: bool, problems: _Problems) -> tuple[str, ...]:
    if not given:
        return DEFAULT_LEVELS
    example = "e.g. levels: [sector, department, unit]"
    if not isinstance(value, list):
        problems.add(("levels",), f"expected a list of level names, top first ({example}), "
                     f"found {_kind(value)}")
        return DEFAULT_LEVELS
    if not value:
        problems.add(("levels",), f"is empty: name at least one level, top first ({example}), "
                     "or leave levels: out for sector, department, unit")
        return DEFAULT_LEVELS
    if len(value) > LEVELS_MAX:
        problems.add(("levels",), f"has {len(value)} levels, at most {LEVELS_MAX}: an "
                     "organisation is a few levels deep (sector, department, unit)")
        return DEFAULT_LEVELS
    out: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        loc: Loc = ("levels", index)
        if not isinstance(item, str):
            problems.add(loc, f"{_kind(item)} is not a level name: write text, {example}")
            continue
        name = item.strip()
        bad = _name_problem(name)
        if bad:
            problems.add(loc, f"the level name {bad}")
            continue
        first = seen.setdefault(_fold(name), index)
        if first != index:
            problems.add(loc, f"the level {name!r} is named twice (also levels[{first}]): "
                         "give each level its own name")
            continue
        out.append(name)
    return tuple(out) if len(out) == len(value) else DEFAULT_LEVELS


def _parse_units(value: Any, problems: _Problems, allow_empty: bool
                 ) -> tuple[dict[str, str | None], dict[str, str]]:
    """{name: parent} and the name as written (for its line) of every well-formed unit."""
    parents: dict[str, str | None] = {}
    raw_names: dict[str, str] = {}
    example = "e.g. `Økonomiavdelingen: {parent: Økonomi og styring}`"
    if value is None and allow_empty:
        return parents, raw_names
    if not isinstance(value, Mapping):
        problems.add(("units",), f"expected a mapping of unit name -> {{parent: ...}} ({example}), "
                     f"found {_kind(value)}")
        return parents, raw_names
    if not value and not allow_empty:
        problems.add(("units",), f"is empty: list at least one unit ({example})")
    seen: dict[str, str] = {}
    for key, entry in value.items():
        raw = _raw(key)
        loc: Loc = ("units", raw)
        if not isinstance(key, str):
            problems.add(loc, f"the unit name {key!r} is not text: put it in quotes")
            continue
        name = key.strip()
        bad = _name_problem(name)
        if bad:
            problems.add(loc, f"the unit name {bad}")
            continue
        folded = _fold(name)
        if folded in seen:
            other = seen[folded]
            line = line_of(problems.node, ("units", other)) \
                if problems.node and not problems.many else None
            at = f" on line {line}" if line else ""
            problems.add(loc, f"the unit {name!r} is also listed as {other.strip()!r}{at}, "
                         "differing only in case or surrounding spaces: keep one of them")
            continue
        seen[folded] = key
        ok, parent = _parse_unit_entry(entry, loc, name, problems)
        if ok:
            parents[name] = parent
            raw_names[name] = raw
    return parents, raw_names


def _parse_unit_entry(entry: Any, loc: Loc, name: str, problems: _Problems
                      ) -> tuple[bool, str | None]:
    """(well-formed?, the parent's name or None for a top-level unit)."""
    if entry is None:
        return True, None
    if not isinstance(entry, Mapping):
        problems.add(loc, f"expected {{}} (a top-level unit) or {{parent: <unit>}}, found "
                     f"{_kind(entry)}: write e.g. `{_short(name)}: {{parent: Økonomiavdelingen}}`")
        return False, None
    ok = True
    for key in entry:
        if key not in UNIT_KEYS:
            problems.add((*loc, _raw(key)), f"unknown key {key!r}{_suggest_key(key, UNIT_KEYS)}; a "
                         "unit has only parent:")
            ok = False
    if "parent" not in entry or entry["parent"] is None:
        return ok, None
    parent = entry["parent"]
    if not isinstance(parent, str) or not parent.strip():
        problems.add((*loc, "parent"), f"the parent must be the name of another unit, found "
                     f"{_kind(parent)}; leave parent: out for a top-level unit")
        return False, None
    return ok, parent.strip()


def _parse_groups(value: Any, problems: _Problems) -> dict[str, ReviewGroup]:
    groups: dict[str, ReviewGroup] = {}
    if value is None:
        return groups
    if not isinstance(value, Mapping):
        problems.add(("review_groups",), "expected a mapping of group name -> {unit: ..., "
                     f"members: [...]}}, found {_kind(value)}")
        return groups
    for key, entry in value.items():
        raw = _raw(key)
        loc: Loc = ("review_groups", raw)
        if not isinstance(key, str) or not GROUP_NAME.match(key):
            problems.add(loc, f"the review group name {key!r} is not lower-case letters, "
                         "digits and dashes (1-63, starting with a letter or digit): rename "
                         "it, e.g. faktura-kontroll")
            continue
        if entry is None:
            groups[key] = ReviewGroup(key)
            continue
        if not isinstance(entry, Mapping):
            problems.add(loc, "expected a mapping with unit: and members:, found "
                         f"{_kind(entry)}: write e.g. `{key}: {{members: [kari, ola]}}`")
            continue
        before = len(problems.items)
        for sub in entry:
            if sub not in GROUP_KEYS:
                problems.add((*loc, _raw(sub)), f"unknown key {sub!r}"
                             f"{_suggest_key(sub, GROUP_KEYS)}; a review group has only unit: "
                             "and members:")
        unit = entry.get("unit")
        if unit is not None and (not isinstance(unit, str) or not unit.strip()):
            problems.add((*loc, "unit"), f"the unit must be a unit's name, found {_kind(unit)}"
                         "; leave unit: out for a group of no particular unit")
        members = _parse_members(entry.get("members"), (*loc, "members"), problems)
        if len(problems.items) == before:
            groups[key] = ReviewGroup(key, unit.strip() if isinstance(unit, str) else None,
                                      members)
    return groups


def _parse_members(value: Any, loc: Loc, problems: _Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    example = "e.g. members: [kari, ola]"
    if not isinstance(value, list):
        problems.add(loc, f"expected a list of console account names ({example}), found "
                     f"{_kind(value)}")
        return ()
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.add((*loc, index), f"{_kind(item)} is not an account name: write the "
                         f"person's console account name ({example})")
            continue
        name = item.strip()
        bad = _name_problem(name)
        if bad:
            problems.add((*loc, index), f"the account name {bad}")
        elif name in out:
            problems.add((*loc, index), f"{name!r} is listed twice: keep one")
        else:
            out.append(name)
    return tuple(sorted(out))


# -- shared checks ---------------------------------------------------------------------------


def _walk(parents: Mapping[str, str | None], levels: Sequence[str], *,
          with_suggestions: bool = False
          ) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Each node's path from the top, and (unit, message) for unknown parents, cycles and
    nodes deeper than the levels. Iterative: a deep chain cannot exhaust the stack."""
    problems: list[tuple[str, str]] = []
    paths: dict[str, tuple[str, ...]] = {}
    broken: set[str] = set()
    order = {name: index for index, name in enumerate(parents)}
    for name in parents:
        if name in paths or name in broken:
            continue
        chain: list[str] = []
        on_chain: set[str] = set()
        current: str | None = name
        while current is not None and current in parents and current not in paths \
                and current not in broken and current not in on_chain:
            chain.append(current)
            on_chain.add(current)
            current = parents[current]
        if current is None:
            base: tuple[str, ...] | None = ()
        elif current in paths:
            base = paths[current]
        elif current in on_chain:
            cycle = chain[chain.index(current):]
            start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
            cycle = cycle[start:] + cycle[:start]
            shown = _chain([repr(unit) for unit in [*cycle, cycle[0]]], " -> ")
            problems.append((cycle[0], f"the parents form a cycle: {shown}; give one of them "
                             "another parent, or leave parent: out to make it top-level"))
            base = None
        elif current in broken:
            base = None
        else:  # an unknown parent
            hint = _suggest(current, parents) if with_suggestions and len(problems) < SHOWN \
                else ""
            problems.append((chain[-1], f"the parent {current!r} is not a unit of the tree"
                             f"{hint}: add it under units:, or correct the name"))
            base = None
        if base is None:
            broken.update(chain)
            continue
        for index in range(len(chain) - 1, -1, -1):
            unit = chain[index]
            base = (*base, unit)
            if len(base) > len(levels):  # stored paths never are: this is the first too deep
                problems.append((unit, f"the tree is deeper than its levels: "
                                 f"{_chain(base, ' > ')} is {len(base)} deep, but levels has "
                                 f"{len(levels)} ({', '.join(levels)}): attach the unit "
                                 "higher up, or add a level to levels:"))
                broken.update(chain[:index + 1])
                break
            paths[unit] = base
    return paths, problems


def _chain(names: Sequence[str], joint: str) -> str:
    """Every name of a chain, unless a generated file made it absurdly long."""
    if len(names) <= CHAIN_SHOWN:
        return joint.join(names)
    return f"{joint.join(names[:CHAIN_SHOWN - 1])}{joint}... ({len(names) - CHAIN_SHOWN} " \
           f"more){joint}{names[-1]}"


def _level_problems(levels: Sequence[str]) -> list[str]:
    if not levels:
        return ["levels is empty"]
    if len(levels) > LEVELS_MAX:
        return [f"levels has {len(levels)} levels, at most {LEVELS_MAX}"]
    if not all(isinstance(level, str) and level for level in levels):
        return [f"levels must be non-empty names, found {list(levels)!r}"]
    if len({_fold(level) for level in levels}) != len(levels):
        return [f"levels names a level twice: {', '.join(levels)}"]
    return []


def _name_problem(name: str) -> str | None:
    """Why `name` (already stripped) cannot name a unit, level or account, if it cannot."""
    if not name:
        return "is empty: write a name"
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long: shorten it to at most {NAME_MAX}"
    for char in name:
        category = unicodedata.category(char)
        if category == "Cs":
            return f"holds a lone surrogate ({char!r}): write it in valid Unicode"
        if category in ("Cc", "Zl", "Zp"):
            return f"holds a control character ({char!r}): remove it"
    return None


def _fold(name: str) -> str:
    """Caseless form, to catch two names meant to be one ('HR' and 'hr', NFC and NFD)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _suggest(name: str, candidates: Iterable[str]) -> str:
    folded: dict[str, str] = {}
    for candidate in candidates:
        folded.setdefault(_fold(candidate.strip()), candidate)
    key = _fold(name.strip())
    if key in folded and folded[key] != name:
        return f", did you mean {folded[key]!r}?"
    close = difflib.get_close_matches(key, list(folded), n=3, cutoff=0.6)
    if not close:
        return ""
    return f", did you mean {' or '.join(repr(folded[c]) for c in close)}?"


def _suggest_key(key: Any, known: Sequence[str]) -> str:
    return _suggest(key, known) if isinstance(key, str) else ""


def _raw(key: Any) -> str:
    """A key as `line_of` can find it (YAML node values are text)."""
    return key if isinstance(key, str) else str(key)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, str | int | float):
        text = repr(value)
        return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
    return type(value).__name__


def _where(loc: Loc) -> str:
    """`units['Økonomiavdelingen'].parent`: names are free text, so they are quoted."""
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif index == 1:
            out += f"[{_short(part)}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _short(name: str) -> str:
    """A name quoted for a message, cut short: a 1 MB file may hold a very long one."""
    return repr(name) if len(name) <= 60 else f"{name[:57]!r}..."


def _message(source: str, problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    lines = [f"{source}: {len(problems)} problems:"]
    lines += [f"  - {problem}" for problem in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more; fix these first")
    return "\n".join(lines)
