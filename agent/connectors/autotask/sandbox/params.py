"""What the routes and the middleware share: the :class:`Sandbox` bundle and request-body reading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from leadsync.agent.connectors.sandbox.admin import ADMIN_PREFIX
from leadsync.agent.connectors.sandbox.app import bundle_of

from .errors import AutotaskError
from .faults import FaultSwitches
from .schema import FIELDS
from .state import DEFAULT_INTEGRATION_CODE, DEFAULT_SECRET, DEFAULT_USERNAME, AutotaskState

REST_ROOT: Final = "/atservicesrest"
ENTITIES: Final = {name.lower(): name for name in FIELDS}
"""The entities the sandbox has, by lower-case name."""
__all__ = ["ADMIN_PREFIX", "REST_ROOT", "ApiUser", "Sandbox", "entity_of", "read_json", "read_object", "sandbox_of"]


@dataclass(frozen=True, slots=True)
class ApiUser:
    """The credentials the sandbox accepts (the headers ``UserName``, ``Secret``, ``ApiIntegrationCode``)."""

    username: str = DEFAULT_USERNAME
    secret: str = DEFAULT_SECRET
    integration_code: str = DEFAULT_INTEGRATION_CODE


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The state, the switches, the API user and the zone URL answers name (None: the URL the request came
    in on, plus ``/atservicesrest``)."""

    state: AutotaskState
    faults: FaultSwitches
    user: ApiUser
    zone_url: str | None = None
    oauth: None = None  # Autotask has no OAuth; the shared app factory reads this

    def zone_of(self, request: Request) -> str:
        """The zone's REST URL, without a trailing slash."""
        if self.zone_url:
            return self.zone_url.rstrip("/")
        return str(request.base_url).rstrip("/") + REST_ROOT


def sandbox_of(request: Request) -> Sandbox:
    """The :class:`Sandbox` of the app serving ``request`` (``app.state.sandbox``)."""
    return bundle_of(request, Sandbox)


def check_version(request: Request) -> None:
    """404 unless the path's ``{version}`` is ``V1.0`` (any case)."""
    if str(request.path_params.get("version", "")).lower() != "v1.0":
        raise AutotaskError(404, "The API version in the URL is not supported; use V1.0.")


def entity_of(request: Request) -> str:
    """The entity the path's ``{entity}`` names (any case), e.g. ``Contacts``; 404 for another version or an
    unknown entity."""
    check_version(request)
    name = ENTITIES.get(str(request.path_params.get("entity", "")).lower())
    if name is None:
        raise AutotaskError(404, f"Unknown entity '{request.path_params.get('entity')}'.")
    return name


def key_of(body: dict[str, Any], name: str) -> Any:
    """The value of ``body``'s key ``name`` in any case (Autotask reads ``MaxRecords`` as ``maxrecords``)."""
    return next((v for k, v in body.items() if k.lower() == name.lower()), None)


async def read_json(request: Request) -> Any:
    """The request's JSON body; 500 ``{"errors": [...]}`` when it is not JSON (as Autotask answers)."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise AutotaskError(500, "The request body is not valid JSON.") from None


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise AutotaskError(500, "The request body must be a JSON object.")
    return body
