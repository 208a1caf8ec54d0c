"""``POST /oauth/v1/token``: OAuth access tokens from a refresh token (HubSpot "OAuth tokens" v1 API).

The body is form-encoded: ``grant_type=refresh_token``, ``client_id``, ``client_secret``,
``refresh_token``. The answer is ``{token_type: "bearer", refresh_token, access_token, expires_in}``
with ``expires_in`` in seconds; with the fault switch ``oauth_expires_in_ms`` it is
``expires_in`` in milliseconds plus ``expires_in_sec`` (case B24). Failures answer 400 with HubSpot's
OAuth error body ``{status: "BAD_REFRESH_TOKEN" | "BAD_CLIENT_ID" | "BAD_CLIENT_SECRET" |
"BAD_GRANT_TYPE" | "MISSING_PARAMS", message, correlationId}`` (not the CRM error shape). No bearer
token is needed.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import new_correlation_id
from .params import Sandbox

TOKEN_PATH = "/oauth/v1/token"


def oauth_error(status: str, message: str) -> Response:
    """A 400 in the OAuth endpoints' own shape."""
    return JSONResponse({"status": status, "message": message, "correlationId": new_correlation_id()},
                        status_code=400)


def routes(sandbox: Sandbox) -> list[Route]:
    """The token route bound to ``sandbox``."""
    oauth = sandbox.oauth

    async def token(request: Request) -> Response:
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

    return [Route(TOKEN_PATH, token, methods=["POST"])]
