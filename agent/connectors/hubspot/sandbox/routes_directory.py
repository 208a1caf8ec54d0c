"""Owners, users, teams, property definitions and token information.

- ``GET /crm/v3/owners`` (``email``, ``limit`` 1..500 default 100, ``after``, ``archived``):
  active owners, or with ``archived=true`` only the deactivated ones (``userId`` null).
  ``GET /crm/v3/owners/{ownerId}`` (``idProperty=id|userId``, ``archived``). (HubSpot "Owners" API.)
- ``GET /crm/v3/properties/contacts`` -> ``{results}``; ``GET /crm/v3/properties/contacts/{name}``.
- ``GET /settings/v3/users`` (``limit``, ``after``), ``/settings/v3/users/{userId}``
  (``idProperty=USER_ID|EMAIL``), ``/settings/v3/users/teams``, ``/settings/v3/users/roles``.
- ``GET /oauth/v1/access-tokens/{token}`` (no bearer needed): who the token belongs to:
  ``{token, user, hub_domain, scopes, hub_id, app_id, expires_in (s), user_id, token_type}`` for the
  sandbox token (whatever it looks like) and unexpired OAuth access tokens; any other private-app
  token (``pat-...``) is refused with 400 "The access token must have the correct format", as
  HubSpot does; other tokens 404.
- ``GET /account-info/v3/details``: ``{portalId, accountType, timeZone, ...}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import bad_request, new_correlation_id, not_found
from .params import Sandbox, query_bool, query_int
from .wire import owner_to_wire, user_to_wire

OBJECT_TYPES = ("contacts", "contact", "0-1")
SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "settings.users.read",
    "settings.users.teams.read",
    "oauth",
]


def _page(items: list[dict[str, Any]], request: Request, default: int, high: int) -> dict[str, Any]:
    limit = query_int(request, "limit", default, low=1, high=high)
    after = query_int(request, "after", 0)
    body: dict[str, Any] = {"results": items[after : after + limit]}
    if after + limit < len(items):
        nxt = str(after + limit)
        body["paging"] = {"next": {"after": nxt, "link": str(request.url.include_query_params(after=nxt))}}
    return body


def routes(sandbox: Sandbox) -> list[Route]:
    """Directory, property and token routes bound to ``sandbox``."""
    state = sandbox.state

    async def list_owners(request: Request) -> Response:
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
        raw_id = request.path_params["ownerId"]
        by_user = (request.query_params.get("idProperty") or "id") == "userId"
        archived = query_bool(request, "archived")
        with state.lock:
            for owner in state.owners.values():
                key = owner.user_id_including_inactive if by_user else owner.id
                if str(key) == raw_id and owner.archived == archived:
                    return JSONResponse(owner_to_wire(owner, state.teams))
        raise not_found(f"Owner {raw_id} not found", context={"ownerId": [raw_id]})

    def check_object_type(request: Request) -> None:
        object_type = request.path_params["objectType"]
        if object_type not in OBJECT_TYPES:
            raise bad_request(f"Unable to infer object type from: {object_type}")

    async def list_properties(request: Request) -> Response:
        check_object_type(request)
        if query_bool(request, "archived"):
            return JSONResponse({"results": []})
        with state.lock:
            options = state.owner_options()
            results = [d.to_wire(state.created_ms, options) for d in state.property_defs.values()]
        return JSONResponse({"results": results})

    async def get_property(request: Request) -> Response:
        check_object_type(request)
        name = request.path_params["propertyName"]
        with state.lock:
            definition = state.property_defs.get(name)
            if definition is None:
                raise not_found(f"Property {name} does not exist", context={"propertyName": [name]})
            return JSONResponse(definition.to_wire(state.created_ms, state.owner_options()))

    async def list_users(request: Request) -> Response:
        with state.lock:
            items = [user_to_wire(u) for u in sorted(state.users.values(), key=lambda u: u.id)]
        return JSONResponse(_page(items, request, 100, 100))

    async def get_user(request: Request) -> Response:
        raw_id = request.path_params["userId"]
        by_email = (request.query_params.get("idProperty") or "USER_ID").upper() == "EMAIL"
        with state.lock:
            for user in state.users.values():
                if (user.email.lower() == raw_id.lower()) if by_email else user.id == raw_id:
                    return JSONResponse(user_to_wire(user))
        raise not_found(f"User {raw_id} not found", context={"userId": [raw_id]})

    async def list_teams(request: Request) -> Response:
        with state.lock:
            results = []
            for team in state.teams.values():
                primary = [u.id for u in state.users.values() if u.primary_team_id == team.id]
                secondary = [u.id for u in state.users.values() if team.id in u.secondary_team_ids]
                results.append({"id": team.id, "name": team.name, "userIds": primary, "secondaryUserIds": secondary})
        return JSONResponse({"results": results})

    async def list_roles(request: Request) -> Response:
        return JSONResponse({"results": [{"id": "100001", "name": "Sales User", "requiresBillingWrite": False}]})

    async def token_info(request: Request) -> Response:
        token = request.path_params["token"]
        expires_in = 1800
        if token.startswith("pat-") and token != sandbox.token:
            return JSONResponse({"status": "error", "message": "The access token must have the correct format",
                                 "correlationId": new_correlation_id()}, status_code=400)
        if sandbox.token is not None and token != sandbox.token:
            token_state, expires_at = sandbox.oauth.state_of(token)
            if token_state != "valid":
                raise not_found("Token not found", context={"token": ["<redacted>"]})
            expires_in = max((expires_at - state.clock()) // 1000, 0)
        with state.lock:
            user = state.token_user()
            if user is None:
                raise not_found("Token not found")
            return JSONResponse(
                {
                    "token": token,
                    "user": user.email,
                    "hub_domain": state.hub_domain,
                    "scopes": SCOPES,
                    "scope_to_scope_group_pks": [],
                    "trial_scopes": [],
                    "trial_scope_to_scope_group_pks": [],
                    "hub_id": state.portal_id,
                    "app_id": 1_000_001,
                    "expires_in": expires_in,
                    "user_id": int(user.id),
                    "token_type": "access",
                }
            )

    async def account_details(request: Request) -> Response:
        return JSONResponse(
            {
                "portalId": state.portal_id,
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

    both = _with_slash
    return [
        *both("/crm/v3/owners", list_owners),
        Route("/crm/v3/owners/{ownerId}", get_owner, methods=["GET"]),
        *both("/crm/v3/properties/{objectType}", list_properties),
        Route("/crm/v3/properties/{objectType}/{propertyName}", get_property, methods=["GET"]),
        *both("/settings/v3/users/teams", list_teams),
        *both("/settings/v3/users/roles", list_roles),
        *both("/settings/v3/users", list_users),
        Route("/settings/v3/users/{userId}", get_user, methods=["GET"]),
        Route("/oauth/v1/access-tokens/{token}", token_info, methods=["GET"]),
        Route("/account-info/v3/details", account_details, methods=["GET"]),
    ]


def _with_slash(path: str, endpoint: Any) -> list[Route]:
    """The official client calls some collections with a trailing slash (``/crm/v3/owners/``)."""
    return [Route(path, endpoint, methods=["GET"]), Route(path + "/", endpoint, methods=["GET"])]
