"""Accounts, logins, API tokens and console sessions.

Passwords are argon2id hashes (argon2-cffi's defaults, which follow RFC 9106's
second recommendation). Tokens and session ids are 256 random bits, kept only
as SHA-256 digests: a slow hash guards guessable passwords, and nothing about
a random 256-bit secret is guessable. A login that fails `lock_after` times in
a row locks the account for a while (audited); a missing account costs the
same hash as a wrong password, so timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from orchestrator.errors import UsageError
from orchestrator.services.access import (
    AccessDenied,
    NotAuthenticated,
    Permission,
    Principal,
    Role,
)
from queues import Store
from queues.account_store import Account, AccountError, ApiToken

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
TOUCH_EVERY = 60.0  # seconds between notes of a token's last use
TOKEN_PREFIX = "rpa_"  # noqa: S105 - a marker that tells a token from a password, no secret
HASHER = PasswordHasher()
_DUMMY_HASH = HASHER.hash("not a password of anyone's")


class LoginFailed(NotAuthenticated):
    """A wrong name or password, a locked or disabled account: said the same way."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UsageError(f"account name {name[:64]!r}: 1 to 64 letters, digits or . _ @ + -, "
                         "starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if "\x00" in password or any(0xD800 <= ord(c) <= 0xDFFF for c in password):
        raise UsageError("a password may not hold NUL or lone surrogate characters")
    return password


def principal_of(account: Account, *, via: str = "web", token_id: int | None = None
                 ) -> Principal:
    return Principal(name=account.name, role=Role(account.role), owner=account.owner,
                     payload_access=account.payload_access, via=via, token_id=token_id)


def add_account(store: Store, asker: Principal, name: str, role: str, *,
                password: str | None = None, owner: str | None = None,
                payload_access: bool = False) -> Account:
    """Create a local account (a password) or an SSO placeholder (none)."""
    asker.require(Permission.MANAGE_ACCOUNTS)
    parsed = Role.parse(role)
    check_name(name)
    if parsed is Role.OWNER and not (owner and owner.strip()):
        raise UsageError("an owner account needs --owner: the owner whose processes it sees")
    if parsed is not Role.OWNER and owner:
        raise UsageError("--owner is only for the owner role")
    if payload_access and parsed is not Role.AUDITOR:
        raise UsageError("--payloads is a grant for auditors; the other roles that see "
                         "items see payloads already")
    hashed = HASHER.hash(check_password(password)) if password is not None else None
    try:
        return store.accounts.add(Account(
            name=name, role=parsed.value, owner=owner, source="local", password_hash=hashed,
            payload_access=payload_access), actor=asker.actor)
    except AccountError as err:
        raise UsageError(str(err)) from None


def list_accounts(store: Store, asker: Principal) -> list[Account]:
    asker.require(Permission.MANAGE_ACCOUNTS)
    return store.accounts.all()


def change_own_password(store: Store, asker: Principal, current: str, new: str) -> None:
    """A user sets their own password: the current one is needed if there is one (an
    account made with a login link has none yet)."""
    account = store.accounts.get(asker.name)
    if account is None or account.source != "local":
        raise UsageError("this account logs in by single sign-on: its password is kept there")
    if account.password_hash is not None and not _verify(account.password_hash, current):
        raise UsageError("the current password is wrong")
    set_password(store, asker, asker.name, new)


def set_password(store: Store, asker: Principal, name: str, password: str) -> None:
    if asker.name != name:
        asker.require(Permission.MANAGE_ACCOUNTS)
    try:
        store.accounts.update(name, actor=asker.actor,
                              password_hash=HASHER.hash(check_password(password)))
    except AccountError as err:
        raise UsageError(str(err)) from None


def set_disabled(store: Store, asker: Principal, name: str, disabled: bool) -> None:
    """Disable (or enable) an account; disabling ends its sessions at once."""
    asker.require(Permission.MANAGE_ACCOUNTS)
    try:
        store.accounts.update(name, actor=asker.actor, disabled=disabled)
    except AccountError as err:
        raise UsageError(str(err)) from None


def login(store: Store, name: str, password: str, *, lock_after: int, lock_seconds: float,
          now: float | None = None) -> Principal:
    """Check a name and password; every failure is the same `LoginFailed` to the caller."""
    now = time.time() if now is None else now
    account = store.accounts.get(name) if NAME.fullmatch(name) else None
    if account is None or account.password_hash is None:
        _verify(_DUMMY_HASH, password)
        raise LoginFailed("wrong name or password")
    if account.locked_until is not None and account.locked_until > now:
        raise LoginFailed("too many failed logins: the account is locked for a while")
    ok = _verify(account.password_hash, password) and not account.disabled
    account = store.accounts.note_login(name, ok=ok, via="password", lock_after=lock_after,
                                        lock_seconds=lock_seconds)
    if not ok:
        raise LoginFailed("wrong name or password")
    if HASHER.check_needs_rehash(account.password_hash or ""):
        store.accounts.update(name, actor=f"web:{name}", password_hash=HASHER.hash(password))
    return principal_of(account)


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password.encode("utf-8", "surrogatepass"))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# -- tokens ------------------------------------------------------------------------------
def create_token(store: Store, asker: Principal, account: str, *, label: str = "",
                 expires_in: float | None = None) -> tuple[str, ApiToken]:
    """A new token for `account`: the text is returned here and never again."""
    asker.require(Permission.MANAGE_ACCOUNTS)
    if expires_in is not None and expires_in <= 0:
        raise UsageError("a token's lifetime must be above zero")
    if len(label) > 100 or "\x00" in label:
        raise UsageError("a token's label has at most 100 characters and no NUL")
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = time.time() + expires_in if expires_in is not None else None
    try:
        token = store.accounts.add_token(account, digest(text), label, expires_at,
                                         actor=asker.actor)
    except AccountError as err:
        raise UsageError(str(err)) from None
    return text, token


