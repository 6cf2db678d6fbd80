"""A small, real OpenID Connect provider for tests that must not reach the network.

The console's "log in with SSO" is Authlib's Starlette client doing the
authorization-code flow with PKCE (S256), state and nonce. A mock of Authlib
would only prove that we call Authlib; this provider speaks the protocol over
real HTTP on loopback, so the test proves the whole exchange: discovery, the
browser's trip to /authorize and back, the token request with client
authentication and code verifier, and the RS256 signature of the id_token
checked against the published keys.

It refuses what a real provider refuses (unknown client, unregistered
redirect URI, missing state/nonce/PKCE, a reused or expired code, a wrong
verifier, a wrong secret), because a provider that accepts anything cannot
catch a console that sends the wrong thing.

    with OidcProvider(client_id="rpa", client_secret="s3cret",
                      redirect_uris=["http://127.0.0.1:8000/auth/oidc/callback"],
                      users={"kari": {"name": "Kari Nordmann", "email": "kari@example.no",
                                      "groups": ["rpa-finance"]}}) as op:
        settings.oidc_discovery_url = op.discovery_url
        ...
        assert op.logins == ["kari"]

Not for production: users sign in by username alone, and everything is in memory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

__all__ = ["IssuedToken", "OidcProvider"]

CODE_LIFETIME = 60.0  # seconds; RFC 6749 §4.1.2 recommends at most ten minutes
TOKEN_LIFETIME = 300  # seconds, for both the access token and the id_token
# RFC 7636 §4.1: 43 to 128 unreserved characters; the S256 challenge is 43 base64url ones.
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_AUTHORIZE_PARAMS = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                     "code_challenge", "code_challenge_method")
_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "name", "email",
           "preferred_username", "groups"]


@dataclass(frozen=True)
class IssuedToken:
    """One successful token exchange, so a test can see what the console received."""

    username: str
    access_token: str
    id_token: str
    claims: dict[str, Any]


@dataclass(frozen=True)
class _Grant:
    """What a code stands for until the client redeems it (once)."""

    username: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    auth_time: int
    issued: float  # time.monotonic(), so the expiry does not move with the wall clock


class _Connections:
    """The server's open client connections.

    Werkzeug closes each connection after its response, but a connection that
    sends nothing (a browser's preconnect, a client that died mid-request)
    keeps its handler thread waiting for a request line. Shutting down the
    read side of each open one on exit lets those threads end, so the provider
    leaves no thread behind whatever a client still holds open.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closing = False

    def opened(self, conn: socket.socket) -> None:
        with self._lock:
            if not self._closing:
                self._open.add(conn)
                return
        _shut_read(conn)  # accepted in the last moment before shutdown

    def closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def close_all(self) -> None:
        with self._lock:
            self._closing = True
            conns = list(self._open)
        for conn in conns:
            _shut_read(conn)


def _shut_read(conn: socket.socket) -> None:
    # The read side only: a response being written still gets out. OSError: the
    # client closed it already.
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RD)


def _handler_for(connections: _Connections) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        """Tracks its connection; logs nothing, since test output is for failures."""

        def setup(self) -> None:
            super().setup()
            connections.opened(self.connection)

        def finish(self) -> None:
            connections.closed(self.connection)
            super().finish()

        def log(self, type: str, message: str, *args: Any) -> None:
            pass

    return Handler


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    """The URI with params added to whatever query it has (RFC 6749 §3.1.2 keeps it)."""
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head>\n<body><main><h1>{escape(title)}</h1>\n"
            f"{body}\n</main></body></html>\n")
    return Response(html, status=status, mimetype="text/html")


