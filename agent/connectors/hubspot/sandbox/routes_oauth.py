"""The OAuth endpoints (HubSpot "OAuth tokens" v1 API); no bearer token is needed for either.

``POST /oauth/v1/token``: OAuth access tokens from a refresh token. The body is form-encoded:
``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token``. The answer is
``{token_type: "bearer", refresh_token, access_token, expires_in}`` with ``expires_in`` in seconds; with the
fault switch ``oauth_expires_in_ms`` it is ``expires_in`` in milliseconds plus ``expires_in_sec`` (case
B24). Failures answer 400 with HubSpot's OAuth error body ``{status: "BAD_REFRESH_TOKEN" | "BAD_CLIENT_ID" |
"BAD_CLIENT_SECRET" | "BAD_GRANT_TYPE" | "MISSING_PARAMS", message, correlationId}`` (not the CRM error shape).

``GET /oauth/v1/access-tokens/{token}``: who the token belongs to: ``{token, user, hub_domain, scopes,
hub_id, app_id, expires_in (s), user_id, token_type}`` for the sandbox token (whatever it looks like) and
unexpired OAuth access tokens; any other private-app token (``pat-...``) is refused with 400 "The access
token must have the correct format", as HubSpot does; other tokens 404.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import new_correlation_id, not_found
from .params import sandbox_of

TOKEN_PATH = "/oauth/v1/token"
SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "settings.users.read",
    "settings.users.teams.read",
    "oauth",
]


def oauth_error(status: str, message: str) -> Response:
    """A 400 in the OAuth endpoints' own shape."""
    return JSONResponse({"status": status, "message": message, "correlationId": new_correlation_id()},
                        status_code=400)


async def token(request: Request) -> Response:
    """``POST /oauth/v1/token``: a new access token (and the refresh token, rotated when the app rotates)."""
    sandbox = sandbox_of(request)
    oauth = sandbox.oauth
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    grant = form.get("grant_type", "")
    if grant != "refresh_token":
        return oauth_error("BAD_GRANT_TYPE", f"grant_type must be refresh_token, not '{grant[:40]}'")
    missing = [key for key in ("client_id", "client_secret", "refresh_token") if not form.get(key)]
    if missing:
        return oauth_error("MISSING_PARAMS", f"missing parameters: {', '.join(missing)}")
    client = oauth.check_client(form["client_id"], form["client_secret"])
    if client == "unknown_client":
        return oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
    if client == "bad_secret":
        return oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    lifetime = sandbox.faults.oauth_token_lifetime_s
    issued = oauth.grant(form["client_id"], form["refresh_token"], lifetime)
    if issued is None:
        return oauth_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
    refresh, access = issued.refresh_token or form["refresh_token"], issued.access_token
    body: dict[str, object] = {"token_type": "bearer", "refresh_token": refresh, "access_token": access}
    if sandbox.faults.oauth_expires_in_ms:
        body.update({"expires_in": lifetime * 1000, "expires_in_sec": lifetime})
    else:
        body["expires_in"] = lifetime
    return JSONResponse(body)


async def token_info(request: Request) -> Response:
    """``GET /oauth/v1/access-tokens/{token}``: the token's user, hub, scopes and seconds left."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    token = request.path_params["token"]
    expires_in = 1800
    if token.startswith("pat-") and token != sandbox.token:
        return JSONResponse({"status": "error", "message": "The access token must have the correct format",
                             "correlationId": new_correlation_id()}, status_code=400)
    if sandbox.token is not None and token != sandbox.token:
        token_state, expires_at = sandbox.oauth.state_of(token)
        if token_state != "valid":
            raise not_found("Token not found", context={"token": ["<redacted>"]})
        expires_in = max((expires_at - state.clock()) // 1000, 0)
    with state.lock:
        user = state.token_user()
        if user is None:
            raise not_found("Token not found")
        return JSONResponse(
            {
                "token": token,
                "user": user.email,
                "hub_domain": state.hub_domain,
                "scopes": SCOPES,
                "scope_to_scope_group_pks": [],
                "trial_scopes": [],
                "trial_scope_to_scope_group_pks": [],
                "hub_id": state.portal_id,
                "app_id": 1_000_001,
                "expires_in": expires_in,
                "user_id": int(user.id),
                "token_type": "access",
            }
        )


ROUTES = [
    Route(TOKEN_PATH, token, methods=["POST"]),
    Route("/oauth/v1/access-tokens/{token}", token_info, methods=["GET"]),
]
"""The OAuth routes."""
