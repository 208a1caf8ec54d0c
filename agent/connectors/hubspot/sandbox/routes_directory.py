"""Owners, users, teams, roles and the account (HubSpot "Owners", "User provisioning" and "Account
information" APIs).

- ``GET /crm/v3/owners`` (``email``, ``limit`` 1..500 default 100, ``after``, ``archived``):
  active owners, or with ``archived=true`` only the deactivated ones (``userId`` null).
  ``GET /crm/v3/owners/{ownerId}`` (``idProperty=id|userId``, ``archived``).
- ``GET /settings/v3/users`` (``limit``, ``after``), ``/settings/v3/users/{userId}``
  (``idProperty=USER_ID|EMAIL``), ``/settings/v3/users/teams``, ``/settings/v3/users/roles``.
- ``GET /account-info/v3/details``: ``{portalId, accountType, timeZone, ...}``.

Property definitions are in :mod:`.routes_properties`, token information in :mod:`.routes_oauth`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import not_found
from .params import query_bool, query_int, sandbox_of
from .wire import owner_to_wire, user_to_wire


def _page(items: list[dict[str, Any]], request: Request, default: int, high: int) -> dict[str, Any]:
    limit = query_int(request, "limit", default, low=1, high=high)
    after = query_int(request, "after", 0)
    body: dict[str, Any] = {"results": items[after : after + limit]}
    if after + limit < len(items):
        nxt = str(after + limit)
        body["paging"] = {"next": {"after": nxt, "link": str(request.url.include_query_params(after=nxt))}}
    return body


async def list_owners(request: Request) -> Response:
    """``GET /crm/v3/owners``: active owners (or only deactivated ones), by ``email``, paged by offset."""
    state = sandbox_of(request).state
    archived = query_bool(request, "archived")
    email = (request.query_params.get("email") or "").strip().lower()
    with state.lock:
        owners = sorted(state.owners.values(), key=lambda o: int(o.id) if o.id.isdigit() else 0)
        items = [
            owner_to_wire(o, state.teams)
            for o in owners
            if o.archived == archived and (not email or o.email.lower() == email)
        ]
    return JSONResponse(_page(items, request, 100, 500))


async def get_owner(request: Request) -> Response:
    """``GET /crm/v3/owners/{ownerId}`` (``idProperty=userId`` reads the user id); 404 when none."""
    state = sandbox_of(request).state
    raw_id = request.path_params["ownerId"]
    by_user = (request.query_params.get("idProperty") or "id") == "userId"
    archived = query_bool(request, "archived")
    with state.lock:
        for owner in state.owners.values():
            key = owner.user_id_including_inactive if by_user else owner.id
            if str(key) == raw_id and owner.archived == archived:
                return JSONResponse(owner_to_wire(owner, state.teams))
    raise not_found(f"Owner {raw_id} not found", context={"ownerId": [raw_id]})


async def list_users(request: Request) -> Response:
    """``GET /settings/v3/users``: users in id order, paged by offset."""
    state = sandbox_of(request).state
    with state.lock:
        items = [user_to_wire(u) for u in sorted(state.users.values(), key=lambda u: u.id)]
    return JSONResponse(_page(items, request, 100, 100))


async def get_user(request: Request) -> Response:
    """``GET /settings/v3/users/{userId}`` (``idProperty=EMAIL`` reads an email); 404 when none."""
    state = sandbox_of(request).state
    raw_id = request.path_params["userId"]
    by_email = (request.query_params.get("idProperty") or "USER_ID").upper() == "EMAIL"
    with state.lock:
        for user in state.users.values():
            if (user.email.lower() == raw_id.lower()) if by_email else user.id == raw_id:
                return JSONResponse(user_to_wire(user))
    raise not_found(f"User {raw_id} not found", context={"userId": [raw_id]})


async def list_teams(request: Request) -> Response:
    """``GET /settings/v3/users/teams``: each team with its primary and secondary members' user ids."""
    state = sandbox_of(request).state
    with state.lock:
        results = []
        for team in state.teams.values():
            primary = [u.id for u in state.users.values() if u.primary_team_id == team.id]
            secondary = [u.id for u in state.users.values() if team.id in u.secondary_team_ids]
            results.append({"id": team.id, "name": team.name, "userIds": primary, "secondaryUserIds": secondary})
    return JSONResponse({"results": results})


async def list_roles(request: Request) -> Response:
    """``GET /settings/v3/users/roles``: the one role every sandbox user has."""
    return JSONResponse({"results": [{"id": "100001", "name": "Sales User", "requiresBillingWrite": False}]})


async def account_details(request: Request) -> Response:
    """``GET /account-info/v3/details``: the portal id, UTC, USD."""
    return JSONResponse(
        {
            "portalId": sandbox_of(request).state.portal_id,
            "accountType": "STANDARD",
            "timeZone": "UTC",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
    )


def with_slash(path: str, endpoint: Any) -> list[Route]:
    """``GET path`` and ``GET path/``: the official client calls some collections with a trailing slash
    (``/crm/v3/owners/``)."""
    return [Route(path, endpoint, methods=["GET"]), Route(path + "/", endpoint, methods=["GET"])]


ROUTES = [
    *with_slash("/crm/v3/owners", list_owners),
    Route("/crm/v3/owners/{ownerId}", get_owner, methods=["GET"]),
    *with_slash("/settings/v3/users/teams", list_teams),
    *with_slash("/settings/v3/users/roles", list_roles),
    *with_slash("/settings/v3/users", list_users),
    Route("/settings/v3/users/{userId}", get_user, methods=["GET"]),
    Route("/account-info/v3/details", account_details, methods=["GET"]),
]
"""The directory routes, in matching order (teams and roles before ``{userId}``)."""
