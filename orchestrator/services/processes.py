"""Processes as people ask for them: list, look at, pause, resume, register.

Registering validates every file the way `rpa process register` always has
(the model, then the bot, feeder and input model it names) before anything is
written, so one bad file registers nothing. An owner may register only
processes of their own owner, and may not take over a name another owner has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ConfigError
from orchestrator.private_files import write_private
from orchestrator.process_config import ProcessConfig, check_loadable, load_process
from orchestrator.services import organisation
from orchestrator.services.access import AccessDenied, Permission, Principal
from orchestrator.services.items import check_process
from queues import ProcessInfo, ProcessSpec, Store

MAX_UPLOAD = 1_000_000  # bytes: the same bound as a process file on disk


def list_processes(store: Store, asker: Principal) -> list[ProcessInfo]:
    asker.require(Permission.VIEW_PROCESSES)
    return [p for p in store.list_processes() if asker.sees(p.spec.owner)]


def get_process(store: Store, asker: Principal, name: str) -> ProcessInfo:
    asker.require(Permission.VIEW_PROCESSES)
    check_process(store, asker, name)
    return store.get_process(name)


def as_yaml(info: ProcessInfo) -> str:
    """The registered definition as YAML, keys in the order the file model gives them."""
    return yaml.safe_dump(info.spec.definition, sort_keys=False, allow_unicode=True)


def set_paused(store: Store, asker: Principal, name: str, paused: bool) -> None:
    asker.require(Permission.CONTROL_PROCESSES)
    check_process(store, asker, name)
    store.set_paused(name, paused, actor=asker.actor)


@dataclass(frozen=True)
class Registered:
    name: str
    source: str  # the file it came from
    created: bool


def validate_files(paths: Sequence[Path]) -> list[tuple[Path, ProcessSpec]]:
    """Every file parsed, checked and loadable, and no name twice; or ConfigError."""
    configs: list[tuple[Path, ProcessConfig]] = [(p, load_process(p)) for p in paths]
    for path, cfg in configs:
        check_loadable(path, cfg)
    names: dict[str, Path] = {}
    for path, cfg in configs:
        if cfg.name in names:
            raise ConfigError(f"{path}: process name {cfg.name!r} is already used by "
                              f"{names[cfg.name]}")
        names[cfg.name] = path
    specs = []
    for path, cfg in configs:
        try:
            specs.append((path, cfg.to_spec()))
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    return specs


def register(store: Store, asker: Principal, paths: Sequence[Path], *, check: bool = False
             ) -> list[Registered]:
    """Validate all files, then create or update their processes (audited).

    The upserts are separate transactions of the store: a database error midway
    (rare) can leave earlier ones in; a bad file never does.
    """
    asker.require(Permission.REGISTER_PROCESSES)
    specs = validate_files(paths)
    for path, spec in specs:
        _check_owner(store, asker, path, spec)
        review = spec.definition.get("review") or {}
        organisation.check_process(store, path, spec.owner, review.get("group"))
    if check:
        return [Registered(spec.name, str(path), False) for path, spec in specs]
    return [Registered(spec.name, str(path), store.upsert_process(spec, actor=asker.actor))
            for path, spec in specs]


CODE_KEYS = ("feeder", "input_model")  # name code the scheduler imports and calls


def _check_owner(store: Store, asker: Principal, path: Path, spec: ProcessSpec) -> None:
    """An owner registers only their own processes, and names no new code.

    `feeder:` and `input_model:` name Python callables that the scheduler imports
    and runs; only an administrator may point a process at different ones, so an
    owner's upload must keep what the process has (or name none).
    """
    if not asker.scoped:
        return
    if spec.owner != asker.owner:
        raise AccessDenied(f"{path.name}: owner {spec.owner!r} is not yours ({asker.owner!r})")
    known = {p.spec.name: p.spec for p in store.list_processes()}
    if spec.name in known and known[spec.name].owner != asker.owner:
        raise AccessDenied(f"{path.name}: the name {spec.name!r} belongs to another owner")
    before = known[spec.name].definition if spec.name in known else {}
    if ":" in spec.bot and before.get("bot") != spec.bot:
        raise AccessDenied(f"{path.name}: bot: a bot named by module path is code from the "
                           "bots folder; only an administrator may set or change it")
    for key in CODE_KEYS:
        if spec.definition.get(key) not in (None, before.get(key)):
            raise AccessDenied(f"{path.name}: {key}: only an administrator may set or change "
                               "the code a process runs; keep the registered value")


def register_upload(store: Store, asker: Principal, filename: str, content: bytes, *,
                    check: bool = False) -> list[Registered]:
    """Register one uploaded process file, validated exactly as a file on disk.

    The bytes go to a private temporary file under a fixed name (the uploaded
    name is only quoted in messages), so a name like `../../x` writes nowhere.
    """
    asker.require(Permission.REGISTER_PROCESSES)
    if len(content) > MAX_UPLOAD:
        raise ConfigError(f"{filename[:80]}: over {MAX_UPLOAD:,} bytes; a process file is small")
    if not content.strip():
        raise ConfigError(f"{filename[:80]}: the file is empty")
    shown = "".join(c for c in Path(filename).name if c.isprintable())[:80] or "upload.yaml"
    with tempfile.TemporaryDirectory(prefix="rpa-upload-") as folder:
        path = Path(folder) / "process.yaml"
        write_private(path, content)
        try:
            done = register(store, asker, [path], check=check)
        except ConfigError as err:
            raise ConfigError(str(err).replace(str(path), shown)) from None
    return [Registered(r.name, shown, r.created) for r in done]


def schedule_rows(store: Store, asker: Principal, tz: str, now: float, *, led: bool
                  ) -> list[dict[str, Any]]:
    """One row per trigger (and per process with only a window): next fires, windows.

    `led`: a scheduler leader is running, so every time trigger is scheduled (the
    leader rebuilds its jobs from the processes at every sync).
    """
    from orchestrator.scheduling.calendar import ProcessCalendar
    from orchestrator.scheduling.triggers import timed_triggers, trigger_specs

    infos = list_processes(store, asker)
    timed = {i.spec.name: timed_triggers(i.spec.name, i.spec.definition, tz) for i in infos}
    last = store.fires.recent_fires([i.spec.name for i in infos])
    at = datetime.fromtimestamp(now, UTC)
    rows: list[dict[str, Any]] = []
    for info in infos:
        name, definition = info.spec.name, info.spec.definition
        cal = ProcessCalendar.from_definition(definition, tz)
        opens = None if cal is None else cal.next_open(at)
        window = {"open": cal is None or cal.is_open(at),
                  "next_open": None if opens is None else opens.timestamp()}
        recent = next(iter(last.get(name) or []), None)
        base = {"process": name, "paused": info.paused, "timezone": definition.get("timezone")
                or tz, "window": window if cal is not None else None,
                "last_fire": None if recent is None else {
                    "scheduled_at": recent["scheduled_at"], "status": recent["status"],
                    "added": recent["items_added"], "node": recent["node"]}}
        for t in timed[name]:
            computed = t.next_after(at)
            rows.append(base | {"trigger": t.spec.describe(), "key": t.key,
                                "timezone": t.timezone,
                                "next_fire": None if computed is None else computed.timestamp(),
                                "scheduled": led})
        queue_triggers = [s for s in trigger_specs(definition) if s.kind == "queue"]
        rows.extend(base | {"trigger": s.describe(), "key": None, "next_fire": None,
                            "scheduled": False} for s in queue_triggers)
        if not timed[name] and not queue_triggers and cal is not None:
            rows.append(base | {"trigger": "-", "key": None, "next_fire": None,
                                "scheduled": False})
    return rows
