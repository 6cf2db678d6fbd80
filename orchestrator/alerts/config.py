"""The alerts file: which rules raise alerts and the channels (e-mail, webhooks) they go to.

Everything a person can get wrong in this file is refused at load time, with the
file, the key path and the line, and what to write instead: a misspelt key, a
duration of zero, a webhook address that is not http(s), an e-mail address with
a line break in it (that would let a message add its own headers), a password
environment variable that is not set, a template that does not render JSON. A
service that starts with a broken alerts file would stay silent exactly when it
should speak, so it is better that it does not start.

Secrets never live in the file: the SMTP password and secret webhook headers are
named by an environment variable, read when a message is sent. Error messages
never repeat the value of a URL (webhook URLs often carry a token), a header or
an environment variable.
"""

from __future__ import annotations

import json
import math
import os
import re
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orchestrator.durations import bounded_duration
from orchestrator.errors import ConfigError
from orchestrator.yaml_errors import key_path, line_of, load_yaml

RULES: tuple[str, ...] = (
    "sla_at_risk",
    "sla_broken",
    "item_dead",
    "review_overdue",
    "schedule_missed",
    "node_stale",
    "breaker_tripped",
    "database_unreachable",
)
#: rules that wait for a condition to last a while; the others fire at once
RULE_AFTER_DEFAULTS: dict[str, float] = {"node_stale": 120.0, "database_unreachable": 30.0}
BUILTIN_TEMPLATES: tuple[str, ...] = ("teams", "slack", "plain")
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}

