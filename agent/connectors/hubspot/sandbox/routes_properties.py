"""Contact property definitions (HubSpot "Properties" API v3).

- ``GET /crm/v3/properties/{objectType}`` -> ``{results}`` (``objectType`` contacts, contact or 0-1; 400
  otherwise; ``archived=true`` answers no results);
- ``GET /crm/v3/properties/{objectType}/{propertyName}`` -> the definition; 404 for an unknown name.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import bad_request, not_found
from .params import query_bool, sandbox_of
from .routes_directory import with_slash

OBJECT_TYPES = ("contacts", "contact", "0-1")


def _check_object_type(request: Request) -> None:
    object_type = request.path_params["objectType"]
    if object_type not in OBJECT_TYPES:
        raise bad_request(f"Unable to infer object type from: {object_type}")


async def list_properties(request: Request) -> Response:
    """Every contact property definition (owner options filled in)."""
    _check_object_type(request)
    if query_bool(request, "archived"):
        return JSONResponse({"results": []})
    state = sandbox_of(request).state
    with state.lock:
        options = state.owner_options()
        results = [d.to_wire(state.created_ms, options) for d in state.property_defs.values()]
    return JSONResponse({"results": results})


async def get_property(request: Request) -> Response:
    """One contact property definition."""
    _check_object_type(request)
    state = sandbox_of(request).state
    name = request.path_params["propertyName"]
    with state.lock:
        definition = state.property_defs.get(name)
        if definition is None:
            raise not_found(f"Property {name} does not exist", context={"propertyName": [name]})
        return JSONResponse(definition.to_wire(state.created_ms, state.owner_options()))


ROUTES = [
    *with_slash("/crm/v3/properties/{objectType}", list_properties),
    Route("/crm/v3/properties/{objectType}/{propertyName}", get_property, methods=["GET"]),
]
"""The property definition routes."""
