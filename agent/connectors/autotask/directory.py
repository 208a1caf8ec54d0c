"""Autotask's directory: the Resources (who own Companies, and so contacts) and the contact's fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import msgspec

from leadsync.agent.connectors.autotask.errors import CRM
from leadsync.agent.connectors.autotask.query import cond
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_ID,
    ID,
    IS_ACTIVE,
    PSEUDO_PROPERTIES,
    owner_from_wire,
    property_from_wire,
)
from leadsync.agent.connectors.base import CrmOwner, PropertyMeta
from leadsync.common.errors import CrmProtocolError

RESOURCE_FIELDS: Final = ("id", "email", "firstName", "lastName", "isActive", "userName")

Query = Callable[[str, list[dict[str, Any]], Sequence[str]], Awaitable[list[dict[str, Any]]]]
"""``await query(entity, conditions, fields)`` -> every row of an entity query, all pages."""


class ContactDirectory:
    """The Resources and the contact's fields of one Autotask database, through ``get(path)`` (a GET's
    decoded answer) and ``query`` (an entity query); the API user's Resource and the field list are read
    once and kept (:meth:`list_properties` refreshes the fields)."""

    def __init__(self, *, get: Callable[[str], Awaitable[Any]], query: Query, username: str) -> None:
        self._get = get
        self._query = query
        self._username = username
        self._fields: dict[str, Mapping[str, Any]] | None = None
        self._api_resource: CrmOwner | None = None

    async def api_user_resource(self) -> CrmOwner | None:
        """The API user's Resource (``userName`` or ``email`` equal to the user name); None when none is."""
        if self._api_resource is None:
            rows = await self._query("Resources", [{"op": "or", "items": [cond("userName", "eq", self._username),
                                                                          cond("email", "eq", self._username)]}],
                                     RESOURCE_FIELDS)
            self._api_resource = owner_from_wire(rows[0]) if rows else None
        return self._api_resource

    async def list_owners(self) -> list[CrmOwner]:
        """Every Resource, active or not (``POST /V1.0/Resources/query`` with ``id gte 0``, all pages), as
        owners matched by email; inactive resources come back ``active=False``. Resources are who own
        Companies (``ownerResourceID``), and so, in leadsync's terms, contacts."""
        rows = await self._query("Resources", [cond(ID, "gte", 0)], RESOURCE_FIELDS)
        return [owner_from_wire(row) for row in rows]

    async def list_properties(self) -> list[PropertyMeta]:
        """The contact's fields: ``GET /V1.0/Contacts/entityInformation/fields``, each as a
        :class:`PropertyMeta` (picklists with their values, ``isRequired``, ``isReadOnly``), then the
        pseudo-properties ``companyName`` and ``ownerResourceID``. ``companyID`` and ``isActive``, which
        Autotask requires, are listed as not required: the connector fills them itself (``companyID`` from
        ``companyName``, so it is read-only here; ``isActive`` 1 on create), so no mapping needs to source
        them. Also refreshes the field types writes are converted with (:meth:`contact_fields`).
        CrmProtocolError for an answer without ``fields``."""
        answer = await self._get("/V1.0/Contacts/entityInformation/fields")
        fields = answer.get("fields") if isinstance(answer, dict) else None
        if not isinstance(fields, list):
            raise CrmProtocolError("Autotask answered entityInformation/fields without 'fields'", crm=CRM)
        rows = [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
        self._fields = {str(f["name"]).lower(): f for f in rows}
        return [*(_as_written(property_from_wire(f)) for f in rows), *PSEUDO_PROPERTIES]

    async def contact_fields(self) -> dict[str, Mapping[str, Any]]:
        """The contact's field rows (``name``, ``dataType``, ``isReadOnly``...) by lower-cased name, read
        once."""
        if self._fields is None:
            await self.list_properties()
        assert self._fields is not None
        return self._fields


def _as_written(meta: PropertyMeta) -> PropertyMeta:
    """``meta`` as the connector's writes see it: the required fields it fills itself are not required."""
    if meta.name == COMPANY_ID:
        return msgspec.structs.replace(meta, required=False, read_only=True)
    if meta.name == IS_ACTIVE:
        return msgspec.structs.replace(meta, required=False)
    return meta
