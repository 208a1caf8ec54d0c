"""``POST /oauth/v2/token``: the accounts server's token endpoint ("Refresh Access Tokens", Zoho OAuth).

Form body or query string: ``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token``
-> ``{access_token, scope, api_domain, token_type, expires_in}`` (seconds; with the ``oauth_expires_in_ms``
switch ``expires_in`` is milliseconds and ``expires_in_sec`` seconds, case B24). Like Zoho, a refusal is HTTP
200 with ``{"error": "invalid_code"}`` (unknown or revoked refresh token), ``invalid_client``,
``invalid_client_secret`` or ``unsupported_grant_type``. No token is needed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .params import api_domain, sandbox_of

TOKEN_PATH = "/oauth/v2/token"


async def token(request: Request) -> Response:
    """``POST /oauth/v2/token``: an access token from a refresh token; refusals are 200 ``{error}``."""
    sandbox = sandbox_of(request)
    form: dict[str, str] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
    if form.get("grant_type") != "refresh_token":
        return JSONResponse({"error": "unsupported_grant_type"})
    client_id = form.get("client_id", "")
    check = sandbox.oauth.check_client(client_id, form.get("client_secret", ""))
    if check != "ok":
        return JSONResponse({"error": "invalid_client" if check == "unknown_client" else "invalid_client_secret"})
    lifetime = sandbox.faults.token_lifetime_s
    grant = sandbox.oauth.grant(client_id, form.get("refresh_token", ""), lifetime)
    if grant is None:
        return JSONResponse({"error": "invalid_code"})
    answer: dict[str, Any] = {"access_token": grant.access_token,
                              "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.users.READ ZohoCRM.org.READ",
                              "api_domain": api_domain(sandbox, request), "token_type": "Bearer",
                              "expires_in": lifetime}
    if sandbox.faults.oauth_expires_in_ms:
        answer.update(expires_in=lifetime * 1000, expires_in_sec=lifetime)
    return JSONResponse(answer)


ROUTES = [Route(TOKEN_PATH, token, methods=["POST"])]
"""The token route."""
