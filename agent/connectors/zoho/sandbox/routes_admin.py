"""Sandbox-only admin endpoints (no token, no limits, not counted): the shared ones of
:mod:`leadsync.agent.connectors.sandbox.admin` (``/__sandbox/faults``, ``/stats``, ``/stats/reset``,
``/clock``) plus

- ``GET|POST /__sandbox/oauth`` ``{expire_tokens?, revoke_refresh_tokens?, add_refresh_token?}`` -> the token
  book's counts;
- ``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}`` (Zoho's own
  ``POST /crm/v8/Leads/{id}/actions/convert`` works too).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadsync.agent.connectors.sandbox.admin import ADMIN_PREFIX, admin_routes, apply_oauth_switches

from .errors import ZohoError
from .params import Sandbox, sandbox_of
from .state import RecordNotFound

__all__ = ["ADMIN_PREFIX", "routes"]


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZohoError(400, "INVALID_DATA", "a JSON object is required")
    return body


def _bad_input(message: str) -> Exception:
    return ZohoError(400, "INVALID_DATA", message)


async def oauth(request: Request) -> Response:
    """``GET|POST /__sandbox/oauth``: the token book's counts (after applying a POST's switches)."""
    sandbox = sandbox_of(request)
    book = sandbox.oauth
    if request.method == "POST":
        apply_oauth_switches(book, await _body(request), expire_switch="expire_tokens",
                             user_id=sandbox.state.api_user_id, bad_input=_bad_input)
    return JSONResponse({"issued": book.issued, "refused": book.refused,
                         "refresh_tokens": len(book.refresh_tokens), "access_tokens": len(book.access_tokens)})


async def convert(request: Request) -> Response:
    """``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}``; 400 for bad ids."""
    state = sandbox_of(request).state
    body = await _body(request)
    lead_id, contact_id = body.get("lead_id"), body.get("contact_id")
    if not isinstance(lead_id, str) or (contact_id is not None and not isinstance(contact_id, str)):
        raise ZohoError(400, "INVALID_DATA", "lead_id (and optionally contact_id) must be ids")
    try:
        return JSONResponse({"contact_id": state.convert_lead(lead_id, contact_id=contact_id)})
    except (RecordNotFound, ValueError) as exc:
        raise ZohoError(400, "INVALID_DATA", str(exc)) from exc


def _conflict(message: str) -> Exception:
    return ZohoError(409, "INVALID_REQUEST", message)


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes: the shared ones bound to ``sandbox`` (stats add ``credits_used``), then
    ``/__sandbox/oauth`` and ``/__sandbox/convert``."""
    state = sandbox.state
    return [
        *admin_routes(state, sandbox.faults, read_object=_body, bad_input=_bad_input, conflict=_conflict,
                      extra_stats=lambda: {"credits_used": sandbox.credits.used(state.now())}),
        Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/convert", convert, methods=["POST"]),
    ]