DAY = 86400.0
WEBHOOK_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")
DIGEST = re.compile(r"^\s*daily\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
MAX_TEMPLATE_BYTES = 64_000
MAX_RENDERED_CHARS = 1_000_000
MAX_URL_CHARS = 2048
_SURROGATE = re.compile("[\ud800-\udfff]")


class AlertConfigError(ConfigError):
    """The alerts file is invalid; the message names the file, the key path and the fix."""


# --- small checks shared by the models and the channels ---------------------------------


def _control_problem(value: str) -> str | None:
    """Why a one-line value cannot be used, or None; never quotes the value."""
    if "\r" in value or "\n" in value:
        return ("contains a line break, which would let it add mail headers of its own: "
                "write it on one line")
    if "\x00" in value:
        return "contains a NUL byte: remove it"
    if any(not ch.isprintable() for ch in value):
        return "contains a control character: remove it"
    return None


def check_address(value: str) -> str:
    """A plain sanity check of one e-mail address (one @, no spaces, no control characters).

    Deliberately simple: the mail server is the judge of deliverability; this only
    keeps out what would corrupt the message headers or is obviously not an address.
    """
    if not isinstance(value, str):
        raise ValueError("write an e-mail address as text, e.g. drift@example.org")
    problem = _control_problem(value)
    if problem:
        raise ValueError(f"an e-mail address that {problem}")
    if len(value) > 254:
        raise ValueError("an e-mail address is at most 254 characters")
    local, at, domain = value.partition("@")
    if (not at or not local or not domain or "@" in domain or any(c.isspace() for c in value)
            or any(c in value for c in '<>,;"()[]\\') or "." not in domain
            or domain.startswith(".") or domain.endswith(".")):
        raise ValueError("not an e-mail address: write one plain address like "
                         "drift@example.org (no name, no spaces, no <>)")
    return value


def _env_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise ValueError(f"{what} is the NAME of an environment variable (letters, digits and "
                         "_, e.g. RPA_SMTP_PASSWORD), never the secret itself")
    if value not in os.environ:
        raise ValueError(f"the environment variable {value} is not set: set it in the "
                         "orchestrator's environment (its service unit or .env file) before "
                         "starting it")
    return value


def _duration(low_open_max: float) -> Any:
    """A before-validator: a duration in (0, max], written `30s`, `2m`, `1h`."""

    def check(value: Any) -> float:
        try:
            return bounded_duration(value, 0, low_open_max, low_open=True)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{err}; write e.g. 30s, 2m or 1h") from None

    return BeforeValidator(check)


def _optional_duration(low_open_max: float) -> Any:
    inner = _duration(low_open_max).func

    def check(value: Any) -> float | None:
        return None if value is None else inner(value)

    return BeforeValidator(check)


# --- the models --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """One alert rule: on or off, and for the waiting rules how long a condition must last."""

    enabled: bool = True
    after: Annotated[float | None, _optional_duration(7 * DAY)] = Field(
        default=None, description="seconds the condition must last before it is an alert")


def _rule_shorthand(value: Any) -> Any:
    """`off`/`false` turn a rule off, `on`/`true`/empty keep it on."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, str) and value.strip().lower() in ("on", "off"):
        return {"enabled": value.strip().lower() == "on"}
    return value


class RulesSection(_Strict):
    """Every rule is on by default; a rule left out of the file keeps its defaults."""

    sla_at_risk: Rule = Field(default_factory=Rule)
    sla_broken: Rule = Field(default_factory=Rule)
    item_dead: Rule = Field(default_factory=Rule)
    review_overdue: Rule = Field(default_factory=Rule)
    schedule_missed: Rule = Field(default_factory=Rule)
    node_stale: Rule = Field(default_factory=lambda: Rule(after=RULE_AFTER_DEFAULTS["node_stale"]))
    breaker_tripped: Rule = Field(default_factory=Rule)
    database_unreachable: Rule = Field(
        default_factory=lambda: Rule(after=RULE_AFTER_DEFAULTS["database_unreachable"]))

    @field_validator(*RULES, mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _rule_shorthand(value)

    @field_validator(*RULES, mode="after")
    @classmethod
    def _after(cls, value: Rule, info: ValidationInfo) -> Rule:
        name = str(info.field_name)
        if name in RULE_AFTER_DEFAULTS:
            if value.after is None:
                return value.model_copy(update={"after": RULE_AFTER_DEFAULTS[name]})
        elif value.after is not None:
            raise ValueError(f"`after` applies only to {' and '.join(RULE_AFTER_DEFAULTS)}: "
                             f"remove it from {name}")
        return value


Address = Annotated[str, AfterValidator(check_address)]


class EmailConfig(_Strict):
    """The SMTP server alerts are mailed through, and who receives them."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535,
                      description="default 587 for starttls, 465 for tls, 25 for none")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password_env: str | None = Field(default=None, description="the environment variable "
                                     "that holds the password")
    sender: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1)
    timeout: Annotated[float, _duration(600)] = 10.0

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not HOST.match(value):
            raise ValueError("write the mail server's host name, e.g. smtp.example.org "
                             "(no scheme, no port, no spaces)")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        problem = None if value is None else _control_problem(value)
        if problem:
            raise ValueError(f"the user name {problem}")
        return value

    @field_validator("password_env", mode="before")
    @classmethod
    def _password_env(cls, value: Any) -> Any:
        return None if value is None else _env_name(value, "password_env")

    @field_validator("to", mode="before")
    @classmethod
    def _one_address(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return dedupe_addresses(value)

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        """The port follows the security mode unless one is given."""
        if isinstance(data, dict) and data.get("port") is None:
            security = data.get("security", "starttls")
            data = {k: v for k, v in data.items() if k != "port"}
            if isinstance(security, str) and security in DEFAULT_PORTS:
                data["port"] = DEFAULT_PORTS[security]
        return data

    @model_validator(mode="after")
    def _login(self) -> EmailConfig:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both username and password_env to log in, or neither "
                             "to send without logging in")
        if (self.username is not None and self.security == "none"
                and self.host not in ("localhost", "127.0.0.1", "[::1]")):
            raise ValueError("security: none would send the password unencrypted: write "
                             "security: starttls (or tls), or drop username/password_env")
        return self


