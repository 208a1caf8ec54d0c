"""Sandbox-only admin endpoints (no session, no limits, not counted):

- ``GET|POST /__sandbox/faults``: the switches; POST ``{switch: value, fail_next?: [...], clear_scripted?}``;
- ``GET /__sandbox/stats``, ``POST /__sandbox/stats/reset``: request counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ManualClock);
- ``GET|POST /__sandbox/oauth``: sessions and refresh tokens; POST ``{expire_sessions?, revoke_refresh_tokens?,
  add_refresh_token?, session_timeout_s?, rotate_refresh_tokens?}``;
- ``POST /__sandbox/convert`` ``{lead_id, contact_id?}`` -> ``{contact_id}``: convert a Lead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import ManualClock
from .errors import error
from .params import Sandbox, read_object
from .state import RecordNotFound

ADMIN_PREFIX = "/__sandbox"


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes bound to ``sandbox``."""

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                sandbox.faults.update(await read_object(request))
            except (ValueError, TypeError) as exc:
                raise error(400, "INVALID_INPUT", str(exc)) from exc
        return JSONResponse(sandbox.faults.to_dict())

    async def stats(request: Request) -> Response:
        return JSONResponse({**sandbox.state.stats(), "api_usage": sandbox.usage.used()})

    async def reset_stats(request: Request) -> Response:
        sandbox.state.reset_counters()
        return JSONResponse(sandbox.state.stats())

    async def clock(request: Request) -> Response:
        body = await read_object(request)
        current = sandbox.state.clock
        if not isinstance(current, ManualClock):
            raise error(409, "INVALID_OPERATION", "The sandbox runs on real time; start it with a ManualClock.")
        if isinstance(body.get("set_ms"), int):
            current.set(body["set_ms"])
        if isinstance(body.get("advance_ms"), int):
            current.advance(body["advance_ms"])
        return JSONResponse({"now_ms": current()})

    async def oauth(request: Request) -> Response:
        server = sandbox.oauth
        if request.method == "POST":
            body = await read_object(request)
            unknown = set(body) - {"expire_sessions", "revoke_refresh_tokens", "add_refresh_token",
                                   "session_timeout_s", "rotate_refresh_tokens"}
            if unknown:
                raise error(400, "INVALID_INPUT", f"unknown OAuth switches: {', '.join(sorted(unknown))}")
            if body.get("revoke_refresh_tokens"):
                server.revoke_refresh_tokens()
            if body.get("expire_sessions"):
                server.expire_sessions()
            if isinstance(body.get("add_refresh_token"), str) and body["add_refresh_token"]:
                server.add_refresh_token(body["add_refresh_token"], sandbox.state.api_user_id)
            if isinstance(body.get("session_timeout_s"), int) and body["session_timeout_s"] > 0:
                server.session_timeout_s = body["session_timeout_s"]
            if isinstance(body.get("rotate_refresh_tokens"), bool):
                server.rotate_refresh_tokens = body["rotate_refresh_tokens"]
        return JSONResponse(server.summary())

    async def convert(request: Request) -> Response:
        body = await read_object(request)
        lead_id = body.get("lead_id")
        contact_id = body.get("contact_id")
        if not isinstance(lead_id, str) or (contact_id is not None and not isinstance(contact_id, str)):
            raise error(400, "INVALID_INPUT", "lead_id (and optionally contact_id) must be ids")
        try:
            return JSONResponse({"contact_id": sandbox.state.convert_lead(lead_id, contact_id=contact_id)})
        except (RecordNotFound, ValueError) as exc:
            raise error(400, "INVALID_INPUT", str(exc)) from exc

    return [
        Route(f"{ADMIN_PREFIX}/faults", faults, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats/reset", reset_stats, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/convert", convert, methods=["POST"]),
    ]
