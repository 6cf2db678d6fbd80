"""Delivery of alerts: e-mail over SMTP and webhooks (a JSON POST rendered from a template).

A channel is given finished messages and either delivers all of them or raises
`DeliveryFailed`; it does not retry, deduplicate or remember anything: the
caller owns that (and uses `backoff_delay` to space its attempts). Sends are
blocking with the configured timeout, so a dead server costs at most that long.

`DeliveryFailed` is written to logs and shown in the console, so its reason is
kept free of secrets: never the SMTP password, never header values, and of a
webhook URL only `scheme://host/` (the path or query of a webhook URL is often
the token that lets anyone post to the channel).
"""

from __future__ import annotations

import base64
import json
import math
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any, Protocol, runtime_checkable

import httpx
import jinja2
import structlog

from orchestrator.alerts.config import (
    RULES,
    AlertConfigError,
    AlertsConfig,
    EmailConfig,
    EnvRef,
    TemplateProblem,
    WebhookConfig,
    alert_context,
    check_address,
    compile_template,
    dedupe_addresses,
    json_safe,
    render_payload,
    template_source,
    url_origin,
)

log = structlog.get_logger("alerts")

SUBJECT_PREFIX = "[RPA] "
MAX_SUBJECT = 200
MAX_REASON = 300


@dataclass(frozen=True)
class AlertMessage:
    """One alert as a person should read it; the channels only format and deliver it."""

    rule: str  # one of RULES
    subject: str  # what it is about: "item:42", "process:invoices", "node:abc"
    process: str | None
    title: str  # one line of plain text
    text: str  # a few lines: what happened and what to do
    raised_at: float  # epoch seconds
    details: dict[str, Any] = field(default_factory=dict)  # plain JSON-able facts
    link: str | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown alert rule {self.rule!r}; the rules are "
                             f"{', '.join(RULES)}")
        if not math.isfinite(self.raised_at) or not 0 <= self.raised_at < 253402300800:
            raise ValueError(f"raised_at must be epoch seconds, got {self.raised_at!r}")

    def context(self) -> dict[str, Any]:
        """What a webhook template sees as `alert` (with `raised_at_iso` in UTC)."""
        return alert_context(self.rule, self.subject, self.process, self.title, self.text,
                             self.raised_at, self.details, self.link)


class DeliveryFailed(Exception):
    """A channel could not deliver; `reason` is short and free of secrets.

    `delivered` counts the messages of the failed `send` call that did go out
    before the failure (they were sent in order), so a retry can skip them.
    """

    def __init__(self, reason: str, *, channel: str = "", delivered: int = 0) -> None:
        self.reason = reason[:MAX_REASON]
        self.channel = channel
        self.delivered = delivered
        super().__init__(f"{channel}: {self.reason}" if channel else self.reason)


@runtime_checkable
class Channel(Protocol):
    """Somewhere alerts go: `email`, or `webhook:<name>`."""

    name: str

    def send(self, messages: Sequence[AlertMessage], recipients: Sequence[str] = ()) -> None:
        """Deliver every message, or raise DeliveryFailed."""


def backoff_delay(config: AlertsConfig, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): backoff, doubling,
    capped at backoff_max."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    delivery = config.delivery
    return float(min(delivery.backoff * 2.0 ** min(attempt - 1, 64), delivery.backoff_max))


def channels_from(config: AlertsConfig) -> list[Channel]:
    """The configured channels: e-mail first (when configured), then the webhooks in order."""
    channels: list[Channel] = []
    if config.email is not None:
        channels.append(EmailChannel(config.email))
    channels.extend(WebhookChannel(hook) for hook in config.webhooks)
    return channels


