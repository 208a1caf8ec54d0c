"""``POST /services/oauth2/token``: the OAuth 2.0 refresh-token flow ("OAuth 2.0 Refresh Token Flow for
Renewed Sessions").

The body is form-encoded: ``grant_type=refresh_token``, ``client_id``, ``client_secret`` (optional when
the app does not require it; checked when sent), ``refresh_token``. The answer is ``{access_token,
signature, scope, instance_url, id, token_type: "Bearer", issued_at}`` (``issued_at`` epoch ms as text)
plus a new ``refresh_token`` when the app rotates them; no lifetime (with the fault switch
``oauth_expires_in_ms`` also ``expires_in`` in ms and ``expires_in_sec``). Failures answer 400 ``{error,
error_description}``: ``unsupported_grant_type``, ``invalid_client_id``, ``invalid_client``,
``invalid_grant`` ("expired access/refresh token"). No session is needed.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .params import instance_url, sandbox_of

TOKEN_PATH = "/services/oauth2/token"


def oauth_error(code: str, description: str, status: int = 400) -> Response:
    """An OAuth error answer (not the REST error array)."""
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


async def token(request: Request) -> Response:
    """``POST /services/oauth2/token``: a new session (and refresh token, when the app rotates them)."""
    sandbox = sandbox_of(request)
    oauth, state = sandbox.oauth, sandbox.state
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    grant = form.get("grant_type", "")
    if grant != "refresh_token":
        return oauth_error("unsupported_grant_type", "grant type not supported")
    client_id = form.get("client_id", "")
    check = oauth.check_client(client_id, form.get("client_secret"))
    if check == "unknown_client":
        return oauth_error("invalid_client_id", "client identifier invalid")
    if check == "bad_secret":
        return oauth_error("invalid_client", "invalid client credentials")
    issued = oauth.refresh(client_id, form.get("refresh_token", ""))
    if issued is None:
        return oauth_error("invalid_grant", "expired access/refresh token")
    base = instance_url(sandbox, request)
    identity = f"{base}/id/{state.org_id}/{issued.user_id}"
    issued_at = str(issued.issued_ms)
    body: dict[str, object] = {"access_token": issued.access_token,
                               "signature": oauth.signature(client_id, identity, issued_at),
                               "scope": "api refresh_token", "instance_url": base, "id": identity,
                               "token_type": "Bearer", "issued_at": issued_at}
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    if sandbox.faults.oauth_expires_in_ms:
        body.update({"expires_in": oauth.session_timeout_s * 1000, "expires_in_sec": oauth.session_timeout_s})
    return JSONResponse(body)


ROUTES = [Route(TOKEN_PATH, token, methods=["POST"])]
"""The token route."""
