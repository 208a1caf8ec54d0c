"""Sandbox-only admin endpoints (no session, no limits, not counted); the shared ones are in
:mod:`leadsync.agent.connectors.sandbox.admin`:

- ``GET|POST /__sandbox/faults``: the switches; POST ``{switch: value, fail_next?: [...], clear_scripted?}``;
- ``GET /__sandbox/stats`` (with ``api_usage``), ``POST /__sandbox/stats/reset``: request counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ManualClock);
- ``GET|POST /__sandbox/oauth``: sessions and refresh tokens; POST ``{expire_sessions?, revoke_refresh_tokens?,
  add_refresh_token?, session_timeout_s?, rotate_refresh_tokens?}``;
- ``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}``: convert a Lead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadsync.agent.connectors.sandbox.admin import ADMIN_PREFIX, admin_routes, apply_oauth_switches

from .errors import SalesforceError, error
from .params import Sandbox, read_object, sandbox_of
from .state import RecordNotFound

__all__ = ["ADMIN_PREFIX", "routes"]


def _invalid_input(message: str) -> SalesforceError:
    return error(400, "INVALID_INPUT", message)


def _invalid_operation(message: str) -> SalesforceError:
    return error(409, "INVALID_OPERATION", message)


async def oauth(request: Request) -> Response:
    """``GET|POST /__sandbox/oauth``: the OAuth server's summary (after applying a POST's switches)."""
    sandbox = sandbox_of(request)
    server = sandbox.oauth
    if request.method == "POST":
        body = await read_object(request)
        apply_oauth_switches(server, body, expire_switch="expire_sessions", user_id=sandbox.state.api_user_id,
                             own_switches=frozenset({"session_timeout_s"}), bad_input=_invalid_input)
        if isinstance(body.get("session_timeout_s"), int) and body["session_timeout_s"] > 0:
            server.session_timeout_s = body["session_timeout_s"]
    return JSONResponse(server.summary())


async def convert(request: Request) -> Response:
    """``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}``; 400 for bad ids."""
    state = sandbox_of(request).state
    body = await read_object(request)
    lead_id = body.get("lead_id")
    contact_id = body.get("contact_id")
    if not isinstance(lead_id, str) or (contact_id is not None and not isinstance(contact_id, str)):
        raise error(400, "INVALID_INPUT", "lead_id (and optionally contact_id) must be ids")
    try:
        return JSONResponse({"contact_id": state.convert_lead(lead_id, contact_id=contact_id)})
    except (RecordNotFound, ValueError) as exc:
        raise error(400, "INVALID_INPUT", str(exc)) from exc


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes: the shared ones bound to ``sandbox`` (stats add ``api_usage``), then
    ``/__sandbox/oauth`` and ``/__sandbox/convert``."""
    return [
        *admin_routes(sandbox.state, sandbox.faults, read_object=read_object, bad_input=_invalid_input,
                      conflict=_invalid_operation, extra_stats=lambda: {"api_usage": sandbox.usage.used()}),
        Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/convert", convert, methods=["POST"]),
    ]
