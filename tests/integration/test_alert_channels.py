"""Alert channels against real local servers: an aiosmtpd SMTP server (plain, STARTTLS,
implicit TLS, login) and an http.server webhook receiver; plus servers that refuse,
fail or never answer, whose errors must come quickly and without secrets."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator.alerts.channels import (
    AlertMessage,
    Channel,
    DeliveryFailed,
    EmailChannel,
    WebhookChannel,
    channels_from,
)
from orchestrator.alerts.config import AlertsConfig, EmailConfig, WebhookConfig

PASSWORD = "pa55-Word-from-env"
TOKEN = "SECRETTOKEN42"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local servers are reached directly, whatever proxy the developer's shell sets."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert(n: int = 42, **kw: Any) -> AlertMessage:
    fields: dict[str, Any] = {
        "rule": "item_dead", "subject": f"item:{n}", "process": "invoices",
        "title": f"Item {n} of invoices is dead", "raised_at": 1767225600.0,
        "text": "It failed 3 times with a timeout.\nOpen it and retry or abandon it.",
        "details": {"attempts": 3, "reference": f"INV-{n}"},
        "link": f"https://rpa.example.org/items/{n}"}
    fields.update(kw)
    return AlertMessage(**fields)


# --- SMTP ------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler that keeps what it received."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos), mail))
        return "250 OK"


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        # handled=False: aiosmtpd answers 535 itself when the login is refused
        return AuthResult(success=login == "robots" and password == PASSWORD, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class SmtpServer:
    def __init__(self, **kwargs: Any) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def email_config(port: int, **kw: Any) -> EmailConfig:
    data: dict[str, Any] = {"host": "127.0.0.1", "port": port, "security": "none",
                            "from": "robots@example.org",
                            "to": ["drift@example.org", "ops@example.org"], "timeout": "5s"}
    data.update(kw)
    return EmailConfig.model_validate(data)


def test_plain_smtp_one_mail_per_message_with_extra_recipients() -> None:
    with SmtpServer() as server:
        channel = EmailChannel(email_config(server.port))
        assert isinstance(channel, Channel) and channel.name == "email"
        channel.send([alert(42), alert(43, link=None, process=None, details={})],
                     recipients=["OPS@example.org", "reviewer@example.org",
                                 "bad\r\nBcc: spy@evil.example"])
    assert len(server.inbox.envelopes) == 2
    sender, rcpts, mail = server.inbox.envelopes[0]
    assert sender == "robots@example.org"
    assert rcpts == ["drift@example.org", "ops@example.org", "reviewer@example.org"]
    assert mail["Subject"] == "[RPA] Item 42 of invoices is dead"
    assert mail["From"] == "robots@example.org"
    assert mail["To"] == "drift@example.org, ops@example.org, reviewer@example.org"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-RPA-Rule"] == "item_dead"
    assert "spy" not in str(mail)
    body = mail.get_content().replace("\r\n", "\n")
    assert "It failed 3 times with a timeout.\nOpen it and retry or abandon it." in body
    assert "attempts: 3\n" in body and "reference: INV-42\n" in body
    assert "process: invoices" in body and "raised: 2026-01-01T00:00:00Z" in body
    assert "https://rpa.example.org/items/42" in body
    second = server.inbox.envelopes[1][2]
    assert second["Subject"] == "[RPA] Item 43 of invoices is dead"
    assert "process:" not in second.get_content()
    assert "reference:" not in second.get_content()


def test_titles_cannot_inject_headers_and_unicode_survives() -> None:
    with SmtpServer() as server:
        EmailChannel(email_config(server.port)).send([alert(
            title="Faktura \u00e6\u00f8\u00e5 \ud800 dead\r\nBcc: spy@evil.example",
            text="Linje 1\r\nLinje 2 \x00 \u00c5pne", details={"n\u00f8kkel": "v\u00e6rdi"})])
    _, rcpts, mail = server.inbox.envelopes[0]
    assert "spy@evil.example" not in rcpts and mail["Bcc"] is None
    assert mail["Subject"] == "[RPA] Faktura \u00e6\u00f8\u00e5 \ufffd dead Bcc: spy@evil.example"
    body = mail.get_content().replace("\r\n", "\n")
    assert "Linje 1\nLinje 2" in body and "\u00c5pne" in body and "\x00" not in body
    assert "n\u00f8kkel: v\u00e6rdi" in body


def test_digest_is_one_mail_listing_all() -> None:
    with SmtpServer() as server:
        channel = EmailChannel(email_config(server.port))
        channel.send_digest([alert(1), alert(2), alert(3)], recipients=["x@example.org"])
        channel.send_digest([])
    assert len(server.inbox.envelopes) == 1
    _, rcpts, mail = server.inbox.envelopes[0]
    assert rcpts == ["drift@example.org", "ops@example.org", "x@example.org"]
    assert mail["Subject"] == "[RPA] Summary: 3 alerts"
    body = mail.get_content()
    for n in (1, 2, 3):
        assert f"{n}. Item {n} of invoices is dead" in body
        assert f"https://rpa.example.org/items/{n}" in body


def test_login_over_starttls(certificate: tuple[Path, Path],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", PASSWORD)
    auth = Authenticator()
    with SmtpServer(tls_context=server_context(certificate), require_starttls=True,
                    auth_required=True, authenticator=auth) as server:
        config = email_config(server.port, security="starttls", username="robots",
                              password_env="RPA_SMTP_PASSWORD")
        EmailChannel(config, ssl_context=client_context(certificate)).send([alert()])
    assert auth.logins == [("robots", PASSWORD)]
    assert len(server.inbox.envelopes) == 1


def test_wrong_password_fails_without_showing_it(certificate: tuple[Path, Path],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", "wrong-" + PASSWORD)
    with SmtpServer(tls_context=server_context(certificate), require_starttls=True,
                    auth_required=True, authenticator=Authenticator()) as server:
        config = email_config(server.port, security="starttls", username="robots",
                              password_env="RPA_SMTP_PASSWORD")
        with pytest.raises(DeliveryFailed) as caught:
            EmailChannel(config, ssl_context=client_context(certificate)).send([alert()])
    assert "535" in str(caught.value) and PASSWORD not in str(caught.value)
    assert server.inbox.envelopes == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(ssl_context=server_context(certificate)) as server:
        config = email_config(server.port, security="tls")
        EmailChannel(config, ssl_context=client_context(certificate)).send([alert()])
    assert len(server.inbox.envelopes) == 1


def test_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(tls_context=server_context(certificate)) as server, \
            pytest.raises(DeliveryFailed, match="SSLCertVerificationError"):
        EmailChannel(email_config(server.port, security="starttls")).send([alert()])
    assert server.inbox.envelopes == []


def test_unreachable_smtp_port_fails_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", PASSWORD)
    config = email_config(free_port(), username="robots", password_env="RPA_SMTP_PASSWORD")
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as caught:
        EmailChannel(config).send([alert()])
    assert time.monotonic() - started < 2
    assert caught.value.channel == "email" and caught.value.delivered == 0
    assert "127.0.0.1" in str(caught.value) and PASSWORD not in str(caught.value)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_silent_smtp_server_times_out(silent_port: int, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", PASSWORD)
    config = email_config(silent_port, timeout="0.5s", username="robots",
                          password_env="RPA_SMTP_PASSWORD")
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="timed out") as caught:
        EmailChannel(config).send([alert()])
    assert 0.4 < time.monotonic() - started < 3
    assert PASSWORD not in str(caught.value)


def test_password_variable_removed_after_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_SMTP_PASSWORD", PASSWORD)
    config = email_config(free_port(), username="robots", password_env="RPA_SMTP_PASSWORD")
    monkeypatch.delenv("RPA_SMTP_PASSWORD")
    with pytest.raises(DeliveryFailed, match=r"RPA_SMTP_PASSWORD .* is not set"):
        EmailChannel(config).send([alert()])


# --- webhooks --------------------------------------------------------------------------------


class Receiver:
    """A local HTTP server that records POSTs and answers with `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.statuses: list[int] = []  # answered first, one per request, then `status`
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append((self.path, dict(self.headers.items()),
                                          self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = f"/webhookb2/abc/IncomingWebhook/{TOKEN}?sig={TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(5)


def webhook(url: str, **kw: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": "ops", "url": url, **kw})


def test_plain_webhook_posts_json_with_headers(receiver: Receiver,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_HOOK_KEY", "key-from-env")
    channel = WebhookChannel(webhook(
        receiver.url("/hook?x=1"), template="plain",
        headers={"X-Api-Key": {"env": "RPA_HOOK_KEY"}, "X-Source": "rpa"}))
    assert isinstance(channel, Channel) and channel.name == "webhook:ops"
    channel.send([alert(1), alert(2, title='Quote " and \n newline')], ["ignored@example.org"])
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[0]
    assert path == "/hook?x=1"
    assert headers["X-Api-Key"] == "key-from-env" and headers["X-Source"] == "rpa"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {
        "rule": "item_dead", "subject": "item:1", "process": "invoices",
        "title": "Item 1 of invoices is dead",
        "text": "It failed 3 times with a timeout.\nOpen it and retry or abandon it.",
        "raised_at": 1767225600.0, "raised_at_iso": "2026-01-01T00:00:00Z",
        "details": {"attempts": 3, "reference": "INV-1"},
        "link": "https://rpa.example.org/items/1"}
    assert json.loads(receiver.requests[1][2])["title"] == 'Quote " and \n newline'


def test_teams_webhook(receiver: Receiver) -> None:
    WebhookChannel(webhook(receiver.url(), template="teams")).send([alert()])
    payload = json.loads(receiver.requests[0][2])
    assert payload["type"] == "message"
    card = payload["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "Item 42 of invoices is dead"
    assert card["actions"][0]["url"] == "https://rpa.example.org/items/42"


def test_slack_webhook(receiver: Receiver) -> None:
    WebhookChannel(webhook(receiver.url(), template="slack")).send([alert(details={})])
    payload = json.loads(receiver.requests[0][2])
    assert payload["text"] == "[RPA] Item 42 of invoices is dead"
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "actions", "context"]


def test_own_template_file(receiver: Receiver, tmp_path: Path) -> None:
    template = tmp_path / "mine.json.tmpl"
    template.write_text('{"summary": {{ alert.title }}, "when": {{ alert.raised_at_iso }}}',
                        encoding="utf-8")
    config = AlertsConfig(webhooks=[webhook(receiver.url(), template=str(template))])
    (channel,) = channels_from(config)
    channel.send([alert()])
    assert json.loads(receiver.requests[0][2]) == {
        "summary": "Item 42 of invoices is dead", "when": "2026-01-01T00:00:00Z"}


def test_server_error_fails_without_the_token(receiver: Receiver) -> None:
    receiver.status = 500
    with pytest.raises(DeliveryFailed) as caught:
        WebhookChannel(webhook(receiver.url())).send([alert()])
    text = str(caught.value)
    assert "HTTP 500" in text and "http://127.0.0.1/" in text
    assert TOKEN not in text and "webhookb2" not in text
    assert caught.value.channel == "webhook:ops"


def test_delivered_counts_what_went_out_before_a_failure(receiver: Receiver) -> None:
    receiver.statuses = [200, 503]
    with pytest.raises(DeliveryFailed, match="HTTP 503") as caught:
        WebhookChannel(webhook(receiver.url())).send([alert(1), alert(2), alert(3)])
    assert caught.value.delivered == 1 and len(receiver.requests) == 2


def test_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.status = 307
    with pytest.raises(DeliveryFailed, match="HTTP 307"):
        WebhookChannel(webhook(receiver.url())).send([alert()])


def test_silent_webhook_times_out_without_the_token(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}/hook/{TOKEN}?sig={TOKEN}"
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match=r"timed out after 0\.5s") as caught:
        WebhookChannel(webhook(url, timeout="0.5s")).send([alert()])
    assert 0.4 < time.monotonic() - started < 3
    assert TOKEN not in str(caught.value) and "/hook" not in str(caught.value)


def test_refused_connection_fails_without_the_token() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook/{TOKEN}?sig={TOKEN}"
    with pytest.raises(DeliveryFailed, match="ConnectError") as caught:
        WebhookChannel(webhook(url)).send([alert()])
    assert TOKEN not in str(caught.value)


def test_missing_header_variable_fails_without_values(receiver: Receiver,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_HOOK_KEY", "key-from-env")
    config = webhook(receiver.url(), headers={"X-Api-Key": {"env": "RPA_HOOK_KEY"}})
    monkeypatch.delenv("RPA_HOOK_KEY")
    with pytest.raises(DeliveryFailed, match="RPA_HOOK_KEY"):
        WebhookChannel(config).send([alert()])
    assert receiver.requests == []


def test_channels_from_config(receiver: Receiver) -> None:
    config = AlertsConfig(email=email_config(25), webhooks=[webhook(receiver.url())])
    assert [c.name for c in channels_from(config)] == ["email", "webhook:ops"]
    assert channels_from(AlertsConfig()) == []


def test_alert_message_refuses_unknown_rules() -> None:
    with pytest.raises(ValueError, match="item_dead"):
        alert(rule="item_died")
