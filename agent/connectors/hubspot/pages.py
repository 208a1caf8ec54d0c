"""A HubSpot list or search answer decoded straight from its bytes into typed structs (issue 15: the event loop's
CPU per pulled page).

``GET /crm/v3/objects/contacts`` and ``POST /crm/v3/objects/contacts/search`` answer
``{"results": [{"id", "properties": {name: str | null}, "createdAt", "updatedAt", "archived", ...}],
"paging": {"next": {"after", "link"}}, "total"}`` (https://developers.hubspot.com/docs/api/crm/contacts,
https://developers.hubspot.com/docs/api/crm/search): ``paging`` is absent on the last page, ``total`` on list
answers, and fields HubSpot adds (``archivedAt``, ``propertiesWithHistory``, ``url``, ...) are ignored.

:func:`decode_page` gives a :class:`WirePage` when the body has exactly those types (every property a string
or null), with no dict per object and no per-value checks in Python; a body that does not (a property sent as
a number, an ``id`` as a number, ``results`` missing or holding non-objects) is decoded as plain JSON instead
and read by the general path of :mod:`~leadsync.agent.connectors.hubspot.pull_paging`, which accepts and
refuses exactly what it did before this module existed. A body that is not JSON raises CrmProtocolError.
The structs are not tracked by the garbage collector (``gc=False``: decoded text, numbers and dicts of text
cannot form a cycle), which makes the decode ~10% cheaper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx
import msgspec

from leadsync.agent.connectors.base import CrmRecord, ObjectType
from leadsync.agent.connectors.hubspot.errors import CRM
from leadsync.agent.connectors.hubspot.wire import (
    CREATED_PROPERTY,
    MERGED_IDS_PROPERTY,
    MODIFIED_PROPERTY,
    parse_instant_ms,
    split_ids,
)
from leadsync.common.errors import CrmProtocolError

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS: Final = dt.timedelta(milliseconds=1)


class WireObject(msgspec.Struct, gc=False):
    """One object of ``results``: its ``id``, ``properties`` (text or None each), ISO-8601 times."""

    id: str = ""
    properties: dict[str, str | None] = {}
    createdAt: str | None = None
    updatedAt: str | None = None
    archived: bool = False


class WireNext(msgspec.Struct, gc=False):
    """``paging.next``: the ``after`` of the next page (None when HubSpot sent none)."""

    after: str | None = None


class WirePaging(msgspec.Struct, gc=False):
    """``paging``: ``next`` when more results follow."""

    next: WireNext | None = None


class WirePage(msgspec.Struct, gc=False):
    """A list or search answer: ``results``, ``paging`` (None on the last page), ``total`` (search only)."""

    results: list[WireObject]
    paging: WirePaging | None = None
    total: int | None = None


Page = WirePage | Mapping[str, Any]
"""A decoded answer page: typed, or plain JSON when its body has other types than HubSpot documents."""

_TYPED: Final = msgspec.json.Decoder(WirePage)
_PLAIN: Final = msgspec.json.Decoder()


def decode_page(response: httpx.Response, what: str) -> Page:
    """``response``'s body as a :data:`Page`; ``what`` names the request (``"GET /crm/v3/objects/contacts"``) in
    the CrmProtocolError raised when the body is not JSON (or JSON but not an object)."""
    content = response.content
    try:
        return _TYPED.decode(content)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        raise CrmProtocolError(f"{CRM}: {what} answered {response.status_code} with a body that is not JSON",
                               crm=CRM, status=response.status_code) from None
    page = _PLAIN.decode(content)  # valid JSON: the typed decoder read it through
    if not isinstance(page, dict):
        raise CrmProtocolError(f"{CRM}: {what} answered {response.status_code} with JSON that is not an object",
                               crm=CRM, status=response.status_code)
    return page


def list_query(properties: Sequence[str], *, archived: bool) -> str:
    """The query of every ``GET /crm/v3/objects/contacts`` page of a walk but its ``after``, encoded once as httpx
    encodes parameters: ``limit=100``, each of ``properties``, ``archived``."""
    return str(httpx.QueryParams({"limit": 100, "properties": list(properties),
                                  "archived": "true" if archived else "false"}))


def instant_ms(value: str | None) -> int | None:
    """:func:`~.wire.parse_instant_ms` of an ISO-8601 time, read at once when it is one (``T`` after the date);
    any other text goes through the general parser (the same result, and the same CrmProtocolError)."""
    if value is not None and value[10:11] == "T":
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            return parse_instant_ms(value)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.UTC)
        return (instant - _EPOCH) // _MS
    return parse_instant_ms(value)


def record_from_object(obj: WireObject, object_type: ObjectType) -> CrmRecord:
    """A typed object as a :class:`CrmRecord`, read as :func:`~.wire.record_from_wire` reads a plain one:
    ``updated_at_ms`` from ``lastmodifieddate`` (else ``updatedAt``), ``created_at_ms`` from ``createdAt`` (else
    ``createdate``), ``merged_ids`` from ``hs_merged_object_ids``. Raises CrmProtocolError when the object has
    no id or no modified time, or a time is not one."""
    if not obj.id:
        raise CrmProtocolError("HubSpot sent an object without an id", crm=CRM)
    props = obj.properties
    updated = instant_ms(props.get(MODIFIED_PROPERTY))
    if updated is None:
        updated = instant_ms(obj.updatedAt)
    if updated is None:
        raise CrmProtocolError(f"HubSpot object {obj.id} has no modified time", crm=CRM)
    created = instant_ms(obj.createdAt)
    if created is None:
        created = instant_ms(props.get(CREATED_PROPERTY))
    merged = props.get(MERGED_IDS_PROPERTY)
    return CrmRecord(object_type=object_type, id=obj.id, properties=props, updated_at_ms=updated,
                     created_at_ms=created, archived=obj.archived,
                     merged_ids=split_ids(merged) if merged else ())
