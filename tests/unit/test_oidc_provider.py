"""The test OpenID Connect provider refuses what a real one refuses.

The console's SSO tests are only as good as the provider they run against: one
that accepted a wrong verifier, a reused code or a foreign redirect URI would
let a broken console pass. These tests drive the provider by hand over HTTP,
the way a browser and the console's Authlib client would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc_provider import OidcProvider

CLIENT_ID = "rpa"
SECRET = "s3cret"
REDIRECT = "http://127.0.0.1:9/auth/oidc/callback"  # never followed: nothing listens there
USERS = {"kari": {"name": "Kari Nordmann", "email": "kari@example.no",
                  "groups": ["rpa-finance"]}}


class FormParser(HTMLParser):
    """The page's form inputs and the texts a user would see, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str]] = {}
        self.buttons: list[str] = []
        self.labels: dict[str, str] = {}
        self.alerts: list[str] = []
        self.form_action: str | None = None
        self._open: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form_action = a.get("action")
        elif tag == "input":
            self.inputs[a["name"]] = a
        elif tag in ("button", "label") or a.get("role") == "alert":
            self._open = (tag if a.get("role") != "alert" else "alert", a)

    def handle_data(self, data: str) -> None:
        if self._open is None or not data.strip():
            return
        kind, attrs = self._open
        if kind == "button":
            self.buttons.append(data.strip())
        elif kind == "label":
            self.labels[attrs["for"]] = data.strip()
        else:
            self.alerts.append(data.strip())
        self._open = None


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid profile email", "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4), "code_challenge": challenge,
        "code_challenge_method": "S256", **overrides}
    return {k: v for k, v in params.items() if v is not None}


@pytest.fixture
def op() -> Iterator[OidcProvider]:
    with OidcProvider(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[REDIRECT],
                      users={k: dict(v) for k, v in USERS.items()}) as provider:
        yield provider


@pytest.fixture
def http(op: OidcProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=op.issuer, follow_redirects=False, timeout=10) as client:
        yield client


def sign_in(http: httpx.Client, params: dict[str, str], username: str = "kari") -> str:
    """GET the form, post it back as a browser would, and return the code."""
    page = http.get("/authorize", params=params)
    assert page.status_code == 200, page.text
    form = parse_form(page.text)
    fields = {name: a.get("value", "") for name, a in form.inputs.items()
              if a.get("type") == "hidden"}
    answer = http.post(form.form_action or "", data={**fields, "username": username})
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == params["redirect_uri"]
    query = parse_qs(location.query)
    assert query["state"] == [params["state"]]
    return query["code"][0]


def exchange(http: httpx.Client, code: str, verifier: str, *, secret: str = SECRET,
             redirect_uri: str = REDIRECT, method: str = "client_secret_basic") -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    if method == "client_secret_post":
        return http.post("/token", data={**data, "client_id": CLIENT_ID,
                                          "client_secret": secret})
    return http.post("/token", data=data, auth=(CLIENT_ID, secret))


def test_discovery_document_describes_the_code_flow_with_pkce(
        op: OidcProvider, http: httpx.Client) -> None:
    doc = http.get("/.well-known/openid-configuration").json()
    assert op.discovery_url == op.issuer + "/.well-known/openid-configuration"
    assert op.issuer.startswith("http://127.0.0.1:")
    assert doc["issuer"] == op.issuer
    for key, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                      ("jwks_uri", "/jwks"), ("userinfo_endpoint", "/userinfo"),
                      ("end_session_endpoint", "/logout")]:
        assert doc[key] == op.issuer + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "openid" in doc["scopes_supported"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_post",
                                                                 "client_secret_basic"}
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"sub", "nonce", "groups", "email", "name"} <= set(doc["claims_supported"])
    keys = http.get("/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_code_flow_gives_an_id_token_signed_by_the_published_key(
        op: OidcProvider, http: httpx.Client, method: str) -> None:
    verifier, challenge = pkce()
    params = authorize_params(challenge)

    page = http.get("/authorize", params=params)
    form = parse_form(page.text)
    assert form.labels["username"] == "Username"
    assert form.inputs["username"]["id"] == "username"
    assert "Sign in" in form.buttons
    code = sign_in(http, params)

    response = exchange(http, code, verifier, method=method)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]

    key_set = KeySet.import_key_set(http.get("/jwks").json())
    token = jwt.decode(body["id_token"], key_set, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == key_set.keys[0].kid
    claims = token.claims
    assert claims["iss"] == op.issuer
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == params["nonce"]
    assert claims["sub"] == claims["preferred_username"] == "kari"
    assert claims["name"] == "Kari Nordmann" and claims["email"] == "kari@example.no"
    assert claims["groups"] == ["rpa-finance"]
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] > claims["iat"]

    info = http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json() == {"sub": "kari", "preferred_username": "kari", "name": "Kari Nordmann",
                           "email": "kari@example.no", "groups": ["rpa-finance"]}
    assert op.logins == ["kari"]
    assert [t.username for t in op.issued] == ["kari"]
    assert op.issued[0].id_token == body["id_token"]


