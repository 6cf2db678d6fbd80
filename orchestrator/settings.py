"""Settings from `RPA_*` environment variables and an optional YAML file.

Precedence, highest first: environment, the file named by `RPA_SETTINGS_FILE`
(or `rpa.yaml` in the working directory), the defaults below. The default
database is a SQLite file in the data directory, so a fresh machine needs
nothing but this package.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/rpa`, else `~/.local/share/rpa`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rpa"


def settings_file() -> Path | None:
    named = os.environ.get("RPA_SETTINGS_FILE")
    if named:
        return Path(named)
    local = Path("rpa.yaml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Everything the orchestrator reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="RPA_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir,
                           description="where the database, evidence and keys live")
    database_url: str | None = Field(
        default=None, description="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB; "
        "default: a SQLite file in the data directory")
    processes_dir: Path = Field(default=Path("config/processes"),
                                description="where `rpa process register --all` looks")
    timezone: str = "Europe/Oslo"
    fte_hours_per_year: float = 1695.0
    alerts_file: Path | None = Field(
        default=None, description="alerts.yaml: alert rules, e-mail and webhooks; default: "
        "config/alerts.yaml in the working directory if there is one, else no channels")
    costs_file: Path | None = Field(
        default=None, description="costs.yaml for `rpa report costs`; default: "
        "config/costs.yaml in the working directory, else the packaged example")
    secret_key: SecretStr | None = None
    browser_path: str | None = None
    browser_ws: str | None = None
    log_format: str = Field(default="auto", description="auto, json or console")
    metrics_host: str = Field(default="127.0.0.1", description="the address /metrics listens "
                              "on; 0.0.0.0 inside a container whose port is published")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Prometheus /metrics of `rpa serve` and "
        "`rpa scheduler` on 127.0.0.1:PORT; default: no metrics endpoint")
    retention_payload: str = Field(default="180d", description="platform default: how long "
                                   "a finished item keeps its payload")
    retention_output: str = Field(default="180d", description="... its bot's output")
    retention_errors: str = Field(default="180d", description="... its error messages")
    retention_evidence: str = Field(default="30d", description="... its screenshots, pages "
                                    "and traces")
    node_name: str | None = Field(default=None, description="this node's name in `rpa "
                                  "workers`; default: the host name")
    web_language: str = Field(default="nb", pattern="^(nb|en)$",
                              description="the console's language until a user picks one")
    bots_path: str | None = Field(default=None, description="folders of bots named by module "
                                  "path in process files (bot: my_bots.invoices:InvoiceBot), "
                                  "separated like PATH")
    report_language: str = Field(default="en", pattern="^(nb|en)$",
                                 description="the language of `rpa report` labels, files and "
                                 "Method sheets (--lang overrides it)")
    web_session_hours: float = Field(default=8.0, gt=0, le=24 * 30,
                                     description="how long a console login lasts")
    web_secure_cookies: bool = Field(default=True, description="mark cookies Secure (HTTPS "
                                     "only; browsers still send them to localhost)")
    web_login_lock_after: int = Field(default=5, ge=1, le=100, description="failed logins "
                                      "in a row that lock an account")
    web_login_lock_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    web_max_body_bytes: int = Field(default=10_000_000, ge=1_000, le=1_000_000_000,
                                    description="larger request bodies get 413")
    web_trusted_proxies: str = Field(default="127.0.0.1", description="addresses whose "
                                     "X-Forwarded-* headers are believed (comma-separated)")
    oidc_discovery_url: str | None = Field(default=None, description="the identity "
                                           "provider's .well-known/openid-configuration")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_groups_claim: str = Field(default="groups", description="the id_token claim that "
                                   "lists the user's groups")
    oidc_roles: dict[str, str] = Field(default_factory=dict, description="group -> role "
                                       "(admin, operator, finance, auditor, owner:NAME)")
    oidc_label: str = Field(default="single sign-on", description="the login button's name")

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, value: str) -> str:
        return listen_address(value)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[Any] = [init_settings, env_settings]
        path = settings_file()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The database URL in force: the configured one or the default SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'rpa.db'}"

    @property
    def safe_db_url(self) -> str:
        """The URL with any password masked: the only form that may be printed or logged."""
        from sqlalchemy import make_url
        return make_url(self.db_url).render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def alerts_path(self) -> tuple[Path | None, bool]:
        """The alerts file in force, and whether it may be missing (only the default)."""
        if self.alerts_file is not None:
            return self.alerts_file, False
        return Path("config/alerts.yaml"), True

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"


HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def listen_address(value: str) -> str:
    """An address a server may listen on: an IP address or a host name."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if HOSTNAME.match(text):
        return text
    raise ValueError(f"{value[:60]!r} is not an address to listen on: give an IP address "
                     "(127.0.0.1, 0.0.0.0, ::) or a host name")


def load_settings(**overrides: Any) -> Settings:
    """Settings as the environment and file give them, with explicit overrides."""
    return Settings(**overrides)
