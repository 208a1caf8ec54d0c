"""HubSpot's directory: who a token belongs to (the connection), the owners and the contacts' properties.

Every call goes through the connector's :class:`~leadsync.agent.connectors.http.HttpClient`; errors are
:mod:`leadsync.common.errors` types.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from leadsync.agent.connectors.base import ConnectionInfo, CrmOwner, PropertyMeta
from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.hubspot.errors import CRM
from leadsync.agent.connectors.hubspot.wire import next_after, owner_from_wire, property_from_wire, results_of
from leadsync.common.errors import CrmAuthError, CrmError, CrmNotFoundError, CrmProtocolError

OWNERS_PAGE: Final = 500
PRIVATE_APP_NOTE: Final = ("connected with a private-app token: HubSpot does not say which user created it; "
                           "a private app sees every record its scopes allow, like an admin")


async def connection_info(http: HttpClient, token: str) -> ConnectionInfo:
    """Who the token belongs to and whether they are a super admin.

    ``GET /oauth/v1/access-tokens/{token}`` gives ``user`` (email), ``user_id`` and ``hub_id``
    (the token sits in that path: every log line and error redacts it); ``GET
    /settings/v3/users/{userId}`` gives ``superAdmin``. Without the ``settings.users.read``
    scope (403) or the user (404), ``is_admin`` is False. Raises CrmAuthError for a bad token.

    Private-app tokens (``pat-...``) are not OAuth tokens: the token lookup refuses them with 400
    ("The access token must have the correct format"). Whenever the lookup answers 400 or 404,
    ``GET /account-info/v3/details`` (which needs a valid token) gives the portal instead; the user is
    unknown (``user_email`` ""), and ``is_admin`` is True with a ``note``: a private app sees every
    record its scopes allow, whoever created it.
    """
    path = f"/oauth/v1/access-tokens/{quote(token, safe='')}"
    try:
        info = await http.request_json("GET", path)
    except CrmError as exc:
        if exc.status not in (400, 404):
            raise
        return await _private_app_info(http)
    if not isinstance(info, dict):
        raise CrmProtocolError("HubSpot answered the token lookup without an object", crm=CRM)
    user_id = info.get("user_id")
    hub_id = info.get("hub_id")
    is_admin = False
    if user_id is not None:
        try:
            user = await http.request_json("GET", f"/settings/v3/users/{user_id}")
        except (CrmAuthError, CrmNotFoundError) as exc:
            if exc.status == 401:
                raise
        else:
            is_admin = isinstance(user, dict) and user.get("superAdmin") is True
    return ConnectionInfo(
        user_email=str(info.get("user") or "").strip(),
        user_id=None if user_id is None else str(user_id),
        is_admin=is_admin,
        account_id=None if hub_id is None else str(hub_id),
    )


async def _private_app_info(http: HttpClient) -> ConnectionInfo:
    details = await http.request_json("GET", "/account-info/v3/details")
    if not isinstance(details, dict):
        raise CrmProtocolError("HubSpot answered the account details without an object", crm=CRM)
    portal = details.get("portalId")
    return ConnectionInfo(user_email="", user_id=None, is_admin=True,
                          account_id=None if portal is None else str(portal), note=PRIVATE_APP_NOTE)


async def list_owners(http: HttpClient) -> list[CrmOwner]:
    """Every owner: ``GET /crm/v3/owners?limit=500`` paged, with ``archived=false`` then ``true``.

    Deactivated users appear only in the archived listing and come back ``active=False``
    (case B17); teams are kept. An id listed in both keeps its active entry.
    """
    owners: dict[str, CrmOwner] = {}
    for archived in (False, True):
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": OWNERS_PAGE,
                                            "archived": "true" if archived else "false"}
            if after is not None:
                params["after"] = after
            page = await http.request_json("GET", "/crm/v3/owners", params=params)
            for obj in results_of(page):
                owner = owner_from_wire(obj, archived=archived)
                owners.setdefault(owner.id, owner)
            after = next_after(page)
            if after is None:
                break
    return list(owners.values())


async def list_properties(http: HttpClient) -> list[PropertyMeta]:
    """The contacts object's properties: ``GET /crm/v3/properties/contacts``."""
    page = await http.request_json("GET", "/crm/v3/properties/contacts")
    return [property_from_wire(obj) for obj in results_of(page)]