def revoke_token(store: Store, asker: Principal, token_id: int) -> bool:
    asker.require(Permission.MANAGE_ACCOUNTS)
    return store.accounts.revoke_token(token_id, actor=asker.actor)


ONE_TIME = "one-time login"


def one_time_login(store: Store, asker: Principal, account: str, *,
                   lifetime: float = 24 * 3600) -> str:
    """A link secret that logs `account` in once, within `lifetime`, and then is dead.

    For a newcomer after `rpa demo`: printing a password would leave a working
    credential in a terminal's scrollback; this one is spent by its first use.
    """
    text, _ = create_token(store, asker, account, label=ONE_TIME, expires_in=lifetime)
    return text


def redeem_one_time(store: Store, text: str) -> Principal:
    """The principal of a one-time login secret, which is revoked by this use."""
    if not text.startswith(TOKEN_PREFIX) or len(text) > 200:
        raise NotAuthenticated("this login link is not valid")
    token = store.accounts.token(digest(text))
    if token is None or token.label != ONE_TIME or not token.usable(time.time()):
        raise NotAuthenticated("this login link was used already or has expired: ask for a "
                               "new one (rpa users login-link NAME)")
    if not store.accounts.revoke_token(token.id, actor=f"web:{token.account}"):
        raise NotAuthenticated("this login link was used already")
    account = store.accounts.get(token.account)
    if account is None or account.disabled:
        raise NotAuthenticated("the account is disabled")
    store.accounts.note_login(account.name, ok=True, via="one-time link", lock_after=1,
                              lock_seconds=0)
    return principal_of(account)


def token_principal(store: Store, text: str) -> Principal:
    """The principal of an API token; NotAuthenticated if unknown, revoked or expired."""
    if not text.startswith(TOKEN_PREFIX) or len(text) > 200:
        raise NotAuthenticated("not an API token of this orchestrator")
    found = store.accounts.token_account(digest(text))
    if found is None or found[0].label == ONE_TIME or not found[0].usable(time.time()):
        raise NotAuthenticated("the token is unknown, revoked or expired")
    token, account = found
    if account.disabled:
        raise NotAuthenticated("the token's account is disabled")
    if token.last_used_at is None or time.time() - token.last_used_at > TOUCH_EVERY:
        store.accounts.touch_token(token.id)  # not a write per request: once a minute
    return principal_of(account, via="token", token_id=token.id)


# -- sessions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


def open_session(store: Store, principal: Principal, *, lifetime: float) -> tuple[str, str]:
    """A new console session: (cookie value, CSRF token)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    store.accounts.open_session(digest(session_id), principal.name, csrf,
                                time.time() + lifetime)
    return session_id, csrf


def session_of(store: Store, session_id: str) -> Session:
    if not session_id or len(session_id) > 100:
        raise NotAuthenticated("no session")
    found = store.accounts.session_account(digest(session_id))
    if found is None:
        raise NotAuthenticated("the session has expired: log in again")
    session, account = found
    if account.disabled:
        raise NotAuthenticated("the account is disabled")
    return Session(principal_of(account), session.csrf)


def close_session(store: Store, session_id: str, principal: Principal) -> None:
    store.accounts.close_session(digest(session_id), actor=principal.actor)


def sso_login(store: Store, name: str, groups: list[str], role_map: dict[str, str]) -> Principal:
    """The principal of a single-sign-on login: the first group in `role_map` wins.

    A group maps to a role (`admin`, ...) or to `owner:NAME`. No mapped group
    means no access: a directory full of employees must not all get in.
    """
    check_name(name)
    for group in groups:
        target = role_map.get(group)
        if target is None:
            continue
        role, _, owner = target.partition(":")
        try:
            account = store.accounts.upsert_sso(name, Role.parse(role).value, owner or None,
                                                actor=f"sso:{name}")
        except AccountError as err:
            raise AccessDenied(str(err)) from None
        if account.disabled:
            raise AccessDenied("the account is disabled")
        store.accounts.note_login(name, ok=True, via="sso", lock_after=1, lock_seconds=0)
        return principal_of(account)
    raise AccessDenied("your groups give no role in this orchestrator: ask an administrator")
