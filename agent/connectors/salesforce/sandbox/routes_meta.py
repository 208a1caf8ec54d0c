"""Discovery and identity:

- ``GET /services/data`` -> the API versions ``[{label, url, version}]`` (no session needed);
- ``GET /services/data/vNN.N`` -> the version's resources (``sobjects``, ``query``, ``queryAll``,
  ``composite``, ``limits`` ...);
- ``GET /services/data/vNN.N/limits`` -> ``{DailyApiRequests: {Max, Remaining}}``;
- ``GET /services/oauth2/userinfo`` -> the session's user, OpenID Connect style (``sub``, ``user_id``,
  ``organization_id``, ``email``, ``preferred_username``, ``name`` ...);
- ``GET /id/{orgId}/{userId}`` -> the identity URL's answer (``id``, ``user_id``, ``organization_id``,
  ``username``, ``email``, ``active``, ``user_type`` ...).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import error, not_found
from .params import API_VERSIONS, acting_user, api_version, instance_url, sandbox_of
from .timefmt import ms_to_wire


async def versions(request: Request) -> Response:
    """``GET /services/data``: the API versions (no session needed)."""
    return JSONResponse([{"label": label, "url": f"/services/data/v{v}", "version": v}
                         for v, label in API_VERSIONS.items()])


async def resources(request: Request) -> Response:
    """``GET /services/data/vNN.N``: the version's resources."""
    version = api_version(request)
    base = f"/services/data/{version}"
    names = ("sobjects", "query", "queryAll", "composite", "limits", "search", "tooling", "connect")
    return JSONResponse({name: f"{base}/{name}" for name in names})


async def limits(request: Request) -> Response:
    """``GET /services/data/vNN.N/limits``: ``DailyApiRequests`` (``faults.daily_limit``, calls used)."""
    sandbox = sandbox_of(request)
    api_version(request)
    limit = sandbox.faults.daily_limit
    used = sandbox.usage.used()
    most = limit if limit is not None else 15_000_000
    return JSONResponse({"DailyApiRequests": {"Max": most, "Remaining": max(0, most - used)},
                         "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000}})


def user_doc(request: Request, user_id: str) -> dict[str, Any]:
    """The OpenID Connect ``userinfo`` document of ``user_id``; 403 ``Bad_Id`` for an unknown user."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    with state.lock:
        user = state.lookup(user_id)
        if user is None:
            raise error(403, "Bad_Id", "Bad id " + user_id)
        profile = state.lookup(user.get("ProfileId"))
        base = instance_url(sandbox, request)
        return {
            "sub": f"{base}/id/{state.org_id}/{user['Id']}",
            "user_id": user["Id"],
            "organization_id": state.org_id,
            "preferred_username": user.get("Username"),
            "nickname": str(user.get("Username") or "").split("@")[0],
            "name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": user.get("FirstName"),
            "family_name": user.get("LastName"),
            "zoneinfo": user.get("TimeZoneSidKey"),
            "active": user.get("IsActive") is not False,
            "user_type": "STANDARD",
            "profile_name": profile.get("Name") if profile else None,
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "updated_at": ms_to_wire(int(user.get("SystemModstamp") or 0)),
            "urls": {"rest": f"{base}/services/data/v{{version}}/",
                     "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                     "query": f"{base}/services/data/v{{version}}/query/"},
        }



async def userinfo(request: Request) -> Response:
    """``GET|POST /services/oauth2/userinfo``: the session's user."""
    return JSONResponse(user_doc(request, acting_user(request, sandbox_of(request))))


async def identity(request: Request) -> Response:
    """``GET|POST /id/{orgId}/{userId}``: the identity URL's answer; 404 for another org."""
    sandbox = sandbox_of(request)
    org, user_id = str(request.path_params["org"]), str(request.path_params["user"])
    if org[:15] != sandbox.state.org_id[:15]:
        raise not_found()
    doc = user_doc(request, user_id)
    return JSONResponse({"id": doc["sub"], "asserted_user": user_id[:15] == acting_user(request, sandbox)[:15],
                         "user_id": doc["user_id"], "organization_id": doc["organization_id"],
                         "username": doc["preferred_username"], "nick_name": doc["nickname"],
                         "display_name": doc["name"], "email": doc["email"], "email_verified": True,
                         "first_name": doc["given_name"], "last_name": doc["family_name"],
                         "timezone": doc["zoneinfo"], "active": doc["active"], "user_type": "STANDARD",
                         "language": "en_US", "locale": "en_US", "utcOffset": 0,
                         "last_modified_date": doc["updated_at"], "urls": doc["urls"]})


ROUTES = [
    Route("/services/data", versions, methods=["GET"]),
    Route("/services/data/", versions, methods=["GET"]),
    Route("/services/data/{version}", resources, methods=["GET"]),
    Route("/services/data/{version}/", resources, methods=["GET"]),
    Route("/services/data/{version}/limits", limits, methods=["GET"]),
    Route("/services/data/{version}/limits/", limits, methods=["GET"]),
    Route("/services/oauth2/userinfo", userinfo, methods=["GET", "POST"]),
    Route("/id/{org}/{user}", identity, methods=["GET", "POST"]),
]
"""The discovery and identity routes."""