class OidcProvider:
    """An OpenID Connect provider on 127.0.0.1, run in a thread for the length of a `with`.

    Redirect URIs are matched exactly against `redirect_uris` (a list that may
    be appended to after start, when the console's port is only then known).
    Passing `redirect_uris=None` instead sets `allow_loopback_redirects`: any
    `http://127.0.0.1:PORT/...` is then accepted, for tests that cannot know
    the callback in advance. Post-logout redirects follow the same rule with
    `post_logout_redirect_uris`.

    `users` maps a username (the `sub`) to its profile: `name`, `email`,
    `groups` and any further claims to put in the id_token and userinfo. It is
    read on each sign-in, so a test may add a user while the provider runs.

    What happened, for assertions: `logins` (usernames signed in at the form),
    `issued` (each token exchange), `logouts` (the `sub` of each end-session
    request's id_token_hint, or None).
    """

    def __init__(self, *, client_id: str, client_secret: str,
                 users: dict[str, dict[str, Any]],
                 redirect_uris: Iterable[str] | None = (),
                 post_logout_redirect_uris: Iterable[str] = (),
                 code_lifetime: float = CODE_LIFETIME) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.users = users
        self.allow_loopback_redirects = redirect_uris is None
        self.redirect_uris: list[str] = list(redirect_uris or ())
        self.post_logout_redirect_uris: list[str] = list(post_logout_redirect_uris)
        self.code_lifetime = code_lifetime
        self.logins: list[str] = []
        self.issued: list[IssuedToken] = []
        self.logouts: list[str | None] = []

        # One key per provider, made here so no two test runs share one. The
        # kid is its RFC 7638 thumbprint, as many providers do.
        self.key = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537,
                                                              key_size=2048),
                                     parameters={"use": "sig", "alg": "RS256"})
        self.key.ensure_kid()

        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._redeemed: dict[str, str] = {}  # code -> the access token it bought
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (user, expiry)
        self._connections = _Connections()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._make_app()

    # -- lifecycle ------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """`http://127.0.0.1:PORT`, known once started (the port is picked by the OS)."""
        if self._server is None:
            raise RuntimeError("the provider is not running: use it in a `with` block")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def start(self) -> None:
        """Bind a free port and serve in a thread (bound here, not in __init__, so a
        provider that is never started holds no socket)."""
        if self._server is not None:
            raise RuntimeError("the provider is already running")
        self._connections = _Connections()  # fresh, should this provider be restarted
        server = make_server("127.0.0.1", 0, self.app, threaded=True,
                             request_handler=_handler_for(self._connections))
        # Werkzeug makes request threads daemons, which server_close() does not wait
        # for; these are joined, so none outlives the provider.
        server.daemon_threads = False  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"oidc-provider-{server.server_port}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end the request threads, close the socket."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()                # the accept loop ends ...
        self._connections.close_all()    # ... connections still waiting are ended ...
        thread.join(timeout=10)          # ... and serve_forever's server_close() joins them
        server.server_close()            # closes the listening socket if the thread did not
        self._server = self._thread = None
        if thread.is_alive():
            raise RuntimeError("the OIDC provider's thread did not stop within 10 s")

    def __enter__(self) -> OidcProvider:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- policy ---------------------------------------------------------------------

    def _redirect_allowed(self, uri: str, registered: list[str]) -> bool:
        if uri in registered:
            return True
        if not self.allow_loopback_redirects or not uri.startswith("http://127.0.0.1:"):
            return False
        # "http://127.0.0.1:80@evil.example/" starts the same but goes elsewhere.
        parts = urlsplit(uri)
        try:
            port = parts.port
        except ValueError:
            return False
        return parts.hostname == "127.0.0.1" and port is not None and not parts.username \
            and not parts.fragment

    def _authorize_error(self, params: Mapping[str, str]) -> str | None:
        """Why an authorization request is refused, or None.

        Every refusal is a 400 page, never a redirect: the client and redirect
        URI are checked first, and a test that gets something wrong should see
        the reason on the page rather than a bounce back to the console.
        """
        if params.get("client_id") != self.client_id:
            return "Unknown client_id."
        redirect_uri = params.get("redirect_uri", "")
        if not self._redirect_allowed(redirect_uri, self.redirect_uris):
            return f"The redirect_uri {redirect_uri!r} is not registered for this client."
        if params.get("response_type") != "code":
            return "Only response_type=code is supported."
        if "openid" not in params.get("scope", "").split():
            return "The scope must contain openid."
        if not params.get("state"):
            return "A state parameter is required."
        if not params.get("nonce"):
            return "A nonce parameter is required."
        if params.get("code_challenge_method") != "S256":
            return "PKCE is required, with code_challenge_method=S256."
        if not _CHALLENGE.fullmatch(params.get("code_challenge", "")):
            return "The code_challenge must be 43 base64url characters (S256)."
        return None

    # -- endpoints ------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/.well-known/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/jwks", view_func=self._jwks)
        app.add_url_rule("/authorize", view_func=self._authorize, methods=["GET", "POST"])
        app.add_url_rule("/token", view_func=self._token, methods=["POST"])
        app.add_url_rule("/userinfo", view_func=self._userinfo, methods=["GET", "POST"])
        app.add_url_rule("/logout", view_func=self._logout, methods=["GET", "POST"])
        return app

    def _discovery(self) -> Response:
        issuer = self.issuer
        return jsonify({
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks",
            "userinfo_endpoint": issuer + "/userinfo",
            "end_session_endpoint": issuer + "/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": _CLAIMS,
        })

    def _jwks(self) -> Response:
        return jsonify({"keys": [self.key.as_dict(private=False)]})

    def _form(self, params: Mapping[str, str], username: str = "",
              error: str = "") -> Response:
        """The sign-in form: a labelled field, the request carried in hidden inputs."""
        hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
                         for name in _AUTHORIZE_PARAMS if name in params)
        alert = invalid = ""
        if error:
            alert = f'<p id="error" role="alert">{escape(error)}</p>\n'
            invalid = ' aria-invalid="true" aria-describedby="error"'
        body = (f'{alert}<form method="post" action="/authorize">{hidden}\n'
                '<label for="username">Username</label>\n'
                f'<input id="username" name="username" value="{escape(username)}" '
                f'autocomplete="username" required autofocus{invalid}>\n'
                '<button type="submit">Sign in</button>\n'
                '<button type="submit" name="action" value="cancel" formnovalidate>'
                'Cancel</button>\n</form>')
        return _page("Sign in", body)

    def _authorize(self) -> Response:
        # POST carries the GET's parameters back in hidden inputs: check them again,
        # since a form can be edited.
        params = request.args if request.method == "GET" else request.form
        error = self._authorize_error(params)
        if error is not None:
            return _page("Sign-in request refused", f"<p>{escape(error)}</p>", status=400)
        if request.method == "GET":
            return self._form(params)
        redirect_uri, state = params["redirect_uri"], params["state"]
        if params.get("action") == "cancel":
            # RFC 6749 §4.1.2.1, so the console's "sign-in failed" path can be tested.
            return redirect(_with_query(redirect_uri, {
                "error": "access_denied", "error_description": "The user cancelled.",
                "state": state}))
        username = params.get("username", "").strip()
        if username not in self.users:
            return self._form(params, username, "Unknown username. Try again.")
        code = secrets.token_urlsafe(32)
        grant = _Grant(username=username, redirect_uri=redirect_uri, nonce=params["nonce"],
                       code_challenge=params["code_challenge"], auth_time=int(time.time()),
                       issued=time.monotonic())
        with self._lock:
            self._codes[code] = grant
            self.logins.append(username)
        return redirect(_with_query(redirect_uri, {"code": code, "state": state}))

    def _client_from_request(self) -> tuple[str, str] | str:
        """The client's (id, secret) by client_secret_basic or _post, or an error code."""
        form = request.form
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            if "client_secret" in form:
                return "invalid_request"  # RFC 6749 §2.3: one method per request
            return auth.username or "", auth.password or ""
        if "client_secret" in form:
            return form.get("client_id", ""), form["client_secret"]
        return "invalid_client"

    def _client_ok(self, client_id: str, secret: str) -> bool:
        # RFC 6749 §2.3.1 form-encodes Basic credentials, Authlib sends them raw:
        # accept either, like most providers.
        for cid, sec in ((client_id, secret), (unquote_plus(client_id), unquote_plus(secret))):
            if secrets.compare_digest(cid.encode(), self.client_id.encode()) \
                    and secrets.compare_digest(sec.encode(), self.client_secret.encode()):
                return True
        return False

    def _token(self) -> Response:
        form = request.form
        client = self._client_from_request()
        if client == "invalid_request":
            return _oauth_error("invalid_request", "Use one client authentication method.")
        if isinstance(client, str) or not self._client_ok(*client):
            response = _oauth_error("invalid_client", "Client authentication failed.", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="oidc-provider"'
            return response
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "Only authorization_code.")
        code = form.get("code", "")
        if not code:
            return _oauth_error("invalid_request", "The code is missing.")
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is None:
                # A code seen twice may have been stolen: revoke what it bought
                # (RFC 6749 §4.1.2).
                bought = self._redeemed.get(code)
                if bought is not None:
                    self._tokens.pop(bought, None)
                return _oauth_error("invalid_grant", "The code is unknown or already used.")
            self._redeemed[code] = ""
        if time.monotonic() - grant.issued >= self.code_lifetime:
            return _oauth_error("invalid_grant", "The code has expired.")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant", "The redirect_uri does not match.")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier) \
                or not secrets.compare_digest(_s256(verifier), grant.code_challenge):
            return _oauth_error("invalid_grant", "The code_verifier does not match.")
        if grant.username not in self.users:
            return _oauth_error("invalid_grant", "The user is gone.")

        access_token = secrets.token_urlsafe(32)
        now = int(time.time())
        claims: dict[str, Any] = {
            **self._profile(grant.username),
            "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + TOKEN_LIFETIME,
            "auth_time": grant.auth_time, "nonce": grant.nonce,
            "at_hash": _at_hash(access_token),
        }
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key,
                              algorithms=["RS256"])
        with self._lock:
            self._redeemed[code] = access_token
            self._tokens[access_token] = (grant.username, time.monotonic() + TOKEN_LIFETIME)
            self.issued.append(IssuedToken(grant.username, access_token, id_token, claims))
        response = jsonify({"access_token": access_token, "token_type": "Bearer",
                            "expires_in": TOKEN_LIFETIME, "id_token": id_token,
                            "scope": "openid profile email"})
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
        return response

    def _profile(self, username: str) -> dict[str, Any]:
        """The user's claims: the profile given, and sub and preferred_username."""
        profile = self.users[username]
        return {"groups": [], **profile, "sub": username, "preferred_username": username}

    def _userinfo(self) -> Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        with self._lock:
            entry = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if entry is None or time.monotonic() >= entry[1] or entry[0] not in self.users:
            response = jsonify({"error": "invalid_token"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return jsonify(self._profile(entry[0]))

    def _logout(self) -> Response:
        """RP-initiated logout: check the hint and the return address, end the tokens."""
        params = request.values
        sub: str | None = None
        hint = params.get("id_token_hint")
        if hint:
            try:
                # An expired hint is still a valid hint (RP-Initiated Logout §2).
                token = jwt.decode(hint, self.key, algorithms=["RS256"])
            except (JoseError, ValueError):
                return _page("Sign-out refused", "<p>The id_token_hint is not ours.</p>", 400)
            if token.claims.get("aud") != self.client_id:
                return _page("Sign-out refused", "<p>The id_token_hint is for another "
                             "client.</p>", 400)
            sub = str(token.claims.get("sub"))
        target = params.get("post_logout_redirect_uri")
        if target and not self._redirect_allowed(target, self.post_logout_redirect_uris):
            return _page("Sign-out refused", "<p>The post_logout_redirect_uri <code>"
                         f"{escape(target)}</code> is not registered.</p>", 400)
        with self._lock:
            self.logouts.append(sub)
            if sub is not None:
                for token_value in [t for t, (u, _) in self._tokens.items() if u == sub]:
                    del self._tokens[token_value]
        if target:
            state = params.get("state")
            return redirect(_with_query(target, {"state": state} if state else {}))
        return _page("Signed out", "<p>You are signed out.</p>")


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    """An RFC 6749 §5.2 error body."""
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