def dedupe_addresses(addresses: Sequence[str]) -> list[str]:
    """Addresses in their first order, each once (compared without regard to case)."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        key = address.strip().lower()
        if key not in seen:
            seen.add(key)
            out.append(address.strip())
    return out


class EnvRef(_Strict):
    """`{env: NAME}`: a value taken from the environment when a message is sent."""

    env: str


def _header_name(value: str) -> str:
    if not HEADER_NAME.match(value):
        raise ValueError("a header name is letters, digits and - (e.g. X-Api-Key), with no "
                         "spaces or colon")
    if value.lower() in ("content-length", "host", "transfer-encoding"):
        raise ValueError(f"{value} is set by the HTTP client: remove it")
    return value


def _header_value(value: Any) -> str | EnvRef:
    if isinstance(value, dict):
        if set(value) != {"env"}:
            raise ValueError("write a header value as text, or as {env: NAME} to take it "
                             "from an environment variable")
        return EnvRef(env=_env_name(value["env"], "env"))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("write a header value as text, or as {env: NAME} for a secret")
    text = str(value)
    problem = _control_problem(text)
    if problem:
        raise ValueError(f"the header value {problem}")
    return text


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str | EnvRef, BeforeValidator(_header_value)]


def url_origin(url: str) -> str:
    """`scheme://host/` of a URL: what may be shown of a webhook address in messages/logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
    except ValueError:
        return "(invalid URL)/"
    return f"{parts.scheme}://{host}/"


def _check_url(value: Any) -> str:
    example = "write the https:// address the chat service gave for the incoming webhook"
    if not isinstance(value, str):
        raise ValueError(f"a URL is text: {example}")
    if "\x00" in value:
        raise ValueError(f"the URL contains a NUL byte: {example}")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"the URL contains spaces or control characters: {example} "
                         "(encode a space as %20)")
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ValueError(f"not a valid URL (check the port and brackets): {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = repr(scheme) if scheme.isalnum() and len(scheme) < 20 else "none"
        raise ValueError(f"only http:// and https:// addresses are accepted (scheme {shown}): "
                         f"{example}")
    if not parts.hostname:
        raise ValueError(f"the URL has no host: {example}, e.g. "
                         "https://example.webhook.office.com/...")
    return value


class WebhookConfig(_Strict):
    """A JSON POST to a chat service or any HTTP receiver, rendered from a template."""

    name: str
    url: Annotated[str, BeforeValidator(_check_url)] = Field(repr=False)
    template: str = Field(default="plain", description="teams | slack | plain | a .tmpl file")
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict, repr=False)
    timeout: Annotated[float, _duration(300)] = 5.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not WEBHOOK_NAME.match(value):
            raise ValueError("a webhook name is 1-40 lower-case letters, digits, _ and -, "
                             "e.g. teams-drift")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        if value in BUILTIN_TEMPLATES:
            return value
        problem = _control_problem(value)
        if problem or not value.endswith(".tmpl"):
            raise ValueError(f"write one of {', '.join(BUILTIN_TEMPLATES)}, or the path of a "
                             ".tmpl file (relative to the alerts file)")
        return value

    @property
    def channel_name(self) -> str:
        return f"webhook:{self.name}"


class DeliverySection(_Strict):
    """How often a failed delivery is tried again, and how long to wait in between."""

    attempts: int = Field(default=6, ge=1, le=100, description="per alert and channel")
    backoff: Annotated[float, _duration(DAY)] = Field(default=30.0, description="first wait")
    backoff_max: Annotated[float, _duration(7 * DAY)] = 3600.0

    @model_validator(mode="after")
    def _order(self) -> DeliverySection:
        if self.backoff > self.backoff_max:
            raise ValueError(f"backoff ({self.backoff:g}s) must not exceed backoff_max "
                             f"({self.backoff_max:g}s): raise backoff_max or lower backoff")
        return self


class DailyDigest(_Strict):
    """Hold e-mails and send one summary a day at `at` (the orchestrator's local time)."""

    at: time

    def __str__(self) -> str:
        return f"daily {self.at:%H:%M}"


