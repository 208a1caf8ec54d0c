"""What every route handler needs (:class:`Sandbox`) and reading requests the way Salesforce does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from leadsync.agent.connectors.sandbox.app import bundle_of

from .errors import error, not_found
from .faults import FaultSwitches
from .limits import ApiUsage
from .oauth import OAuthServer
from .state import SandboxState

API_VERSIONS: Final = {
    "50.0": "Winter '21", "51.0": "Spring '21", "52.0": "Summer '21", "53.0": "Winter '22", "54.0": "Spring '22",
    "55.0": "Summer '22", "56.0": "Winter '23", "57.0": "Spring '23", "58.0": "Summer '23", "59.0": "Winter '24",
    "60.0": "Spring '24", "61.0": "Summer '24", "62.0": "Winter '25",
}
"""API versions the sandbox answers (``/services/data/vNN.N``), with their release names."""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The org ``state``, the ``faults``, the ``oauth`` server, the 24-hour API ``usage``, the static
    session id ``token`` (None: only OAuth sessions work) and ``instance_url`` (None: the URL the request
    came in on, so the sandbox works on any port and in-process)."""

    state: SandboxState
    faults: FaultSwitches
    oauth: OAuthServer
    usage: ApiUsage
    token: str | None
    instance_url: str | None


def sandbox_of(request: Request) -> Sandbox:
    """The :class:`Sandbox` of the app serving ``request`` (``app.state.sandbox``)."""
    return bundle_of(request, Sandbox)


def instance_url(sandbox: Sandbox, request: Request) -> str:
    """The instance URL to name in answers: the configured one, or the request's own origin."""
    if sandbox.instance_url:
        return sandbox.instance_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def api_version(request: Request) -> str:
    """``vNN.N`` from the path; 404 ``NOT_FOUND`` for a version the sandbox does not answer."""
    raw = str(request.path_params.get("version", ""))
    if not raw.startswith("v") or raw[1:] not in API_VERSIONS:
        raise not_found()
    return raw


def acting_user(request: Request, sandbox: Sandbox) -> str:
    """The User the request's session belongs to (set by the middleware)."""
    user = request.scope.get("state", {}).get("sf_user_id")
    return user if isinstance(user, str) and user else sandbox.state.api_user_id


async def read_json(request: Request) -> Any:
    """The request's JSON body; 400 ``JSON_PARSER_ERROR`` when it is empty or not JSON."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    if not raw.strip():
        raise error(400, "JSON_PARSER_ERROR", "The request body is empty; a JSON body is required.")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error(400, "JSON_PARSER_ERROR",
                    f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]: {exc.msg}") from None


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON body, which must be an object; 400 ``JSON_PARSER_ERROR`` otherwise."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of the request from START_ARRAY; "
                    "a JSON object is required.")
    return body
