"""Zoho CRM's directory: the connected user and organisation, the users (owners) and a module's fields.

Every function takes ``call``, the connector's API request (``await call(method, path, params=)`` -> the
decoded answer); errors are :mod:`leadsync.common.errors` types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from leadsync.agent.connectors.base import ConnectionInfo, CrmOwner, ObjectType, PropertyMeta
from leadsync.agent.connectors.zoho.errors import CRM
from leadsync.agent.connectors.zoho.pull import PAGE_SIZE
from leadsync.agent.connectors.zoho.wire import ID, data_of, module, more_records, owner_from_wire, property_from_wire
from leadsync.common.errors import CrmProtocolError

ADMIN_PROFILE: Final = "Administrator"

Call = Callable[..., Awaitable[Any]]
"""The connector's API request: ``await call(method, path, params=..., json=...)`` -> the decoded answer."""


async def connection_info(call: Call) -> ConnectionInfo:
    """The connected user: ``GET /users?type=CurrentUser`` and the organisation ``GET /org``.

    ``is_admin`` when the user's profile is ``Administrator`` (then every record is visible)."""
    users = data_of(await call("GET", "/users", params={"type": "CurrentUser"}), "users")
    if not users:
        raise CrmProtocolError("Zoho answered users?type=CurrentUser without the current user", crm=CRM)
    user = users[0]
    org = data_of(await call("GET", "/org"), "org")
    profile = user.get("profile")
    is_admin = isinstance(profile, dict) and profile.get("name") == ADMIN_PROFILE
    return ConnectionInfo(
        user_email=str(user.get("email") or "").strip(),
        user_id=str(user.get(ID)) if user.get(ID) else None,
        is_admin=is_admin,
        account_id=str(org[0].get(ID)) if org and org[0].get(ID) else None,
        note=None if is_admin else "connected as a user without the Administrator profile: leadsync sees "
                                   "only the records this user's role and sharing rules show",
    )


async def list_owners(call: Call) -> list[CrmOwner]:
    """Every user, active or not: ``GET /users?type=ActiveUsers`` then ``type=DeactiveUsers``, 200 a
    page (``page=N`` while ``info.more_records``). Deactivated users keep owning their records and come
    back ``active=False``. Match them to leadsync users by email."""
    owners: dict[str, CrmOwner] = {}
    for kind, active in (("ActiveUsers", True), ("DeactiveUsers", False)):
        page = 1
        while True:
            answer = await call("GET", "/users", params={"type": kind, "page": str(page),
                                                               "per_page": str(PAGE_SIZE)})
            for user in data_of(answer, "users"):
                owner = owner_from_wire(user, active=active)
                owners.setdefault(owner.id, owner)
            if not more_records(answer)[0]:
                break
            page += 1
    return list(owners.values())


async def module_fields(call: Call, object_type: ObjectType) -> tuple[dict[str, Mapping[str, Any]],
                                                                      list[PropertyMeta]]:
    """The module's fields: ``GET /settings/fields?module=Leads`` ("Fields Metadata"): the field rows by
    API name, and each as a :class:`PropertyMeta` (see :func:`~.wire.property_from_wire`)."""
    answer = await call("GET", "/settings/fields", params={"module": module(object_type)})
    fields = data_of(answer, "fields")
    rows = {str(f["api_name"]): f for f in fields if isinstance(f.get("api_name"), str)}
    return rows, [property_from_wire(f) for f in fields if isinstance(f.get("api_name"), str)]
