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


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree; syntax errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(f"{path}: {where}: YAML syntax error: {err.problem}") from None
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
