"""The organisation tree as the other services use it: load a version, find the one in force.

`rpa org load config/organisation.yaml` stores a new dated version when the
file changed (audited). Until a tree is loaded the owners of process files are
free text and every owner is a unit of its own; once one is, a process's owner
must be a unit of it and its review group one of its groups, checked at
registration.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ConfigError
from orchestrator.organisation import Organisation, flat_organisation, load_organisation
from orchestrator.services.access import Permission, Principal
from queues import Store
from queues.organisation_store import OrganisationVersion


def load(store: Store, asker: Principal, path: Path, *, valid_from: float | None = None,
         check: bool = False) -> tuple[Organisation, OrganisationVersion | None]:
    """Validate `path` and store it as the version in force from `valid_from` (default now).

    Returns the tree and the new version, or None when the file equals the tree
    in force (nothing is written) or when only checking. Processes already
    registered must still find their owner and review group in the new tree.
    """
    asker.require(Permission.REGISTER_PROCESSES)
    if asker.scoped:
        from orchestrator.services.access import AccessDenied
        raise AccessDenied("only an administrator may change the organisation")
    tree = load_organisation(path)
    for info in store.list_processes():
        problem = placement_problem(tree, info.spec.owner, _group_of(info.spec.definition))
        if problem:
            raise ConfigError(f"{path}: process {info.spec.name!r} {problem}; move the process "
                              "first, or keep its unit in the tree")
    if check:
        return tree, None
    when = store.clock() if valid_from is None else valid_from
    return tree, store.organisation.add(tree.to_document(), tree.digest(), when,
                                        actor=asker.actor)


def _group_of(definition: dict[str, object]) -> str | None:
    review = definition.get("review")
    group = review.get("group") if isinstance(review, dict) else None
    return group if isinstance(group, str) else None


def placement_problem(tree: Organisation, owner: str, group: str | None) -> str | None:
    """Why a process with this owner and review group does not fit the tree, if it does not."""
    if owner not in tree:
        return f"has owner {owner!r}, which is not a unit of the organisation{tree.suggest(owner)}"
    if group is not None and group not in tree.review_groups:
        known = ", ".join(sorted(tree.review_groups)) or "none"
        return f"names review group {group!r}, which the organisation does not have " \
               f"(it has: {known})"
    return None


@dataclass(frozen=True)
class History:
    """Every stored version, to find the tree in force at any moment."""

    versions: tuple[OrganisationVersion, ...]

    @property
    def loaded(self) -> bool:
        return bool(self.versions)

    def starts(self) -> list[float]:
        return [v.valid_from for v in self.versions]

    def index_at(self, ts: float) -> int:
        """The index of the version in force at `ts` (the first one before it began)."""
        return max(0, bisect.bisect_right(self.starts(), ts) - 1)

    def tree(self, index: int) -> Organisation:
        return _tree(self.versions[index])

    def at(self, ts: float) -> Organisation | None:
        return self.tree(self.index_at(ts)) if self.versions else None

    def current(self) -> Organisation | None:
        return self.tree(len(self.versions) - 1) if self.versions else None


_TREES: dict[tuple[int, str], Organisation] = {}


def _tree(version: OrganisationVersion) -> Organisation:
    """A stored document as a tree (validated again: it comes back from a database)."""
    key = (version.id, version.digest)
    if key not in _TREES:
        _TREES[key] = Organisation.from_document(version.document)
    return _TREES[key]


def history(store: Store) -> History:
    return History(tuple(store.organisation.versions()))


def current(store: Store) -> Organisation | None:
    return history(store).current()


def check_process(store: Store, path: Path, owner: str, group: str | None) -> None:
    """At registration: the owner and review group must be in the tree in force, if any."""
    tree = current(store)
    if tree is None:
        return
    problem = placement_problem(tree, owner, group)
    if problem:
        key = ["owner"] if owner not in tree else ["review", "group"]
        line = _line(path, key)
        where = f"{path}: line {line}: {'.'.join(key)}" if line else f"{path}: {'.'.join(key)}"
        raise ConfigError(f"{where}: the process {problem}; see config/organisation.yaml and "
                          "`rpa org show`")


def _line(path: Path, key: list[str]) -> int | None:
    from orchestrator.yaml_errors import line_of, load_yaml
    try:
        _, node = load_yaml(path)
    except ConfigError:
        return None
    return line_of(node, key)


def tree_or_flat(store: Store, owners: list[str]) -> Organisation:
    """The tree in force, or every owner a unit of its own when none is loaded."""
    return current(store) or flat_organisation(owners)
