"""Sandbox-only admin endpoints (no token, no limits, not counted):

- ``GET|POST /__sandbox/faults``: the switches; POST ``{switch: value, fail_next?: [...], clear_scripted?}``;
- ``GET /__sandbox/stats``, ``POST /__sandbox/stats/reset``: request counters and record counts;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ManualClock);
- ``POST /__sandbox/oauth`` ``{expire_tokens?, revoke_refresh_tokens?, add_refresh_token?}``;
- ``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}`` (Zoho's own
  ``POST /crm/v8/Leads/{id}/actions/convert`` works too).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadsync.agent.connectors.sandbox_kit import ManualClock

from .errors import ZohoError
from .params import Sandbox
from .state import RecordNotFound

ADMIN_PREFIX = "/__sandbox"


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZohoError(400, "INVALID_DATA", "a JSON object is required")
    return body


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes bound to ``sandbox``."""
    state = sandbox.state

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                sandbox.faults.update(await _body(request))
            except (ValueError, TypeError) as exc:
                raise ZohoError(400, "INVALID_DATA", str(exc)) from exc
        return JSONResponse(sandbox.faults.to_dict())

    async def stats(request: Request) -> Response:
        if request.method == "POST":
            state.reset_counters()
        return JSONResponse({**state.stats(), "credits_used": sandbox.credits.used(state.now())})

    async def clock(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(state.clock, ManualClock):
            raise ZohoError(409, "INVALID_REQUEST", "The sandbox runs on real time; start it with a ManualClock.")
        if isinstance(body.get("set_ms"), int):
            state.clock.set(body["set_ms"])
        if isinstance(body.get("advance_ms"), int):
            state.clock.advance(body["advance_ms"])
        return JSONResponse({"now_ms": state.clock()})

    async def oauth(request: Request) -> Response:
        body = await _body(request)
        book = sandbox.oauth
        if body.get("revoke_refresh_tokens"):
            book.revoke_refresh_tokens()
        if body.get("expire_tokens"):
            book.expire_access_tokens()
        if isinstance(body.get("add_refresh_token"), str) and body["add_refresh_token"]:
            book.add_refresh_token(body["add_refresh_token"], user_id=state.api_user_id)
        return JSONResponse({"issued": book.issued, "refused": book.refused,
                             "refresh_tokens": len(book.refresh_tokens), "access_tokens": len(book.access_tokens)})

    async def convert(request: Request) -> Response:
        body = await _body(request)
        lead_id, contact_id = body.get("lead_id"), body.get("contact_id")
        if not isinstance(lead_id, str) or (contact_id is not None and not isinstance(contact_id, str)):
            raise ZohoError(400, "INVALID_DATA", "lead_id (and optionally contact_id) must be ids")
        try:
            return JSONResponse({"contact_id": state.convert_lead(lead_id, contact_id=contact_id)})
        except (RecordNotFound, ValueError) as exc:
            raise ZohoError(400, "INVALID_DATA", str(exc)) from exc

    return [
        Route(f"{ADMIN_PREFIX}/faults", faults, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats/reset", stats, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/convert", convert, methods=["POST"]),
    ]