def _digest(value: Any) -> Any:
    if value is None or value is False or (isinstance(value, str)
                                           and value.strip().lower() == "none"):
        return None
    if isinstance(value, DailyDigest | dict):
        return value
    match = DIGEST.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError('write none, or "daily HH:MM" (24-hour clock), e.g. "daily 07:00"')
    return DailyDigest(at=time(int(match[1]), int(match[2])))


class AlertsConfig(_Strict):
    """The whole alerts file; `AlertsConfig()` is the default: every rule on, no channels."""

    rules: RulesSection = Field(default_factory=RulesSection)
    email: EmailConfig | None = None
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    digest: Annotated[DailyDigest | None, BeforeValidator(_digest)] = None

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """`rules:` or `webhooks:` with nothing under them mean the defaults."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (v is None and k in ("rules", "webhooks", "delivery"))}
        return data

    @field_validator("webhooks")
    @classmethod
    def _unique(cls, value: list[WebhookConfig]) -> list[WebhookConfig]:
        first: dict[str, int] = {}
        for index, hook in enumerate(value):
            if hook.name in first:
                raise ValueError(f"webhooks[{index}].name {hook.name!r} is already used by "
                                 f"webhooks[{first[hook.name]}]: give each webhook its own name")
            first[hook.name] = index
        return value

    @model_validator(mode="after")
    def _digest_needs_email(self) -> AlertsConfig:
        if self.digest is not None and self.email is None:
            raise ValueError("digest holds e-mails for a daily summary, but there is no email "
                             "section: add one, or write digest: none")
        return self

    def rule(self, name: str) -> Rule:
        """The settings of one rule (one of `RULES`)."""
        if name not in RULES:
            raise ValueError(f"unknown alert rule {name!r}; the rules are {', '.join(RULES)}")
        rule: Rule = getattr(self.rules, name)
        return rule


# --- templates ------------------------------------------------------------------------------


class JsonText(str):
    """Text that is already JSON; the environment's `finalize` writes it out unchanged."""

    __slots__ = ()


def json_safe(value: Any) -> Any:
    """`value` with lone surrogates replaced, keys as text and NaN/inf as text.

    Python's json would write `"\\ud800"` or `NaN`; strict receivers (Teams, Slack)
    refuse both, so an odd title must not make an alert undeliverable.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {json_safe(k if isinstance(k, str) else str(k)): json_safe(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return json_safe(str(value))


def _tojson(value: Any) -> JsonText:
    return JsonText(json.dumps(json_safe(value), ensure_ascii=True))


def _astext(value: Any) -> str:
    """A fact as text for a card: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(json_safe(value), ensure_ascii=False)


def _finalize(value: Any) -> JsonText:
    """Every `{{ ... }}` is written as JSON, so data can never break out of a string."""
    return value if isinstance(value, JsonText) else _tojson(value)


def template_environment() -> ImmutableSandboxedEnvironment:
    """The sandbox webhook templates run in: no file access, no mutation, strict names.

    Autoescaping is for HTML, so instead every expression's output is JSON-encoded
    (`finalize`); `| tojson` says the same explicitly and is what the builtin
    templates use.
    """
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["tojson"] = _tojson
    env.filters["astext"] = _astext
    return env


_ENV = template_environment()
_BUILTIN_DIR = Path(__file__).with_name("templates")


class TemplateProblem(Exception):
    """A template cannot be read, compiled or rendered into JSON (message: where and why)."""


