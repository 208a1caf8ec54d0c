"""Sandbox-only admin endpoints (no auth, no rate limit, not counted); the shared ones are in
:mod:`leadsync.agent.connectors.sandbox.admin`:

- ``GET|POST /__sandbox/faults``: the switches and scripted faults (400 on unknown names);
- ``GET /__sandbox/stats`` -> request counts (``requests_total``, ``requests`` by
  ``"METHOD /path"``, ``write_requests``, ``records_written``, ``rate_limited`` = 429s served,
  ``status_counts``, ``contacts``); ``POST /__sandbox/stats/reset`` -> zero the counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ``ManualClock``);
- ``GET /__sandbox/oauth`` -> ``{issued, access_tokens, refresh_tokens, rotate_refresh_tokens}``;
  ``POST /__sandbox/oauth`` ``{expire_access_tokens?: true, revoke_refresh_tokens?: true,
  add_refresh_token?: str, rotate_refresh_tokens?: bool}`` -> the same after the change.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadsync.agent.connectors.sandbox.admin import ADMIN_PREFIX, admin_routes, apply_oauth_switches

from .errors import HubSpotError, bad_request
from .params import Sandbox, read_object, sandbox_of

__all__ = ["ADMIN_PREFIX", "routes"]


def _conflict(message: str) -> HubSpotError:
    return HubSpotError(409, "CONFLICT", message)


async def oauth(request: Request) -> Response:
    """``GET|POST /__sandbox/oauth``: the OAuth server's counts (after applying a POST's switches)."""
    server = sandbox_of(request).oauth
    if request.method == "POST":
        apply_oauth_switches(server, await read_object(request), expire_switch="expire_access_tokens",
                             bad_input=bad_request)
    return JSONResponse({"issued": server.issued, "access_tokens": len(server.access_tokens),
                         "refresh_tokens": len(server.refresh_tokens),
                         "rotate_refresh_tokens": server.rotate_refresh_tokens})


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes: the shared ones bound to ``sandbox``, then ``/__sandbox/oauth``."""
    return [
        *admin_routes(sandbox.state, sandbox.faults, read_object=read_object, bad_input=bad_request,
                      conflict=_conflict),
        Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["GET", "POST"]),
    ]
