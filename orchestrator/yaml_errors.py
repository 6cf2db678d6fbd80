"""Readable errors for YAML files validated by pydantic: file, key path, line, fix.

pydantic reports a location like `('retry', 'max_attempts')`; the YAML node
tree still knows on which line that key stands, so a person is sent straight
to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.errors import ConfigError

MAX_BYTES = 1_000_000


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases.

    Aliases are refused outright: a few hundred bytes of nested `*refs` expand
    to gigabytes (an "alias bomb"), and process files have no need of them.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} is not allowed in process files: "
                "write the value out in full", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False
                          ) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # unhashable: the constructor below reports it
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first}, again on "
                    f"line {key_node.start_mark.line + 1}): keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree; syntax errors name file and line."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a process file "
                              f"(at most {MAX_BYTES} bytes)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from None
    try:
        loader = StrictLoader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(f"{path}: {where}: YAML syntax error: {err.problem}") from None
    except yaml.YAMLError as err:  # reader errors (control characters) carry no mark
        raise ConfigError(f"{path}: YAML error: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply") from None
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the value at `loc` (or of the deepest key that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def key_path(loc: Sequence[int | str]) -> str:
    """`retry.max_attempts`, `lines[2].amount`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def config_error(path: Path, node: yaml.Node | None, err: ValidationError) -> ConfigError:
    """One message listing every problem with its key, line and what was expected."""
    lines = [f"{path}: {err.error_count()} problem(s):"]
    for problem in err.errors():
        loc = [p for p in problem["loc"] if not (isinstance(p, str) and "[" in p)]
        line = line_of(node, loc)
        where = f"line {line}: " if line else ""
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against the documented keys)"
        elif problem["type"] == "missing":
            message = "required key is missing"
        given = problem.get("input")
        shown = "" if problem["type"] in ("missing", "extra_forbidden") or isinstance(
            given, dict | list) else f" (got {given!r})"
        lines.append(f"  - {where}{key_path(loc)}: {message}{shown}")
    return ConfigError("\n".join(lines))
