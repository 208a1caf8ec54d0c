"""Salesforce's directory: who the session belongs to, the Users (owners) and an object's describe.

Every function takes the connector's :class:`~.query.Queries`; errors are :mod:`leadsync.common.errors` types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from leadsync.agent.connectors.base import ConnectionInfo, CrmOwner, ObjectType, PropertyMeta
from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.agent.connectors.salesforce.query import Queries
from leadsync.agent.connectors.salesforce.soql import quote
from leadsync.agent.connectors.salesforce.wire import field_types, owner_from_wire, property_from_wire, sobject
from leadsync.common.errors import CrmProtocolError

ADMIN_PROFILE: Final = "System Administrator"
OWNER_FIELDS: Final = ("Id", "Email", "FirstName", "LastName", "IsActive", "UserRoleId", "UserRole.Name",
                       "Profile.Name")


async def connection_info(queries: Queries) -> ConnectionInfo:
    """Who the session belongs to and whether they administer the org.

    ``GET {instance}/services/oauth2/userinfo`` (OpenID Connect UserInfo endpoint) gives ``user_id``,
    ``organization_id`` and ``email``; ``SELECT Profile.Name, Profile.PermissionsModifyAllData,
    Profile.PermissionsViewAllData FROM User WHERE Id = '...'`` gives the profile. ``is_admin`` is
    True for the "System Administrator" profile or "Modify All Data"; a user with only "View All
    Data" is not an admin but sees every record (said in ``note``). Raises CrmAuthError for a bad
    session. Permission sets granting Modify All Data are not looked at.
    """
    instance = await queries.instance_url()
    info = await queries.call("GET", f"{instance}/services/oauth2/userinfo")
    if not isinstance(info, dict):
        raise CrmProtocolError("Salesforce answered userinfo without a JSON object", crm=CRM)
    user_id = info.get("user_id")
    org_id = info.get("organization_id")
    is_admin, view_all = False, False
    if isinstance(user_id, str) and user_id:
        rows = await queries.all(
            "SELECT Id, Profile.Name, Profile.PermissionsModifyAllData, Profile.PermissionsViewAllData "
            f"FROM User WHERE Id = {quote(user_id)}")
        profile = rows[0].get("Profile") if rows else None
        if isinstance(profile, dict):
            is_admin = profile.get("Name") == ADMIN_PROFILE or profile.get("PermissionsModifyAllData") is True
            view_all = profile.get("PermissionsViewAllData") is True
    note = None
    if not is_admin:
        note = ("connected as a user without View All Data: leadsync sees only the records this user can see"
                if not view_all else "connected as a non-admin user who can view all data")
    return ConnectionInfo(
        user_email=str(info.get("email") or "").strip(),
        user_id=user_id if isinstance(user_id, str) else None,
        is_admin=is_admin,
        account_id=org_id if isinstance(org_id, str) else None,
        note=note,
    )


async def list_owners(queries: Queries) -> list[CrmOwner]:
    """Every User, active or not: ``SELECT Id, Email, FirstName, LastName, IsActive, UserRoleId,
    UserRole.Name, Profile.Name FROM User ORDER BY Id``, all pages.

    Inactive users keep owning their records and come back ``active=False``; the role is the owner's
    one team. Records can also be owned by a Queue (an ``OwnerId`` starting ``00G``), which is no
    User and so not listed.
    """
    rows = await queries.all(f"SELECT {', '.join(OWNER_FIELDS)} FROM User ORDER BY Id ASC")
    return [owner_from_wire(row) for row in rows]


async def describe(queries: Queries, object_type: ObjectType) -> tuple[dict[str, Mapping[str, Any]],
                                                                    list[PropertyMeta]]:
    """The object's fields: ``GET /sobjects/{Lead|Contact}/describe`` ("sObject Describe"), each
    ``fields[]`` entry as a :class:`PropertyMeta` (see
    :func:`~leadsync.agent.connectors.salesforce.wire.property_from_wire`), with the field types writes are
    converted with (:func:`~.wire.field_types`)."""
    describe = await queries.call("GET", await queries.data(f"/sobjects/{sobject(object_type)}/describe"))
    if not isinstance(describe, dict):
        raise CrmProtocolError("Salesforce answered a describe without a JSON object", crm=CRM)
    return field_types(describe), [property_from_wire(f) for f in describe.get("fields") or () if isinstance(f, dict)]
