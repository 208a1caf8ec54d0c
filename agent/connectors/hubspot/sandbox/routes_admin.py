"""Sandbox-only admin endpoints (no auth, no rate limit, not counted):

- ``GET /__sandbox/faults`` -> current switches and scripted faults;
- ``POST /__sandbox/faults`` ``{switch: value, ..., fail_next?: [{route, method, status, times,
  retry_after}], clear_scripted?: true}`` -> the switches after the change (400 on unknown names);
- ``GET /__sandbox/stats`` -> request counts (``requests_total``, ``requests`` by
  ``"METHOD /path"``, ``write_requests``, ``records_written``, ``rate_limited`` = 429s served,
  ``status_counts``, ``contacts``);
- ``POST /__sandbox/stats/reset`` -> zero the counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ``ManualClock``).
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

    return [
        Route(f"{ADMIN_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/faults", set_faults, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats/reset", reset_stats, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
    ]
