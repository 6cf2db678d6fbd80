"""`rpa web`, `rpa users ...` and `rpa tokens ...`: the console and who may use it."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from orchestrator.cli.common import STATE, console, make_table, principal, print_json, read_secret
from orchestrator.errors import UsageError

users_app = typer.Typer(help="Console and API accounts: add, list, disable, passwords.",
                        no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for scripts: create, list, revoke.",
                         no_args_is_help=True)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def web_store_writer(host: str, port: int) -> str:
    import os
    return f"web:{host}:{port}:{os.getpid()}"


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="the address to listen on "
                             "(loopback by default; put a TLS proxy in front for others)"),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
) -> None:
    """Serve the web console and the REST API (/api/v1, docs at /api/docs)."""
    from orchestrator.web import server

    STATE.write_as(web_store_writer(host, port))
    store = STATE.store
    where = f"[{host}]" if ":" in host else host
    console.print(f"console on http://{where}:{port}/  (API docs: /api/docs)")
    if host not in LOOPBACK:
        console.print("[yellow]note:[/] listening beyond this machine: serve it behind a "
                      "reverse proxy with TLS (see the README)")
    server.run(STATE.settings, store, host, port)


def _password(given_by_stdin: bool) -> str:
    return read_secret(given_by_stdin, "password")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="the login name"),
    role: str = typer.Option(..., "--role", help="admin, operator, owner, finance or auditor"),
    owner: str | None = typer.Option(None, "--owner", help="for --role owner: the owner "
                                     "whose processes the account sees"),
    payloads: bool = typer.Option(False, "--payloads", help="for auditors: may see payloads"),
    sso: bool = typer.Option(False, "--sso", help="logs in by single sign-on only (no "
                             "password)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from standard input"),
) -> None:
    """Add an account; the password is asked for (or read from stdin), never an argument."""
    from orchestrator.services import accounts

    password = None if sso else _password(password_stdin)
    account = accounts.add_account(STATE.store, principal(), name, role, password=password,
                                   owner=owner, payload_access=payloads)
    console.print(f"[green]✓[/] {escape(account.name)} added as {account.role}"
                  + (f" of {escape(account.owner)}" if account.owner else ""))


@users_app.command("list")
def users_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Every account, its role and whether it can log in."""
    found = STATE.store.accounts.all()
    now = time.time()
    rows = [{"name": a.name, "role": a.role, "owner": a.owner, "source": a.source,
             "payload_access": a.payload_access, "disabled": a.disabled,
             "locked": a.locked_until is not None and a.locked_until > now} for a in found]
    if json_out:
        print_json(rows)
        return
    table = make_table(f"Accounts ({len(rows)})")
    for column in ("name", "role", "owner", "login", "state"):
        table.add_column(column, overflow="fold")
    for r in rows:
        state = "disabled" if r["disabled"] else "locked" if r["locked"] else "active"
        table.add_row(escape(str(r["name"])), str(r["role"]), escape(str(r["owner"] or "")),
                      str(r["source"]), state)
    console.print(table if rows else "No accounts yet: rpa users add NAME --role admin")


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Stop an account from logging in; its sessions end at once (tokens stop working)."""
    from orchestrator.services import accounts

    accounts.set_disabled(STATE.store, principal(), name, True)
    console.print(f"[green]✓[/] {escape(name)} disabled")


@users_app.command("enable")
def users_enable(name: str) -> None:
    from orchestrator.services import accounts

    accounts.set_disabled(STATE.store, principal(), name, False)
    console.print(f"[green]✓[/] {escape(name)} enabled")


@users_app.command("password")
def users_password(name: str, password_stdin: bool = typer.Option(False, "--password-stdin")
                   ) -> None:
    """Set a new password; the account's console sessions end."""
    from orchestrator.services import accounts

    accounts.set_password(STATE.store, principal(), name, _password(password_stdin))
    console.print(f"[green]✓[/] new password for {escape(name)}")


@users_app.command("login-link")
def users_login_link(name: str, port: int = typer.Option(8080, "--port", min=1, max=65535),
                     host: str = typer.Option("127.0.0.1", "--host")) -> None:
    """A link that logs NAME in to the console once (within 24 hours), e.g. to set a
    first password; it is dead after its first use."""
    from orchestrator.services import accounts

    secret = accounts.one_time_login(STATE.store, principal(), name)
    print(f"http://{host}:{port}/login/once/{secret}")


def demo_login(port: int = 8080) -> str:
    """After the demo: an `admin` account (created without a password if missing) and a
    one-time login link to the console for it."""
    from orchestrator.services import accounts

    if STATE.store.accounts.get("admin") is None:
        accounts.add_account(STATE.store, principal(), "admin", "admin")
    secret = accounts.one_time_login(STATE.store, principal(), "admin")
    return f"http://127.0.0.1:{port}/login/once/{secret}"


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Option(..., "--user", help="the account the token acts as"),
    expires: str | None = typer.Option("90d", "--expires", help="lifetime, e.g. 90d or 12h; "
                                       "'never' for none"),
    label: str = typer.Option("", "--label", help="what it is for (shown in tokens list)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API token: it is shown once, here, and stored only as a hash."""
    from orchestrator.durations import parse_duration
    from orchestrator.services import accounts

    lifetime = None
    if expires and expires != "never":
        try:
            lifetime = parse_duration(expires)
        except ValueError as err:
            raise UsageError(f"--expires: {err}") from None
    text, token = accounts.create_token(STATE.store, principal(), user, label=label,
                                        expires_in=lifetime)
    if json_out:
        print_json({"id": token.id, "user": token.account, "token": text,
                    "expires_at": token.expires_at})
        return
    console.print(f"[green]✓[/] token {token.id} for {escape(user)}"
                  + ("" if token.expires_at is None else
                     f", expires {time.strftime('%Y-%m-%d', time.localtime(token.expires_at))}"))
    console.print("Copy it now; it is not shown again:")
    print(text)  # plain, so a script can read it without Rich's wrapping


@tokens_app.command("list")
def tokens_list(user: str | None = typer.Option(None, "--user"),
                json_out: bool = typer.Option(False, "--json")) -> None:
    """Tokens (never their text): who, what for, expiry, last use, revoked."""
    now = time.time()
    found = STATE.store.accounts.tokens(user)
    if json_out:
        print_json([t.__dict__ | {"usable": t.usable(now)} for t in found])
        return
    table = make_table(f"API tokens ({len(found)})")
    for column in ("id", "user", "label", "expires", "last used", "state"):
        table.add_column(column, overflow="fold")
    day = lambda at: "-" if at is None else time.strftime("%Y-%m-%d", time.localtime(at))  # noqa: E731
    for t in found:
        state = "revoked" if t.revoked_at else "expired" if not t.usable(now) else "active"
        table.add_row(str(t.id), escape(t.account), escape(t.label), day(t.expires_at),
                      day(t.last_used_at), state)
    console.print(table if found else "No tokens yet: rpa tokens create --user NAME")


@tokens_app.command("revoke")
def tokens_revoke(token_id: int = typer.Argument(..., min=1, max=2**62)) -> None:
    """Revoke a token at once (audited)."""
    from orchestrator.services import accounts

    if not accounts.revoke_token(STATE.store, principal(), token_id):
        raise UsageError(f"no active token {token_id}: see rpa tokens list")
    console.print(f"[green]✓[/] token {token_id} revoked")
