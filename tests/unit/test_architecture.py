"""The layering the README's architecture section draws holds in the code.

Every `import` is read from the source (module level and inside functions, since
the CLI imports lazily), so a forbidden arrow fails here before it becomes a
cycle. The grep of the groundwork issue is a test too: nothing in the worker,
the scheduler or the CLI touches SQLAlchemy or an engine.
"""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import queues

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("queues", "bots", "orchestrator")
BASE = {"errors", "durations", "settings", "logs", "yaml_errors", "secrets", "scrubbing",
        "private_files", "organisation", "i18n"}
# bottom to top: a module imports only from its own layer and from lower ranks
RANKS = {
    "queues": 0, "bots": 0,
    "orchestrator.base": 1,  # errors, settings, durations, logs: imported by everything
    "orchestrator.alerts": 1.5,  # alert rules, messages and channels: the scheduler raises them
    "orchestrator.scheduling": 2, "orchestrator.reports": 2,
    "orchestrator.modules": 3,  # process files, item files, credentials, the database
    "orchestrator.worker": 4,
    "orchestrator.services": 5,  # use cases the CLI, the console and the API share
    "orchestrator.top": 5,  # wiring above worker and scheduling: `node`, `demo`
    "orchestrator.web": 6,  # the console and the REST API
    "orchestrator.cli": 7,
    "orchestrator.entry": 8,  # `python -m orchestrator`
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def layer(module: str) -> str | None:
    """The layer of one of our modules; None for a package root (`orchestrator`)."""
    parts = module.split(".")
    if parts[0] != "orchestrator":
        return parts[0]
    if len(parts) == 1:
        return None
    sub = parts[1]
    if sub in ("cli", "worker", "scheduling", "reports", "services", "web", "alerts"):
        return f"orchestrator.{sub}"
    if sub in BASE:
        return "orchestrator.base"
    if sub in ("node", "demo"):
        return "orchestrator.top"
    if sub == "__main__":
        return "orchestrator.entry"
    return "orchestrator.modules"


def arrows() -> Iterator[tuple[str, str, str, str]]:
    """(module, imported module, its layer, their layer) for every import of ours."""
    for module, path in modules():
        here = layer(module)
        for target in imports_of(path):
            if target.split(".")[0] not in PACKAGES:
                continue
            there = layer(target)
            if here is not None and there is not None and there != here:
                yield module, target, here, there


def test_each_layer_imports_only_downwards() -> None:
    wrong = {f"{module} imports {target} ({here} -> {there})"
             for module, target, here, there in arrows() if RANKS[there] >= RANKS[here]}
    assert not wrong, "\n".join(sorted(wrong))


def test_queues_and_bots_know_nothing_of_each_other_or_the_orchestrator() -> None:
    outward = [f"{module} imports {target}" for module, target, here, _ in arrows()
               if here in ("queues", "bots")]
    assert not outward, "\n".join(outward)


SQL = re.compile(r"sqlalchemy|\.engine\b")


@pytest.mark.parametrize("folder", ["orchestrator/worker", "orchestrator/scheduling",
                                    "orchestrator/cli"])
def test_worker_scheduler_and_cli_reach_the_database_only_through_the_store(
        folder: str) -> None:
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in sorted((ROOT / folder).rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if SQL.search(line)]
    assert not hits, "\n".join(hits)


QUEUES_EXPORTED = {
    "AuditKeyMissing", "AuditTampered", "ChainKey", "Checkpoint", "ClaimedItem", "EnqueueResult",
    "IllegalTransition", "ItemFilter", "ItemNotFound",
    "ItemView", "LeaseLost", "NewItem", "Outcome", "PayloadInvalid", "Priority",
    "ProcessInfo", "ProcessSpec", "QueueError", "QueueNotFound", "RetryDecision",
    "RetryPolicy", "Status", "Store", "StoreError", "StoreUnavailable", "open_store",
}


def test_the_queue_packages_public_surface() -> None:
    assert set(queues.__all__) == QUEUES_EXPORTED
    public = {name for name in dir(queues) if not name.startswith("_")
              and not isinstance(getattr(queues, name), types.ModuleType)}
    assert public - {"annotations"} == QUEUES_EXPORTED
