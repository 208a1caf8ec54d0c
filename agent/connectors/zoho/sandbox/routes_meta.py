"""Users, the organisation and field metadata (the accounts server's token endpoint is in :mod:`.routes_oauth`).

- ``GET /crm/{v}/users?type=AllUsers|ActiveUsers|DeactiveUsers|AdminUsers|CurrentUser&page=&per_page=``:
  ``{users: [...], info: {per_page, count, page, more_records}}``; 204 for none.
- ``GET /crm/{v}/org``: ``{org: [{id, company_name, primary_email, time_zone, ...}]}``.
- ``GET /crm/{v}/settings/fields?module=Leads``: ``{fields: [...]}`` (see :mod:`.schema`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ZohoError, invalid_data
from .params import API_VERSIONS, acting_user, int_param, sandbox_of
from .schema import FIELDS

USER_TYPES = ("AllUsers", "ActiveUsers", "DeactiveUsers", "AdminUsers", "CurrentUser")


def _version(request: Request) -> None:
    if request.path_params.get("version") not in API_VERSIONS:
        raise ZohoError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")


async def list_users(request: Request) -> Response:
    """``GET /crm/{v}/users?type=``: a page of the users of a type; 204 for none."""
    _version(request)
    sandbox = sandbox_of(request)
    state = sandbox.state
    kind = request.query_params.get("type", "AllUsers")
    if kind not in USER_TYPES:
        raise invalid_data("invalid value for type", param_name="type")
    me = acting_user(request, sandbox)
    with state.lock:
        chosen = [u for u in state.users.values() if kind == "AllUsers"
                  or (kind == "ActiveUsers" and u["status"] == "active")
                  or (kind == "DeactiveUsers" and u["status"] != "active")
                  or (kind == "AdminUsers" and u["profile"]["name"] == "Administrator")
                  or (kind == "CurrentUser" and u["id"] == me)]
    per_page = int_param(request, "per_page", 200, low=1, high=200)
    page = int_param(request, "page", 1, low=1, high=100_000)
    chunk = [dict(u) for u in chosen[(page - 1) * per_page:page * per_page]]
    if not chunk:
        return Response(status_code=204)
    return JSONResponse({"users": chunk, "info": {"per_page": per_page, "count": len(chunk), "page": page,
                                                  "more_records": page * per_page < len(chosen)}})


async def org(request: Request) -> Response:
    """``GET /crm/{v}/org``: the organisation (its primary email is the administrator's)."""
    _version(request)
    state = sandbox_of(request).state
    admin = state.users.get(state.api_user_id, {})
    return JSONResponse({"org": [{"id": state.org_id, "company_name": state.org_name,
                                  "primary_email": admin.get("email", ""), "time_zone": "Asia/Kolkata",
                                  "iso_code": "USD", "country_code": "US", "domain_name": "org4242",
                                  "license_details": {"paid": True, "paid_type": "enterprise"}}]})


async def field_metadata(request: Request) -> Response:
    """``GET /crm/{v}/settings/fields?module=``: the module's fields; 400 for none or an unknown one."""
    _version(request)
    module = request.query_params.get("module")
    if not module:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "module"})
    if module not in FIELDS:
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid")
    return JSONResponse({"fields": FIELDS[module]})


ROUTES = [
    Route("/crm/{version}/users", list_users, methods=["GET"]),
    Route("/crm/{version}/org", org, methods=["GET"]),
    Route("/crm/{version}/settings/fields", field_metadata, methods=["GET"]),
]
"""The metadata routes."""
