"""``config/costs.yaml``: what the platform costs, and how each cost is split.

The file lists cost *periods* (any absolute ``parse_period`` form: ``2026``,
``2026-H2``, ...), each with cost lines. A report for some period gets, from
every configured period that overlaps it, each line pro-rated by calendar days:

    share = amount * overlap_days / configured_period_days, rounded half-even to øre

so a 2026-Q3 report carries 92/365 of the 2026 licence. Overlapping configured
periods add up (a yearly licence plus a one-off H2 project is two periods on
purpose). A report period not covered at all gets no lines. Each pro-rated line
carries a note with the full amount and the fraction, and the report states the
pro-rated amount it split. Lines with the same name, driver and process from
several configured periods are summed into one; same name with a different
driver or process gets the period label appended, so names stay unique.

Amounts are written in NOK with at most two decimals; quote them
(``"1200000.00"``) so YAML does not turn them into floats. Unquoted numbers are
accepted when they convert exactly.

Errors name the file, the key path (``periods[1].lines[0].amount``), the line in
the file, and what was expected, so the person editing the YAML can fix it
without reading this code.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestrator.reports.allocation import CostLine, Driver
from orchestrator.reports.money import format_nok, ore_to_nok, to_ore
from orchestrator.reports.periods import Period, ReportError, parse_period

_ALLOWED_KEYS = {
    0: "currency, timezone, hourly_rate, fte_hours_per_year, periods",
    2: "period, lines",
    4: "name, amount, driver, process",
}


class CostsConfigError(ReportError, ValueError):
    """costs.yaml cannot be read; ``problems`` holds ``(key path, message)`` pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _money(value: object) -> Decimal:
    """NOK text/number -> exact Decimal kroner, refusing anything not whole øre."""
    if isinstance(value, float):
        value = repr(value)  # shortest text that round-trips: 0.1 -> "0.1"
    if not isinstance(value, str | int | Decimal) or isinstance(value, bool):
        raise ValueError(f'expected an amount such as "1200000.00", got {value!r}')
    return ore_to_nok(to_ore(value))


Amount = Annotated[Decimal, BeforeValidator(_money)]


class CostLineConfig(BaseModel):
    """One cost line as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    amount: Amount
    driver: Driver
    process: str | None = None

    @model_validator(mode="after")
    def _process_with_direct(self) -> Self:
        if self.driver == "direct" and not self.process:
            raise ValueError(f"line {self.name!r}: driver 'direct' needs a 'process'")
        if self.driver != "direct" and self.process is not None:
            raise ValueError(f"line {self.name!r}: 'process' is only used with driver 'direct'")
        return self

    @property
    def amount_ore(self) -> int:
        return int(self.amount * 100)


class CostPeriodConfig(BaseModel):
    """A configured period and the lines that cost money in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str
    lines: list[CostLineConfig] = Field(min_length=1)

    @field_validator("period", mode="before")
    @classmethod
    def _absolute_period(cls, value: object) -> str:
        if isinstance(value, date):  # YAML reads an unquoted 2026-10-01 as a date
            value = value.isoformat()
        text = str(value).strip() if isinstance(value, int | str) else ""
        if text.lower().startswith(("this-", "last-")):
            raise ValueError(f"{text!r} moves with the calendar; write an absolute period")
        parse_period(text)  # raises PeriodError (a ValueError) with the accepted forms
        return text

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [line.name for line in self.lines]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"line names repeat within {self.period}: {', '.join(repeated)}")
        return self


class CostsConfig(BaseModel):
    """The whole file. ``hourly_rate`` is the value of one freed hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Literal["NOK"] = "NOK"
    timezone: str = "Europe/Oslo"
    hourly_rate: Amount
    fte_hours_per_year: Decimal = Field(default=Decimal(1695), gt=0)
    periods: list[CostPeriodConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like Europe/Oslo") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hourly_rate_ore(self) -> int:
        return int(self.hourly_rate * 100)

    def cost_periods(self) -> list[tuple[Period, CostPeriodConfig]]:
        """Each configured period parsed in the configured time zone."""
        return [(parse_period(p.period, self.tz), p) for p in self.periods]

    def lines_for(self, period: Period) -> list[CostLine]:
        """The cost lines for a report period, pro-rated by calendar days (see module doc)."""
        entries: list[tuple[str, CostLineConfig, int, str, str]] = []
        for configured, section in self.cost_periods():
            overlap = configured.intersection(period)
            if overlap is None:
                continue
            share = overlap.days / configured.days
            for line in section.lines:
                amount = round(line.amount_ore * share)  # Fraction rounds half-even
                note = "" if share == 1 else _note(line.amount_ore, configured, overlap, amount)
                entries.append((line.name, line, amount, note, configured.label))
        variants: dict[str, set[tuple[str, str | None]]] = {}
        for name, line, *_ in entries:
            variants.setdefault(name, set()).add((line.driver, line.process))
        merged: dict[tuple[str, str, str | None], CostLine] = {}
        for name, line, amount, note, label in entries:
            unique = name if len(variants[name]) == 1 else f"{name} ({label})"
            key = (unique, line.driver, line.process)
            if key in merged:
                old = merged[key]
                notes = "; ".join(n for n in (old.note, note) if n)
                merged[key] = CostLine(
                    unique, old.amount_ore + amount, line.driver, line.process, notes
                )
            else:
                merged[key] = CostLine(unique, amount, line.driver, line.process, note)
        return list(merged.values())


def _days_text(days: Fraction) -> str:
    return str(days) if days.denominator == 1 else f"{float(days):.4f}"


def _note(full_ore: int, configured: Period, overlap: Period, amount: int) -> str:
    return (
        f"{format_nok(full_ore)} for {configured.label} x {_days_text(overlap.days)}/"
        f"{_days_text(configured.days)} days = {format_nok(amount)}"
    )


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node along ``loc`` in the composed YAML."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        node = child
    return node.start_mark.line + 1 if node is not None else line


def _problem(error: Any, root: yaml.Node | None) -> tuple[str, int | None, str]:
    """``(key path, line or None, message)`` for one pydantic error."""
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = f"unknown key; expected one of: {_ALLOWED_KEYS.get(len(loc) - 1, '')}"
    elif error["type"] != "value_error" and not isinstance(error.get("input"), dict | list):
        message += f" (got {error.get('input')!r})"
    return _key_path(loc), _line_of(root, loc), message


def load_costs(path: str | Path) -> CostsConfig:
    """Read and validate costs.yaml; every failure is a ``CostsConfigError``."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CostsConfigError(f"{source}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CostsConfigError(f"{source}{where}: YAML syntax error: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise CostsConfigError(f"{source}: YAML syntax error: {exc}") from exc
    if not isinstance(data, dict):
        raise CostsConfigError(
            f"{source}: expected a mapping with the keys {_ALLOWED_KEYS[0]}, "
            f"got {type(data).__name__}"
        )
    try:
        return CostsConfig.model_validate(data)
    except ValidationError as exc:
        found = [_problem(error, root) for error in exc.errors()]
        lines = "\n".join(
            f"  {key}{f' (line {line})' if line else ''}: {message}" for key, line, message in found
        )
        count = f"{len(found)} problem" + ("s" if len(found) != 1 else "")
        problems = [(key, message) for key, _, message in found]
        raise CostsConfigError(f"{source}: {count}:\n{lines}", problems) from exc
