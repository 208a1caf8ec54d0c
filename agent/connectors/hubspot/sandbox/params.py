"""Reading request parameters and bodies the way HubSpot's endpoints do (400 on bad input)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from leadsync.agent.connectors.sandbox.app import bundle_of

from .errors import bad_request
from .faults import FaultSwitches
from .limits import RateLimiter
from .oauth import OAuthServer
from .state import SandboxState


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What every route handler needs: the CRM ``state``, the ``faults``, the rate ``limiter``,
    the API ``token`` (``None`` = no auth check) and the ``oauth`` server (OAuth apps and the access
    tokens it issued, the private-app token)."""

    state: SandboxState
    faults: FaultSwitches
    limiter: RateLimiter
    token: str | None
    oauth: OAuthServer


def sandbox_of(request: Request) -> Sandbox:
    """The :class:`Sandbox` of the app serving ``request`` (``app.state.sandbox``)."""
    return bundle_of(request, Sandbox)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    """Read a boolean query parameter (``true``/``false``, any case); 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise bad_request(f"Query parameter '{name}' must be true or false, got '{raw}'.")
    return lowered == "true"


def query_int(request: Request, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    """Read an integer query parameter within ``low..high``; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit():
        raise bad_request(f"Query parameter '{name}' must be an integer, got '{raw}'.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and {high}"
        raise bad_request(f"Query parameter '{name}' must be between {low}{upper}, got {value}.")
    return value


async def read_json(request: Request) -> tuple[Any, str]:
    """Return the parsed JSON body and its text; 400 ``Invalid input JSON`` when unparsable."""
    raw = await request.body()
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise bad_request("Invalid input JSON: the request body is empty.")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise bad_request(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


async def read_object(request: Request) -> dict[str, Any]:
    """Return the JSON body, which must be an object; 400 otherwise."""
    body, _ = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object.")
    return body
