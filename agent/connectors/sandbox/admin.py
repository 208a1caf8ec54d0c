"""The admin endpoints every CRM sandbox serves under ``/__sandbox`` (no auth, no limits, not counted):

- ``GET /__sandbox/faults`` -> the fault switches and scripted faults; ``POST`` ``{switch: value, ...,
  fail_next?: [{route, method, status, times, retry_after, body}], clear_scripted?: true}`` -> the switches
  after the change (400 on unknown names or wrong values);
- ``GET /__sandbox/stats`` -> the state's ``stats()`` (plus ``extra_stats()``);
  ``POST /__sandbox/stats/reset`` -> zero the counters, answer the state's ``stats()``;
- ``POST /__sandbox/clock`` ``{advance_ms?, set_ms?}`` -> ``{now_ms}`` (409 unless the state's clock is a
  :class:`~leadsync.agent.connectors.sandbox.clock.ManualClock`);
- for the sandbox's own ``POST /__sandbox/oauth``, :func:`apply_oauth_switches` applies the shared switches
  to its :class:`~leadsync.agent.connectors.sandbox.oauth.TokenBook`.

Errors come out in the CRM's own shape through ``bad_input(message)`` (400) and ``conflict(message)``
(409); ``read_object`` reads a JSON object body the CRM's way. A sandbox adds its own admin routes::

    routes = [*admin_routes(sandbox.state, sandbox.faults, read_object=read_object,
                            bad_input=lambda m: zoho_error(400, m), conflict=lambda m: zoho_error(409, m)),
              Route(f"{ADMIN_PREFIX}/oauth", oauth, methods=["GET", "POST"])]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import ManualClock
from .faults import FaultSwitches
from .oauth import TokenBook

ADMIN_PREFIX = "/__sandbox"


class AdminState(Protocol):
    """What the admin routes need of a sandbox state (``counters.RequestCounters`` plus ``clock``
    and ``stats``)."""

    clock: Callable[[], int]

    def stats(self) -> dict[str, Any]: ...

    def reset_counters(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AdminEndpoints:
    """The shared admin endpoints of one sandbox: its ``state`` and ``faults``, and its CRM's way of reading a
    JSON object body (``read_object``) and of shaping a 400 (``bad_input``) and a 409 (``conflict``);
    ``extra_stats`` adds keys to ``GET /__sandbox/stats``."""

    state: AdminState
    faults: FaultSwitches
    read_object: Callable[[Request], Awaitable[dict[str, Any]]]
    bad_input: Callable[[str], Exception]
    conflict: Callable[[str], Exception]
    extra_stats: Callable[[], dict[str, Any]] | None = None

    async def fault_switches(self, request: Request) -> Response:
        """``GET|POST {prefix}/faults``: the switches (after applying a POST's body; 400 on a bad one)."""
        if request.method == "POST":
            body = await self.read_object(request)
            try:
                self.faults.update(body)
            except (ValueError, TypeError) as exc:
                raise self.bad_input(str(exc)) from exc
        return JSONResponse(self.faults.to_dict())

    async def stats(self, request: Request) -> Response:
        """``GET {prefix}/stats``: the state's ``stats()`` plus ``extra_stats()``."""
        return JSONResponse({**self.state.stats(), **(self.extra_stats() if self.extra_stats is not None else {})})

    async def reset_stats(self, request: Request) -> Response:
        """``POST {prefix}/stats/reset``: zero the counters; answer the state's ``stats()``."""
        self.state.reset_counters()
        return JSONResponse(self.state.stats())

    async def clock(self, request: Request) -> Response:
        """``POST {prefix}/clock`` ``{set_ms?, advance_ms?}`` -> ``{now_ms}``; 409 unless a ``ManualClock``."""
        body = await self.read_object(request)
        current = self.state.clock
        if not isinstance(current, ManualClock):
            raise self.conflict("The sandbox runs on real time; start it with a ManualClock.")
        if isinstance(body.get("set_ms"), int):
            current.set(body["set_ms"])
        if isinstance(body.get("advance_ms"), int):
            current.advance(body["advance_ms"])
        return JSONResponse({"now_ms": current()})

    def routes(self, prefix: str = ADMIN_PREFIX) -> list[Route]:
        """The four routes under ``prefix``."""
        return [
            Route(f"{prefix}/faults", self.fault_switches, methods=["GET", "POST"]),
            Route(f"{prefix}/stats", self.stats, methods=["GET"]),
            Route(f"{prefix}/stats/reset", self.reset_stats, methods=["POST"]),
            Route(f"{prefix}/clock", self.clock, methods=["POST"]),
        ]


def admin_routes(state: AdminState, faults: FaultSwitches, *,
                 read_object: Callable[[Request], Awaitable[dict[str, Any]]],
                 bad_input: Callable[[str], Exception], conflict: Callable[[str], Exception],
                 extra_stats: Callable[[], dict[str, Any]] | None = None,
                 prefix: str = ADMIN_PREFIX) -> list[Route]:
    """The shared admin routes (faults, stats, stats/reset, clock) of :class:`AdminEndpoints` bound to
    ``state`` and ``faults``."""
    return AdminEndpoints(state, faults, read_object, bad_input, conflict, extra_stats).routes(prefix)


OAUTH_SWITCHES = frozenset({"revoke_refresh_tokens", "add_refresh_token", "rotate_refresh_tokens"})
"""The OAuth admin switches every sandbox has (plus its own name for expiring access tokens)."""


def apply_oauth_switches(book: TokenBook, body: dict[str, Any], *, expire_switch: str, user_id: str = "",
                         own_switches: frozenset[str] = frozenset(),
                         bad_input: Callable[[str], Exception]) -> None:
    """Apply ``POST /__sandbox/oauth``'s shared switches to ``book``: ``revoke_refresh_tokens``, then
    ``expire_switch`` (expire every access token), ``add_refresh_token`` (acting as ``user_id``),
    ``rotate_refresh_tokens``. ``own_switches`` are names the sandbox applies itself; any other name
    raises ``bad_input``."""
    unknown = set(body) - OAUTH_SWITCHES - own_switches - {expire_switch}
    if unknown:
        raise bad_input(f"unknown OAuth switches: {', '.join(sorted(unknown))}")
    if body.get("revoke_refresh_tokens"):
        book.revoke_refresh_tokens()
    if body.get(expire_switch):
        book.expire_access_tokens()
    if isinstance(body.get("add_refresh_token"), str) and body["add_refresh_token"]:
        book.add_refresh_token(body["add_refresh_token"], user_id=user_id)
    if isinstance(body.get("rotate_refresh_tokens"), bool):
        book.rotate_refresh_tokens = body["rotate_refresh_tokens"]
