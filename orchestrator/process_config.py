"""Process definitions in YAML: the model, its validation, and its spec for the store.

A process file says who owns the work, which bot does it, what a person's
minute is worth (`manual_minutes_per_item`) and how failures are retried.
Unknown keys are errors, so a misspelt key is caught instead of ignored.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.durations import bounded_duration
from orchestrator.errors import ConfigError
from orchestrator.scheduling.calendar import Holidays, Window
from orchestrator.scheduling.review_clock import DEFAULT_SLA, ReviewClockError, WorkingTime
from orchestrator.scheduling.triggers import TriggerSpec, optional_zone
from orchestrator.yaml_errors import config_error, line_of, load_yaml
from queues import Priority, ProcessSpec, RetryPolicy
from queues.breaker import DEFAULT_AFTER as DEFAULT_BREAKER_AFTER
from queues.breaker import DEFAULT_COOL_DOWN as DEFAULT_BREAKER_COOL_DOWN

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LEASE_MIN, LEASE_MAX = 5.0, 24 * 3600.0
SLA_MAX = 365 * 86400.0
CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class RetrySection(BaseModel):
    """How application errors are retried (business exceptions never are)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff: float = Field(default=30.0, description="first wait; doubles each attempt")
    backoff_max: float = Field(default=3600.0)

    @field_validator("backoff", "backoff_max", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return bounded_duration(value, 0, 7 * 86400)

    @model_validator(mode="after")
    def _backoff_order(self) -> RetrySection:
        if self.backoff > self.backoff_max:
            raise ValueError(f"backoff ({self.backoff:g}s) must not exceed backoff_max "
                             f"({self.backoff_max:g}s)")
        return self


RETENTION_MAX = 3650 * 86400.0


class RetentionSection(BaseModel):
    """How long after an item is finished its data is kept (`rpa purge` removes it then).

    Each key is a duration from the moment the item reached a final state (done,
    business failed, dead, abandoned); a missing key takes the platform default
    (settings `retention_*`). `0d` removes the data at the next purge.
    """

    model_config = ConfigDict(extra="forbid")

    payload: float | None = Field(default=None, description="the item's input data")
    output: float | None = Field(default=None, description="what the bot returned")
    errors: float | None = Field(default=None, description="error messages of its attempts")
    evidence: float | None = Field(default=None, description="screenshots, pages, traces")

    @field_validator("payload", "output", "errors", "evidence", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else bounded_duration(value, 0, RETENTION_MAX)


class ReviewSection(BaseModel):
    """Who looks at the process's business exceptions and dead items, and how soon.

    `group` names a review group of the organisation file (`rpa org load`); the
    time allowed runs in working hours (see `orchestrator.scheduling.review_clock`).
    """

    model_config = ConfigDict(extra="forbid")

    group: str | None = Field(default=None, description="a review group of the organisation")
    sla: str = Field(default=DEFAULT_SLA, description="2d working days, or 4h / 90m")

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not NAME.match(value):
            raise ValueError("a review group is lower-case letters, digits and dashes, e.g. "
                             "faktura-kontroll")
        return value

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> str:
        try:
            return str(WorkingTime.parse(value))
        except ReviewClockError as err:
            raise ValueError(str(err)) from None


class BreakerSection(BaseModel):
    """When the process pauses itself: `after` application errors in a row; after
    `cool_down` one item is tried, and if it goes through the process resumes."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    after: int = Field(default=DEFAULT_BREAKER_AFTER, ge=1, le=1000,
                       description="application errors in a row that pause the process")
    cool_down: float = Field(default=DEFAULT_BREAKER_COOL_DOWN,
                             description="how long it stays paused before one probe item")

    @field_validator("cool_down", mode="before")
    @classmethod
    def _cool_down(cls, value: Any) -> float:
        return bounded_duration(value, 5, 7 * 86400)


EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,253}$")


class AlertsSection(BaseModel):
    """Who else hears of this process's alerts, and which rules it leaves out."""

    model_config = ConfigDict(extra="forbid")

    email: list[str] = Field(default_factory=list, max_length=20,
                             description="addresses added to the alerts file's `to`")
    # not `off:`: YAML reads a bare `off` as false
    ignore: list[str] = Field(default_factory=list, description="rules not alerted for this "
                              "process, e.g. [sla_at_risk]")

    @field_validator("email")
    @classmethod
    def _email(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL.match(address):
                raise ValueError(f"{address[:60]!r} is not an e-mail address: write e.g. "
                                 "drift@kommune.no")
        return value

    @field_validator("ignore")
    @classmethod
    def _ignore(cls, value: list[str]) -> list[str]:
        from orchestrator.alerts.config import RULES
        unknown = [r for r in value if r not in RULES]
        if unknown:
            names = ", ".join(repr(u[:40]) for u in unknown)
            raise ValueError(f"unknown alert rule{'s' if len(unknown) > 1 else ''} {names}: "
                             f"use {', '.join(RULES)}")
        return value


LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class BrowserSection(BaseModel):
    """The browser a process's bot sees: window size, language, time zone and more.

    The defaults are the worker's own: a 1280 x 900 window, the browser's locale
    and zone. A target laid out for wider screens gets a wider window here, so a
    click lands where the bot's author saw it. `http_credentials` names a stored
    credential (`rpa credentials set`) for sites behind HTTP authentication; a
    secret is never written in a process file.
    """

    model_config = ConfigDict(extra="forbid")

    viewport: tuple[int, int] = Field(default=(1280, 900), description="[width, height] px")
    locale: str | None = Field(default=None, description="e.g. nb-NO")
    timezone: str | None = Field(default=None, description="an IANA zone, e.g. Europe/Oslo")
    user_agent: str | None = Field(default=None, max_length=512)
    accept_downloads: bool = True
    http_credentials: str | None = Field(default=None, max_length=100,
                                         description="the name of a stored credential")

    @field_validator("viewport")
    @classmethod
    def _viewport(cls, value: tuple[int, int]) -> tuple[int, int]:
        width, height = value
        if not (320 <= width <= 7680 and 240 <= height <= 4320):
            raise ValueError("give [width, height] in pixels, from [320, 240] to [7680, 4320]")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value is not None and not LOCALE.match(value):
            raise ValueError("write a language tag like nb-NO or en-GB")
        return value

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str | None) -> str | None:
        if value is not None and (not value.isprintable() or not value.strip()):
            raise ValueError("a user agent is one line of printable text")
        return value

    _zone = field_validator("timezone")(optional_zone)


class ProcessConfig(BaseModel):
    """One process as its owner describes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="lower-case letters, digits and dashes")
    description: str = ""
    owner: str = Field(min_length=1, description="the unit / process owner credited")
    cost_centre: str = Field(min_length=1)
    bot: str = Field(min_length=1, max_length=200, description="a bot from `rpa bots list`, "
                     "or package.module:Class from a folder of RPA_BOTS_PATH")
    queue: str | None = None
    manual_minutes_per_item: float = Field(gt=0, le=10_000)
    exception_minutes_per_item: float = Field(default=0.0, ge=0, le=10_000)
    retry: RetrySection = Field(default_factory=RetrySection)
    lease: float = Field(default=300.0, description="how long a claim holds without heartbeat")
    concurrency: int = Field(default=1, ge=1, le=64)
    priority: Literal["high", "normal", "low"] = "normal"
    sla: float | None = Field(default=None, description="max time from enqueue to done")
    input_schema: dict[str, Any] | None = None
    input_model: str | None = Field(default=None, description="module:Class of a pydantic model")
    bot_config: dict[str, Any] = Field(
        default_factory=dict, description="settings handed to the bot as ctx.config, e.g. "
        "base_url and the name of the credential to log in with")
    # scheduling (see orchestrator/scheduling): when work is produced and may be claimed
    timezone: str | None = Field(default=None, description="for triggers and working hours; "
                                 "default: the settings' zone (Europe/Oslo)")
    triggers: list[TriggerSpec] | None = None
    working_hours: list[Window] | None = None
    holidays: Holidays | None = None
    feeder: str | None = Field(default=None, description="module:function that returns new "
                               "work items, run by the scheduler on the process's triggers")
    retention: RetentionSection | None = Field(
        default=None, description="how long finished items keep their data")
    reference_from: list[str] | None = Field(
        default=None, description="the column(s) an items file's queue key is built from, "
        "kept in the payload; default: the `reference` column")
    browser: BrowserSection | None = Field(
        default=None, description="window size, locale, time zone and the like for the bot")
    review: ReviewSection | None = Field(
        default=None, description="who reviews business exceptions and dead items, how soon")
    breaker: BreakerSection | None = Field(
        default=None, description="pause after N application errors in a row (default 5), "
        "probe one item after a cool-down (default 5m)")
    alerts: AlertsSection | None = Field(
        default=None, description="extra e-mail recipients, and rules this process leaves out")
    hash_reference: bool = Field(
        default=False, description="store each reference as a keyed digest, for references "
        "that are personal data (a national identity number): still unique and searchable "
        "with the key, meaningless without it; bots see the digest")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("use lower-case letters, digits and dashes, e.g. invoice-approval")
        return value

    @field_validator("cost_centre", mode="before")
    @classmethod
    def _cost_centre(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("lease", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> float:
        return bounded_duration(value, LEASE_MIN, LEASE_MAX)

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> float | None:
        return None if value is None else bounded_duration(value, 0, SLA_MAX, low_open=True)
    _zone = field_validator("timezone")(optional_zone)

    @field_validator("reference_from", mode="before")
    @classmethod
    def _reference_from(cls, value: Any) -> Any:
        columns = [value] if isinstance(value, str) else value
        if columns is None:
            return None
        if not isinstance(columns, list) or not 1 <= len(columns) <= 5 or not all(
                isinstance(c, str) and c.strip() and len(c) <= 100 and c.isprintable()
                for c in columns) or len(set(columns)) != len(columns):
            raise ValueError("name 1 to 5 different columns, e.g. invoice_number, or "
                             "[supplier, invoice_date, total]")
        return columns

    @field_validator("feeder")
    @classmethod
    def _feeder(cls, value: str | None) -> str | None:
        if value is not None and not CALLABLE.match(value):
            raise ValueError("write the feeder as module:function, e.g. mybots.inbox:poll")
        return value

    @model_validator(mode="after")
    def _feeder_needs_time(self) -> ProcessConfig:
        if self.feeder and not any(t.kind != "queue" for t in self.triggers or []):
            raise ValueError("a feeder runs on a cron: or interval: trigger; add one to "
                             "triggers:")
        return self

    @field_validator("input_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            from jsonschema.exceptions import SchemaError

            from queues.validation import validator_for
            try:
                validator_for(value)
            except SchemaError as err:
                where = "/".join(str(p) for p in err.absolute_path) or "(top)"
                raise ValueError(f"not a valid JSON Schema at {where}: {err.message}"
                                 ) from None
        return value

    @model_validator(mode="after")
    def _one_schema(self) -> ProcessConfig:
        if self.input_schema and self.input_model:
            raise ValueError("give input_schema or input_model, not both")
        return self

    def resolved_schema(self) -> dict[str, Any] | None:
        """The JSON Schema payloads must satisfy, from `input_schema` or `input_model`."""
        if self.input_model:
            module, _, attr = self.input_model.partition(":")
            try:
                model = getattr(importlib.import_module(module), attr)
                return model.model_json_schema()
            except (ImportError, AttributeError, ValueError) as err:
                raise ConfigError(f"input_model {self.input_model!r} cannot be loaded: {err}"
                                  ) from None
        return self.input_schema

    def to_spec(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name, owner=self.owner, cost_centre=self.cost_centre, bot=self.bot,
            description=self.description, manual_minutes_per_item=self.manual_minutes_per_item,
            exception_minutes_per_item=self.exception_minutes_per_item,
            retry=RetryPolicy(self.retry.max_attempts, self.retry.backoff,
                              self.retry.backoff_max),
            lease_seconds=self.lease, concurrency=self.concurrency,
            default_priority=Priority.parse(self.priority),
            sla_minutes=None if self.sla is None else self.sla / 60,
            input_schema=self.resolved_schema(),
            definition=self.model_dump(mode="json", exclude_none=True), queue=self.queue,
        )


def load_process(path: Path) -> ProcessConfig:
    """Read and validate one process file; errors name the file, key, line and fix."""
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name:, owner:, bot:, ...), "
                          f"found {type(data).__name__}")
    try:
        return ProcessConfig.model_validate(data)
    except ValidationError as err:
        raise config_error(path, node, err) from None


def check_loadable(path: Path, cfg: ProcessConfig) -> None:
    """Load the bot, feeder and input_model a process names; errors name file, line and key."""
    from bots import UnknownBot, load_bot
    from orchestrator.scheduling.feeders import load_feeder

    _, node = load_yaml(path)

    def fail(key: str, message: str) -> ConfigError:
        line = line_of(node, [key])
        return ConfigError(f"{path}: line {line}: {key}: {message}")

    try:
        load_bot(cfg.bot)
    except UnknownBot as err:
        raise fail("bot", str(err)) from None
    if cfg.feeder:
        try:
            load_feeder(cfg.feeder)
        except ConfigError as err:
            raise fail("feeder", f"{err}; install the package that provides it or fix the "
                       "module:function") from None
    try:
        cfg.resolved_schema()
    except ConfigError as err:
        raise fail("input_model", f"{err}; install the package that provides it or fix the "
                   "module:Class") from None


def process_files(directory: Path) -> list[Path]:
    """The process files in a directory, in name order."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