def test_authlibs_client_accepts_the_flow(op: OidcProvider, http: httpx.Client) -> None:
    """The console's library, not just our reading of the RFCs, takes the tokens: its
    client builds the request and redeems the code, and its id_token claims class
    (the one its OpenID mixin uses) validates iss, aud, nonce and at_hash."""
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oidc.core import CodeIDToken

    doc = http.get("/.well-known/openid-configuration").json()
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
    with OAuth2Client(CLIENT_ID, SECRET, scope="openid profile email", redirect_uri=REDIRECT,
                      code_challenge_method="S256") as client:
        url, state = client.create_authorization_url(doc["authorization_endpoint"],
                                                     code_verifier=verifier, nonce=nonce)
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        code = sign_in(http, query)
        token = client.fetch_token(doc["token_endpoint"], code=code, state=state,
                                   code_verifier=verifier)
    parsed = jwt.decode(token["id_token"], KeySet.import_key_set(http.get("/jwks").json()),
                        algorithms=doc["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(parsed.claims, parsed.header, {"iss": {"values": [op.issuer]}},
                         {"nonce": nonce, "client_id": CLIENT_ID,
                          "access_token": token["access_token"]})
    claims.validate(leeway=120)
    assert claims["groups"] == ["rpa-finance"]


def test_a_wrong_code_verifier_is_refused(op: OidcProvider, http: httpx.Client) -> None:
    _, challenge = pkce()
    code = sign_in(http, authorize_params(challenge))
    other_verifier, _ = pkce()
    response = exchange(http, code, other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert op.issued == []


def test_a_code_is_single_use_and_its_reuse_revokes_the_token(
        op: OidcProvider, http: httpx.Client) -> None:
    verifier, challenge = pkce()
    code = sign_in(http, authorize_params(challenge))
    first = exchange(http, code, verifier)
    assert first.status_code == 200
    again = exchange(http, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert http.get("/userinfo", headers=bearer).status_code == 401


def test_a_wrong_client_secret_gets_401_and_leaves_the_code_alone(
        op: OidcProvider, http: httpx.Client) -> None:
    verifier, challenge = pkce()
    code = sign_in(http, authorize_params(challenge))
    for method in ("client_secret_basic", "client_secret_post"):
        refused = exchange(http, code, verifier, secret="wrong", method=method)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
    assert exchange(http, code, verifier).status_code == 200


def test_the_redirect_uri_must_match_at_the_token_endpoint(
        op: OidcProvider, http: httpx.Client) -> None:
    op.redirect_uris.append("http://127.0.0.1:9/other")
    verifier, challenge = pkce()
    code = sign_in(http, authorize_params(challenge))
    response = exchange(http, code, verifier, redirect_uri="http://127.0.0.1:9/other")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused() -> None:
    with OidcProvider(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=[REDIRECT],
                      users=USERS, code_lifetime=0) as op, \
            httpx.Client(base_url=op.issuer) as http:
        verifier, challenge = pkce()
        code = sign_in(http, authorize_params(challenge))
        response = exchange(http, code, verifier)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant",
                               "error_description": "The code has expired."}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unregistered_redirect_uri_gets_a_400_page_and_no_redirect(
        op: OidcProvider, http: httpx.Client, method: str) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, redirect_uri="https://evil.example/callback")
    if method == "GET":
        response = http.get("/authorize", params=params)
    else:  # the hidden field edited between the form and the post
        response = http.post("/authorize", data={**params, "username": "kari"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not registered" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert op.logins == []


@pytest.mark.parametrize(("override", "reason"), [
    ({"client_id": "someone-else"}, "Unknown client_id"),
    ({"response_type": "token"}, "response_type=code"),
    ({"scope": "profile email"}, "openid"),
    ({"state": None}, "state"),
    ({"nonce": None}, "nonce"),
    ({"code_challenge": None}, "code_challenge"),
    ({"code_challenge_method": "plain"}, "S256"),
    ({"code_challenge_method": None}, "S256"),
])
def test_an_incomplete_authorization_request_gets_a_400_page(
        http: httpx.Client, override: dict[str, str | None], reason: str) -> None:
    _, challenge = pkce()
    response = http.get("/authorize", params=authorize_params(challenge, **override))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert reason in response.text


def test_an_unknown_username_shows_the_form_again(op: OidcProvider, http: httpx.Client) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge)
    response = http.post("/authorize", data={**params, "username": "ola"})
    assert response.status_code == 200
    assert "location" not in response.headers
    form = parse_form(response.text)
    assert form.alerts == ["Unknown username. Try again."]
    assert form.inputs["username"]["value"] == "ola"
    assert form.inputs["username"]["aria-invalid"] == "true"
    assert {n for n, a in form.inputs.items() if a.get("type") == "hidden"} == set(params)
    assert op.logins == []


def test_cancel_returns_access_denied_with_the_state(http: httpx.Client) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge)
    response = http.post("/authorize", data={**params, "action": "cancel"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [params["state"]]
    assert "code" not in query


def test_userinfo_needs_a_valid_bearer_token(http: httpx.Client) -> None:
    assert http.get("/userinfo").status_code == 401
    response = http.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_logout_returns_to_a_registered_address_only(
        op: OidcProvider, http: httpx.Client) -> None:
    verifier, challenge = pkce()
    id_token = exchange(http, sign_in(http, authorize_params(challenge)), verifier) \
        .json()["id_token"]
    assert http.get("/logout", params={"post_logout_redirect_uri": "http://127.0.0.1:9/"}) \
        .status_code == 400
    op.post_logout_redirect_uris.append("http://127.0.0.1:9/")
    response = http.get("/logout", params={"post_logout_redirect_uri": "http://127.0.0.1:9/",
                                           "id_token_hint": id_token, "state": "s1"})
    assert response.status_code == 302
    assert response.headers["location"] == "http://127.0.0.1:9/?state=s1"
    page = http.get("/logout")
    assert page.status_code == 200 and "signed out" in page.text
    assert http.get("/logout", params={"id_token_hint": "not.a.token"}).status_code == 400
    assert op.logouts == ["kari", None]


def test_loopback_mode_accepts_any_local_callback_and_nothing_else() -> None:
    with OidcProvider(client_id=CLIENT_ID, client_secret=SECRET, users=USERS,
                      redirect_uris=None) as op, \
            httpx.Client(base_url=op.issuer) as http:
        assert op.allow_loopback_redirects
        _, challenge = pkce()
        for uri, status in [("http://127.0.0.1:51234/auth/oidc/callback", 200),
                            ("http://127.0.0.1:80@evil.example/cb", 400),
                            ("http://localhost:51234/cb", 400),
                            ("https://127.0.0.1:51234/cb", 400)]:
            response = http.get("/authorize", params=authorize_params(challenge,
                                                                      redirect_uri=uri))
            assert response.status_code == status, uri


def test_the_default_requires_an_exact_redirect_uri() -> None:
    op = OidcProvider(client_id=CLIENT_ID, client_secret=SECRET, users=USERS)
    assert not op.allow_loopback_redirects and op.redirect_uris == []
    with pytest.raises(RuntimeError):
        _ = op.issuer  # no port until started


def test_exit_leaves_no_thread_even_with_a_silent_connection_open() -> None:
    """A browser may open a connection and send nothing; its handler thread must
    still end when the provider does."""
    before = set(threading.enumerate())
    with OidcProvider(client_id=CLIENT_ID, client_secret=SECRET, users=USERS) as op:
        port = urlsplit(op.issuer).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port)) as silent:
            deadline = time.monotonic() + 5
            while len(set(threading.enumerate()) - before) < 2:  # the server's and its handler's
                assert time.monotonic() < deadline, "no handler thread started"
                time.sleep(0.01)
            op.stop()
            assert set(threading.enumerate()) - before == set()
            assert silent.recv(1) == b""  # the server closed its end