def template_source(spec: str, base_dir: Path | None = None) -> tuple[str, str]:
    """`(label, source)` of a builtin name or a .tmpl path (relative to `base_dir`)."""
    if spec in BUILTIN_TEMPLATES:
        path = _BUILTIN_DIR / f"{spec}.json.tmpl"
        return spec, path.read_text(encoding="utf-8")
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise TemplateProblem(f"{path} is {size} bytes; a template is at most "
                                  f"{MAX_TEMPLATE_BYTES}")
        return str(path), path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateProblem(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise TemplateProblem(f"{path} is not UTF-8 text") from None
    except OSError as err:
        raise TemplateProblem(f"{path} cannot be read ({err.strerror})") from None


def compile_template(source: str) -> jinja2.Template:
    """The compiled template; a syntax error names its line."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateProblem(f"template line {err.lineno}: {err.message}") from None


def render_payload(template: jinja2.Template, alert: Mapping[str, Any]) -> str:
    """The JSON text a template makes of one alert; refused unless it parses as JSON."""
    try:
        text = template.render(alert=dict(alert))
    except Exception as err:  # anything a template can raise: undefined names, type errors
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if f.filename == "<template>"]
        where = f"template line {frames[-1].lineno}: " if frames else "template: "
        raise TemplateProblem(f"{where}{type(err).__name__}: {err}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateProblem(f"the rendered payload is longer than {MAX_RENDERED_CHARS} "
                              "characters")
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        shown = text.splitlines()[err.lineno - 1][:120] if text.strip() else ""
        raise TemplateProblem(
            f"the output is not JSON: line {err.lineno}, column {err.colno}: {err.msg} "
            f"(in: {shown!r}); note that every {{{{ ... }}}} is written as JSON, strings "
            "with their quotes: write \"key\": {{ alert.title }}, not \"{{ alert.title }}\"",
        ) from None
    return text


def alert_context(rule: str, subject: str, process: str | None, title: str, text: str,
                  raised_at: float, details: Mapping[str, Any], link: str | None
                  ) -> dict[str, Any]:
    """What a template sees as `alert`: the message's fields plus `raised_at_iso` (UTC)."""
    iso = datetime.fromtimestamp(raised_at, UTC).isoformat(timespec="seconds")
    return {"rule": rule, "subject": subject, "process": process, "title": title,
            "text": text, "raised_at": raised_at, "raised_at_iso": iso.replace("+00:00", "Z"),
            "details": dict(details), "link": link}


SAMPLE_ALERTS: tuple[dict[str, Any], ...] = (
    alert_context("item_dead", "item:42", "invoices", "Item 42 of invoices is dead",
                  "The item failed 3 times with \"Timeout\".\nOpen it and decide: retry or "
                  "abandon.", 1767225600.0,
                  {"attempts": 3, "error": "Timeout after 30s", "reference": "INV-42",
                   "nested": {"a": [1, 2.5, None]}}, "https://rpa.example.org/items/42"),
    alert_context("node_stale", "node:abc", None, "Node abc has not been heard from", "",
                  1767225600.0, {}, None),
)


def check_template(spec: str, base_dir: Path | None = None) -> str:
    """Compile `spec` and render it with the sample alerts; the source, or TemplateProblem."""
    _, source = template_source(spec, base_dir)
    template = compile_template(source)
    for sample in SAMPLE_ALERTS:
        render_payload(template, sample)
    return source


# --- loading ----------------------------------------------------------------------------------


def _parent_model(parent: Sequence[int | str]) -> type[BaseModel] | None:
    shape = tuple("#" if isinstance(p, int) else p for p in parent)
    if len(shape) == 2 and shape[0] == "rules":
        return Rule
    if len(shape) == 4 and shape[:3] == ("webhooks", "#", "headers"):
        return EnvRef
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): AlertsConfig, ("rules",): RulesSection, ("email",): EmailConfig,
        ("webhooks", "#"): WebhookConfig, ("delivery",): DeliverySection}
    return models.get(shape)


def _keys_of(model: type[BaseModel]) -> str:
    return ", ".join(f.alias or name for name, f in model.model_fields.items())


_SHOWN = {"after", "timeout", "backoff", "backoff_max", "attempts", "port", "security",
          "enabled", "digest", "name", "template"}
