"""Sandbox-only admin endpoints (no auth, no rate limit, not counted):

- ``GET /__sandbox/faults`` -> current switches and scripted faults;
- ``POST /__sandbox/faults`` ``{switch: value, ..., fail_next?: [{route, method, status, times,
  retry_after}], clear_scripted?: true}`` -> the switches after the change (400 on unknown names);
- ``GET /__sandbox/stats`` -> request counts (``requests_total``, ``requests`` by
  ``"METHOD /path"``, ``write_requests``, ``records_written``, ``rate_limited`` = 429s served,
  ``status_counts``, ``contacts``);
- ``POST /__sandbox/stats/reset`` -> zero the counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ``ManualClock``);
- ``GET /__sandbox/oauth`` -> ``{issued, access_tokens, refresh_tokens, rotate_refresh_tokens}``;
  ``POST /__sandbox/oauth`` ``{expire_access_tokens?: true, revoke_refresh_tokens?: true,
  add_refresh_token?: str, rotate_refresh_tokens?: bool}`` -> the same after the change.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import ManualClock
from .errors import HubSpotError, bad_request
from .params import Sandbox, read_object

ADMIN_PREFIX = "/__sandbox"


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes bound to ``sandbox``."""

    async def get_faults(request: Request) -> Response:
        return JSONResponse(sandbox.faults.to_dict())

    async def set_faults(request: Request) -> Response:
        body = await read_object(request)
        try:
            sandbox.faults.update(body)
        except (ValueError, TypeError) as exc:
            raise bad_request(str(exc)) from exc
        return JSONResponse(sandbox.faults.to_dict())

    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.state.stats())

    async def reset_stats(request: Request) -> Response:
        sandbox.state.reset_counters()
        return JSONResponse(sandbox.state.stats())

    async def clock(request: Request) -> Response:
        body = await read_object(request)
        current = sandbox.state.clock
        if not isinstance(current, ManualClock):
            raise HubSpotError(409, "CONFLICT", "The sandbox runs on real time; start it with a ManualClock.")
        if isinstance(body.get("set_ms"), int):
            current.set(body["set_ms"])
        if isinstance(body.get("advance_ms"), int):
            current.advance(body["advance_ms"])
        return JSONResponse({"now_ms": current()})

    def oauth_summary() -> dict[str, object]:
        oauth = sandbox.oauth
        return {"issued": oauth.issued, "access_tokens": len(oauth.access_tokens),
                "refresh_tokens": len(oauth.refresh_tokens), "rotate_refresh_tokens": oauth.rotate_refresh_tokens}

    async def get_oauth(request: Request) -> Response:
        return JSONResponse(oauth_summary())

    async def set_oauth(request: Request) -> Response:
        body = await read_object(request)
        unknown = set(body) - {"expire_access_tokens", "revoke_refresh_tokens", "add_refresh_token",
                               "rotate_refresh_tokens"}
        if unknown:
            raise bad_request(f"unknown OAuth switches: {', '.join(sorted(unknown))}")
        oauth = sandbox.oauth
        if body.get("revoke_refresh_tokens"):
            oauth.revoke_refresh_tokens()
        if body.get("expire_access_tokens"):
            oauth.expire_access_tokens()
        if isinstance(body.get("add_refresh_token"), str) and body["add_refresh_token"]:
            oauth.add_refresh_token(body["add_refresh_token"])
        if isinstance(body.get("rotate_refresh_tokens"), bool):
            oauth.rotate_refresh_tokens = body["rotate_refresh_tokens"]
        return JSONResponse(oauth_summary())

    return [
        Route(f"{ADMIN_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/faults", set_faults, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats/reset", reset_stats, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/oauth", get_oauth, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/oauth", set_oauth, methods=["POST"]),
    ]
