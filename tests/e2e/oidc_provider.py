"""A small, real OpenID Connect provider for the console's single-sign-on tests.

It runs in a thread on loopback and speaks the authorization-code flow with
PKCE (S256), state and nonce: discovery, JWKS (one RSA key made at start),
an authorize page with a username form, a token endpoint that checks the
client secret, the redirect URI and the code verifier and signs an RS256
id_token, and userinfo. Codes are single-use. Enough to prove the console's
login against something that refuses what a real provider would refuse.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class Grant:
    user: str
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    issued: float


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str
    users: dict[str, dict[str, Any]]
    redirect_prefix: str = "http://127.0.0.1:"  # the console's callback must start so
    logins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)})
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, str] = {}
        self.app = self._app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.discovery_url = self.issuer + "/.well-known/openid-configuration"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- the flow --------------------------------------------------------------------
    def _authorize_error(self, args: Any) -> str | None:
        if args.get("client_id") != self.client_id:
            return "unknown client"
        if not str(args.get("redirect_uri", "")).startswith(self.redirect_prefix):
            return "redirect_uri not registered"
        if args.get("response_type") != "code" or "openid" not in args.get("scope", ""):
            return "response_type=code and scope openid are required"
        if not args.get("state") or not args.get("nonce"):
            return "state and nonce are required"
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return "PKCE with S256 is required"
        return None

    def _form(self, args: Any, error: str = "") -> str:
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                         for k, v in args.items() if k != "username")
        note = f'<p role="alert">{escape(error)}</p>' if error else ""
        return (f'<!doctype html><html lang="en"><title>Sign in</title><main><h1>Sign in</h1>'
                f'{note}<form method="post" action="/authorize">{hidden}'
                '<label for="username">Username</label><input id="username" name="username">'
                '<button type="submit">Sign in</button></form></main></html>')

    def _token(self) -> tuple[Response, int] | Response:
        form = request.form
        client, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization is not None:
            client, secret = request.authorization.username, request.authorization.password
        if client != self.client_id or secret != self.client_secret:
            return jsonify(error="invalid_client"), 401
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or time.time() - grant.issued > 60 \
                or grant.redirect_uri != form.get("redirect_uri"):
            return jsonify(error="invalid_grant"), 400
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return jsonify(error="invalid_grant", error_description="PKCE"), 400
        now = int(time.time())
        profile = self.users[grant.user]
        claims = {"iss": self.issuer, "sub": grant.user, "aud": self.client_id, "iat": now,
                  "exp": now + 300, "auth_time": now, "nonce": grant.nonce,
                  "preferred_username": grant.user, **profile}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.user
        self.logins.append(grant.user)
        return jsonify(access_token=access, token_type="Bearer", expires_in=300,
                       id_token=id_token)

    def _app(self) -> Flask:
        app = Flask("oidc-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            return jsonify(
                issuer=self.issuer, authorization_endpoint=self.issuer + "/authorize",
                token_endpoint=self.issuer + "/token", jwks_uri=self.issuer + "/jwks",
                userinfo_endpoint=self.issuer + "/userinfo",
                response_types_supported=["code"], subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=["openid", "profile", "email"],
                token_endpoint_auth_methods_supported=["client_secret_post",
                                                       "client_secret_basic"],
                code_challenge_methods_supported=["S256"])

        @app.get("/jwks")
        def jwks() -> Response:
            return jsonify(keys=[self.key.as_dict(private=False) | {"use": "sig",
                                                                   "alg": "RS256"}])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            args = request.args if request.method == "GET" else request.form
            error = self._authorize_error(args)
            if error:
                return f"<!doctype html><p>{escape(error)}</p>", 400
            if request.method == "GET":
                return self._form(args)
            user = args.get("username", "")
            if user not in self.users:
                return self._form(args, "unknown user")
            code = secrets.token_urlsafe(24)
            self.codes[code] = Grant(user, args["client_id"], args["redirect_uri"],
                                     args["nonce"], args["code_challenge"], time.time())
            query = urlencode({"code": code, "state": args["state"]})
            return redirect(f"{args['redirect_uri']}?{query}")

        app.post("/token")(self._token)

        @app.get("/userinfo")
        def userinfo() -> Any:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            user = self.tokens.get(token)
            if user is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(sub=user, preferred_username=user, **self.users[user])

        return app