# --- e-mail ----------------------------------------------------------------------------------


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """`text` safe for a mail header: control characters become spaces, cut at `limit`."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(json_safe(text)))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _body_text(text: str) -> str:
    """Body text without NUL and other controls (tabs and line breaks kept)."""
    safe = str(json_safe(text)).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c if c.isprintable() or c in "\n\t" else " " for c in safe)


def _detail_lines(details: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(json_safe(value),
                                                                ensure_ascii=False)
        lines.append(f"{one_line(str(key), 100)}: {one_line(str(shown), 1000)}")
    return lines


def _message_body(message: AlertMessage) -> str:
    parts = [_body_text(message.text).rstrip()] if message.text.strip() else []
    facts = [f"rule: {message.rule}", f"subject: {one_line(message.subject, 200)}"]
    if message.process:
        facts.append(f"process: {one_line(message.process, 200)}")
    facts.append(f"raised: {message.context()['raised_at_iso']}")
    facts += _detail_lines(message.details)
    parts.append("\n".join(facts))
    if message.link:
        parts.append(one_line(message.link, 2000))
    return "\n\n".join(parts) + "\n"


class EmailChannel:
    """Mail through one SMTP server: STARTTLS, implicit TLS or plain, login when configured.

    One connection per `send`, one e-mail per message; `recipients` are added to
    the configured `to`. The password is read from its environment variable at
    send time, so a rotated secret needs no reload and never sits in the config.
    """

    name = "email"

    def __init__(self, config: EmailConfig, *, ssl_context: ssl.SSLContext | None = None
                 ) -> None:
        self.config = config
        self._ssl_context = ssl_context

    def send(self, messages: Sequence[AlertMessage], recipients: Sequence[str] = ()) -> None:
        """One e-mail per message, in order; DeliveryFailed at the first that fails."""
        if not messages:
            return
        to = self._recipients(recipients)
        mails = [self._compose(one_line(SUBJECT_PREFIX + m.title), _message_body(m), to, m)
                 for m in messages]
        self._deliver(mails, to)

    def send_digest(self, messages: Sequence[AlertMessage], recipients: Sequence[str] = ()
                    ) -> None:
        """ONE e-mail listing all `messages` (the daily summary); nothing when there are none."""
        if not messages:
            return
        to = self._recipients(recipients)
        count = len(messages)
        subject = one_line(f"{SUBJECT_PREFIX}Summary: {count} alert{'s' * (count != 1)}")
        sections = []
        for number, message in enumerate(messages, 1):
            sections.append(f"{number}. {one_line(message.title)}\n"
                            + "\n".join("   " + line
                                        for line in _message_body(message).splitlines()))
        body = (f"{count} alert{'s' * (count != 1)} were held for this summary:\n\n"
                + "\n\n".join(sections) + "\n")
        self._deliver([self._compose(subject, body, to, None)], to)

    def _recipients(self, extra: Sequence[str]) -> list[str]:
        """Configured `to` plus the valid extra addresses, each once.

        An invalid extra address (it comes from data such as a review group, not
        from this file) is dropped and logged rather than failing the whole
        delivery: the configured recipients must still hear of the alert.
        """
        valid = []
        for index, address in enumerate(extra):
            try:
                valid.append(check_address(address))
            except ValueError:
                log.warning("alert recipient dropped: not a valid e-mail address",
                            position=index)
        return dedupe_addresses([*self.config.to, *valid])

    def _compose(self, subject: str, body: str, to: Sequence[str],
                 message: AlertMessage | None) -> EmailMessage:
        mail = EmailMessage(policy=SMTP_POLICY)
        mail["Subject"] = subject
        mail["From"] = self.config.sender
        mail["To"] = ", ".join(to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to robots
        if message is not None:
            mail["X-RPA-Rule"] = message.rule
        mail.set_content(body, charset="utf-8")
        return mail

    def _password(self) -> str | None:
        name = self.config.password_env
        if name is None:
            return None
        value = os.environ.get(name)
        if value is None:
            raise DeliveryFailed(f"the environment variable {name} (the SMTP password) is "
                                 "not set", channel=self.name)
        return value

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = self._ssl_context or ssl.create_default_context()
        if cfg.security == "tls":
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            if cfg.security == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, mails: Sequence[EmailMessage], to: Sequence[str]) -> None:
        password = self._password()
        cfg = self.config
        delivered = 0
        try:
            with self._connect() as smtp:
                if cfg.username is not None and password is not None:
                    smtp.login(cfg.username, password)
                for mail in mails:
                    refused = smtp.send_message(mail, cfg.sender, list(to))
                    delivered += 1
                    if refused:
                        log.warning("alert mail refused for some recipients",
                                    refused=len(refused), accepted=len(to) - len(refused))
        except (smtplib.SMTPException, OSError) as err:
            reason = _smtp_reason(err, password)
            raise DeliveryFailed(f"e-mail via {cfg.host}:{cfg.port} failed: {reason}",
                                 channel=self.name, delivered=delivered) from None


def _smtp_reason(err: BaseException, password: str | None) -> str:
    """What went wrong, without anything that could be (or encode) the password."""
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error.decode("utf-8", "replace") if isinstance(
            err.smtp_error, bytes) else str(err.smtp_error)
        reason = f"{type(err).__name__} {err.smtp_code} {one_line(text, 150)}"
    elif isinstance(err, smtplib.SMTPRecipientsRefused):
        reason = f"all {len(err.recipients)} recipient(s) refused"
    elif isinstance(err, TimeoutError):
        reason = "timed out"
    else:
        reason = f"{type(err).__name__}: {one_line(str(err), 150)}"
    if password:
        for secret in (password, base64.b64encode(password.encode()).decode()):
            reason = reason.replace(secret, "***")
    return reason


# --- webhooks --------------------------------------------------------------------------------


class WebhookChannel:
    """A JSON POST per message to one URL, the body rendered from the webhook's template.

    A 2xx answer is success; anything else, a timeout or a network error raises
    DeliveryFailed. Redirects are not followed: a webhook that moved should be
    reconfigured, not chased (the body would be re-sent to wherever it points).
    """

    def __init__(self, config: WebhookConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.channel_name
        self._client = client
        try:
            self._template: jinja2.Template = compile_template(
                template_source(config.template)[1])
        except TemplateProblem as problem:
            raise AlertConfigError(f"webhook {config.name!r}, template "
                                   f"{config.template!r}: {problem}") from None

    @property
    def origin(self) -> str:
        """`scheme://host/`: all of the URL that may be shown."""
        return url_origin(self.config.url)

    def render(self, message: AlertMessage) -> str:
        """The JSON body for one message."""
        try:
            return render_payload(self._template, message.context())
        except TemplateProblem as problem:
            raise DeliveryFailed(f"template {self.config.template!r}: {problem}",
                                 channel=self.name) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        for key, value in self.config.headers.items():
            if isinstance(value, EnvRef):
                secret = os.environ.get(value.env)
                if secret is None:
                    raise DeliveryFailed(f"the environment variable {value.env} (header "
                                         f"{key}) is not set", channel=self.name)
                headers[key] = secret
            else:
                headers[key] = value
        return headers

    def send(self, messages: Sequence[AlertMessage], recipients: Sequence[str] = ()) -> None:
        """POST each message in order; `recipients` do not apply to a webhook and are ignored."""
        if not messages:
            return
        bodies = [self.render(m).encode("utf-8") for m in messages]
        headers = self._headers()
        client = self._client or httpx.Client(timeout=self.config.timeout,
                                              follow_redirects=False)
        delivered = 0
        try:
            for body in bodies:
                self._post(client, body, headers, delivered)
                delivered += 1
        finally:
            if self._client is None:
                client.close()

    def _post(self, client: httpx.Client, body: bytes, headers: Mapping[str, str],
              delivered: int) -> None:
        where = self.origin
        try:
            response = client.post(self.config.url, content=body, headers=dict(headers),
                                   timeout=self.config.timeout, follow_redirects=False)
        except httpx.TimeoutException:
            raise DeliveryFailed(f"POST to {where} timed out after {self.config.timeout:g}s",
                                 channel=self.name, delivered=delivered) from None
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"POST to {where} failed: {type(err).__name__}"
                                 f"{self._scrubbed(err)}", channel=self.name,
                                 delivered=delivered) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"POST to {where} answered HTTP {response.status_code}",
                                 channel=self.name, delivered=delivered)

    def _scrubbed(self, err: Exception) -> str:
        """The error's text unless it could contain the URL's path or query (the token)."""
        text = one_line(str(err), 150)
        url = httpx.URL(self.config.url)
        secrets = [self.config.url, url.raw_path.decode("ascii", "replace"), url.path,
                   url.query.decode("ascii", "replace")]
        if not text or any(s and s != "/" and s in text for s in secrets) or "/" in text:
            return ""
        return f": {text}"