_HINTS = {
    "int_parsing": "write a whole number", "int_type": "write a whole number",
    "int_from_float": "write a whole number", "bool_parsing": "write true or false",
    "bool_type": "write true or false", "string_type": "write a text value",
    "list_type": "write a list, one `- item` per line", "dict_type": "write a mapping of keys",
    "model_type": "write a mapping of keys", "model_attributes_type": "write a mapping of keys",
}


def _plain_loc(loc: Sequence[int | str]) -> list[int | str]:
    """The key path without pydantic's markers such as `[key]`."""
    return [p for p in loc if not (isinstance(p, str) and "[" in p)]


def _problem(node: yaml.Node | None, problem: Mapping[str, Any]) -> str:
    """One line: where, which key, what is wrong and what to write instead."""
    loc = _plain_loc(problem["loc"])
    line = line_of(node, loc)
    where = f"line {line}: " if line else ""
    kind = problem["type"]
    message = str(problem["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        last = loc[-1] if loc else ""
        parent = _parent_model(loc[:-1])
        if last == "password":
            message = ("never write the password in this file: put it in an environment "
                       "variable and give that variable's name as password_env")
        elif parent is RulesSection:
            message = f"unknown rule; the rules are: {', '.join(RULES)}"
        else:
            valid = f": the keys here are {_keys_of(parent)}" if parent else ""
            message = f"unknown key (check its spelling){valid}"
    elif kind == "missing":
        message = "required key is missing: add it"
    elif kind in _HINTS:
        message = f"{message}: {_HINTS[kind]}"
    given = problem.get("input")
    last_key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    shown = (f" (got {given!r:.60})" if last_key in _SHOWN and kind not in (
        "missing", "extra_forbidden") and not isinstance(given, dict | list) else "")
    return f"  - {where}{key_path(loc)}: {message}{shown}"


def _template_error(path: Path, node: yaml.Node | None, index: int, hook: WebhookConfig,
                    problem: TemplateProblem) -> AlertConfigError:
    line = line_of(node, ["webhooks", index, "template"])
    where = f"line {line}: " if line else ""
    return AlertConfigError(
        f"{path}: {where}webhooks[{index}].template: webhook {hook.name!r}, template "
        f"{hook.template!r}: {problem}; fix the template or write one of "
        f"{', '.join(BUILTIN_TEMPLATES)}")


def load_alerts_config(path: Path | None, *, missing_ok: bool = False) -> AlertsConfig:
    """Read and check the alerts file; `None` (or a missing file with `missing_ok`) gives
    the defaults: every rule on, no channels.

    A file that was named explicitly and is missing is an error (a typo in a
    setting must not silently switch alerting off); the caller that falls back to
    a default location passes `missing_ok=True`. Relative template paths are
    resolved against the file's folder and stored absolute in the result.
    """
    if path is None or (missing_ok and not path.exists()):
        return AlertsConfig()
    try:
        data, node = load_yaml(path)
    except ConfigError as err:
        raise AlertConfigError(str(err)) from None
    if data is None:
        return AlertsConfig()
    if not isinstance(data, dict):
        raise AlertConfigError(f"{path}: expected a mapping of keys ({_keys_of(AlertsConfig)}),"
                               f" found {type(data).__name__}")
    try:
        config = AlertsConfig.model_validate(data)
    except ValidationError as err:
        problems = sorted(err.errors(include_url=False),
                          key=lambda p: line_of(node, _plain_loc(p["loc"])) or 0)
        lines = [f"{path}: {err.error_count()} problem(s):"]
        lines += [_problem(node, p) for p in problems]
        raise AlertConfigError("\n".join(lines)) from None
    hooks = []
    for index, hook in enumerate(config.webhooks):
        try:
            check_template(hook.template, path.parent)
        except TemplateProblem as problem:
            raise _template_error(path, node, index, hook, problem) from None
        if hook.template not in BUILTIN_TEMPLATES and not Path(hook.template).is_absolute():
            hook = hook.model_copy(
                update={"template": str((path.parent / hook.template).absolute())})
        hooks.append(hook)
    return config.model_copy(update={"webhooks": hooks})
