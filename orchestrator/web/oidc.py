"""Single sign-on by OpenID Connect (Entra ID, Keycloak, ...), with Authlib.

The authorization-code flow with PKCE (S256), state and nonce; Authlib checks
the id_token's signature against the provider's keys, its issuer, audience,
expiry and nonce. The user's groups (the `oidc_groups_claim` claim) map to a
role by `oidc_roles`; a user with no mapped group does not get in.
"""

from __future__ import annotations

from typing import Any

import structlog
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from orchestrator.services import accounts
from orchestrator.services.access import NotAuthenticated
from orchestrator.settings import Settings
from orchestrator.web.security import set_session_cookie, settings_of, store_of

router = APIRouter(prefix="/auth/oidc")
log = structlog.get_logger("orchestrator.web.oidc")


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_discovery_url and settings.oidc_client_id)


def _client(request: Request) -> Any:
    """The app's OAuth client, registered on first use from settings."""
    app = request.app
    if getattr(app.state, "oauth", None) is None:
        settings = settings_of(request)
        if not enabled(settings):
            raise NotAuthenticated("single sign-on is not configured")
        oauth = OAuth()
        secret = settings.oidc_client_secret
        oauth.register("sso", client_id=settings.oidc_client_id,
                       client_secret=secret.get_secret_value() if secret else None,
                       server_metadata_url=settings.oidc_discovery_url,
                       client_kwargs={"scope": "openid profile email",
                                      "code_challenge_method": "S256"})
        app.state.oauth = oauth
    return app.state.oauth.sso


@router.get("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    client = _client(request)
    redirect_uri = str(request.url_for("oidc_callback"))
    response: Response = await client.authorize_redirect(request, redirect_uri)
    return response


@router.get("/callback", name="oidc_callback", include_in_schema=False)
async def callback(request: Request) -> Response:
    client = _client(request)
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as err:
        log.warning("web.sso_refused", error=err.error)
        raise NotAuthenticated(f"single sign-on failed ({err.error}): try again") from None
    claims = token.get("userinfo") or {}
    settings = settings_of(request)
    name = str(claims.get("preferred_username") or claims.get("email") or claims.get("sub"))
    groups = claims.get(settings.oidc_groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    store = store_of(request)
    principal = await run_in_threadpool(accounts.sso_login, store, name,
                                        [str(g) for g in groups], settings.oidc_roles)
    session_id, _ = await run_in_threadpool(
        accounts.open_session, store, principal,
        lifetime=settings.web_session_hours * 3600)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, settings, session_id)
    return response
