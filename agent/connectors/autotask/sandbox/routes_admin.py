"""Sandbox-only admin endpoints (no credentials, no threshold, not counted):

- ``GET|POST /__sandbox/faults``: the switches; POST ``{switch: value, fail_next?: [...], clear_scripted?}``;
- ``GET /__sandbox/stats``, ``POST /__sandbox/stats/reset``: request counters;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (only with a ManualClock).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadsync.agent.connectors.sandbox_kit import ManualClock

from .errors import AutotaskError
from .params import ADMIN_PREFIX, Sandbox, read_object


def routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes bound to ``sandbox``."""

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                sandbox.faults.update(await read_object(request))
            except (ValueError, TypeError) as exc:
                raise AutotaskError(400, str(exc)) from exc
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
            raise AutotaskError(409, "The sandbox runs on real time; start it with a ManualClock.")
        if isinstance(body.get("set_ms"), int):
            current.set(body["set_ms"])
        if isinstance(body.get("advance_ms"), int):
            current.advance(body["advance_ms"])
        return JSONResponse({"now_ms": current()})

    return [
        Route(f"{ADMIN_PREFIX}/faults", faults, methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats/reset", reset_stats, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
    ]
