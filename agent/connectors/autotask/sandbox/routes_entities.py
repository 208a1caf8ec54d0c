"""Entities, their metadata and zone discovery (Autotask REST API), under ``/atservicesrest`` (version and
entity names in any case, as Autotask reads them):

- ``GET /versioninformation`` -> ``{"apiVersions": ["1.0"]}``;
- ``GET /V1.0/zoneInformation?user=`` -> ``{zoneName, url, webUrl, ci}`` (no credentials needed);
- ``GET /V1.0/ThresholdInformation`` -> ``{externalRequestThreshold, requestThresholdTimeframe,
  currentTimeframeRequestCount}`` (counted like any API call);
- ``GET /V1.0/{Entity}/entityInformation/fields`` -> ``{"fields": [...]}`` (Contacts, Companies, Resources);
- ``GET /V1.0/{Entity}/{id}`` -> ``{"item": {...}}``;
- ``POST /V1.0/Companies`` -> ``{"itemId": n}``;
- ``POST|PATCH /V1.0/Companies/{companyId}/Contacts`` -> ``{"itemId": n}`` (contacts are created and
  updated under their company; ``POST /V1.0/Contacts`` answers 405).

Queries are in :mod:`.routes_query`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import AutotaskError
from .params import REST_ROOT, check_version, entity_of, read_object, sandbox_of
from .schema import FIELDS

ENTITY = f"{REST_ROOT}/{{version}}/{{entity}}"


def _not_allowed(request: Request) -> AutotaskError:
    return AutotaskError(405, f"The requested resource does not support http method '{request.method}'.")


def _no_resource() -> AutotaskError:
    return AutotaskError(404, "No HTTP resource was found that matches the request URI.")


async def version_information(request: Request) -> Response:
    """``GET /versioninformation``: the API versions."""
    return JSONResponse({"apiVersions": ["1.0"]})


def zone_information(request: Request) -> Response:
    """``GET /V1.0/zoneInformation?user=``: the zone of the sandbox's API user; 500 for another user."""
    sandbox = sandbox_of(request)
    check_version(request)
    user = request.query_params.get("user", "")
    if user.strip().lower() != sandbox.user.username.lower():
        raise AutotaskError(500, f"Zone information could not be found for the user '{user}'.")
    zone = sandbox.zone_of(request)
    return JSONResponse({"zoneName": "Leadsync Sandbox", "url": zone + "/",
                         "webUrl": zone.removesuffix(REST_ROOT) + "/", "ci": sandbox.state.ci})


def threshold_information(request: Request) -> Response:
    """``GET /V1.0/ThresholdInformation``: the database's request threshold, its timeframe in minutes and the
    requests counted in the current timeframe (this one included), as Autotask's "Threshold and timeframe"
    answer names them."""
    sandbox = sandbox_of(request)
    faults = sandbox.faults
    counted = sandbox.state.requests_this_hour(faults.threshold_window_s * 1000)
    return JSONResponse({"externalRequestThreshold": faults.hourly_threshold or 0,
                         "requestThresholdTimeframe": faults.threshold_window_s // 60,
                         "currentTimeframeRequestCount": counted})


async def entity_root(request: Request) -> Response:
    """``/V1.0/{Entity}``: ``GET zoneInformation``, ``POST Companies`` (a new company); 405 otherwise."""
    entity_name = str(request.path_params.get("entity", "")).lower()
    if request.method == "GET" and entity_name == "zoneinformation":
        return zone_information(request)
    if request.method == "GET" and entity_name == "thresholdinformation":
        return threshold_information(request)
    entity = entity_of(request)
    if request.method != "POST" or entity != "Companies":
        raise _not_allowed(request)
    return JSONResponse({"itemId": sandbox_of(request).state.create_company(await read_object(request))})


async def entity_section(request: Request) -> Response:
    """``GET /V1.0/{Entity}/entityInformation/fields``: the entity's fields; 405 for a ``query`` path, 404
    for any other."""
    entity = entity_of(request)
    part, sub = str(request.path_params["section"]).lower(), str(request.path_params["sub"]).lower()
    if part == "entityinformation" and sub == "fields":
        return JSONResponse({"fields": list(FIELDS[entity])})
    if part == "query":
        raise _not_allowed(request)
    raise _no_resource()


async def get_item(request: Request) -> Response:
    """``GET /V1.0/{Entity}/{id}``: one row; 404 for an unknown id."""
    entity = entity_of(request)
    row = sandbox_of(request).state.get(entity, int(request.path_params["item_id"]))
    return JSONResponse({"item": row})


def _company_id(request: Request) -> int:
    """The ``{parent_id}`` of ``/Companies/{parent_id}/Contacts``; 404 for any other parent or child."""
    if entity_of(request) != "Companies" or str(request.path_params["child"]).lower() != "contacts":
        raise _no_resource()
    return int(request.path_params["parent_id"])


async def create_contact(request: Request) -> Response:
    """``POST /V1.0/Companies/{companyId}/Contacts``: a new contact of the company."""
    company_id = _company_id(request)
    body = await read_object(request)
    sandbox = sandbox_of(request)
    return JSONResponse({"itemId": sandbox.state.create_contact(
        company_id, body, unique_email=sandbox.faults.unique_contact_email)})


async def update_contact(request: Request) -> Response:
    """``PATCH /V1.0/Companies/{companyId}/Contacts`` ``{id, ...}``: change a contact of the company."""
    company_id = _company_id(request)
    body = await read_object(request)
    sandbox = sandbox_of(request)
    return JSONResponse({"itemId": sandbox.state.patch_contact(
        company_id, body, unique_email=sandbox.faults.unique_contact_email)})


ROUTES = [
    Route(f"{REST_ROOT}/versioninformation", version_information, methods=["GET"]),
    Route(f"{ENTITY}/{{parent_id:int}}/{{child}}", create_contact, methods=["POST"]),
    Route(f"{ENTITY}/{{parent_id:int}}/{{child}}", update_contact, methods=["PATCH"]),
    Route(f"{ENTITY}/{{section}}/{{sub}}", entity_section, methods=["GET"]),
    Route(f"{ENTITY}/{{item_id:int}}", get_item, methods=["GET"]),
    Route(ENTITY, entity_root, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
]
"""The entity routes, in matching order."""
