"""HubSpot JSON <-> leadsync's canonical records.

HubSpot CRM v3 objects are ``{id, properties: {name: str | null}, createdAt, updatedAt, archived,
archivedAt?}`` with ISO-8601 times (https://developers.hubspot.com/docs/api/crm/contacts); every
property value is a string. Times become epoch milliseconds UTC computed with :mod:`datetime` from
the instant the text denotes, whatever its offset and whatever the machine's time zone (case B09):
never by comparing strings, never through local time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from leadsync.agent.connectors.base import (
    CrmOwner,
    CrmRecord,
    CrmTeam,
    ObjectType,
    PropertyMeta,
    PropertyOption,
    PropertyType,
    WriteInput,
)
from leadsync.agent.connectors.hubspot.errors import CRM
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import CrmProtocolError

MODIFIED_PROPERTY: Final = "lastmodifieddate"
ID_PROPERTY: Final = "hs_object_id"
MERGED_IDS_PROPERTY: Final = "hs_merged_object_ids"
EMAIL_PROPERTY: Final = "email"
ADDITIONAL_EMAILS_PROPERTY: Final = "hs_additional_emails"
OWNER_PROPERTY: Final = "hubspot_owner_id"
CREATED_PROPERTY: Final = "createdate"
CONTACTS: Final = "/crm/v3/objects/contacts"
"""The contacts object's API path."""

SYSTEM_PROPERTIES: Final = (MODIFIED_PROPERTY, ID_PROPERTY, MERGED_IDS_PROPERTY, EMAIL_PROPERTY)
"""Properties every read asks for: the cursor, the keyset tie-break, merges, matching."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_TYPES: Final[Mapping[str, PropertyType]] = {
    "string": "string",
    "phone_number": "string",
    "number": "number",
    "bool": "bool",
    "boolean": "bool",
    "date": "date",
    "datetime": "datetime",
    "enumeration": "enumeration",
}


def parse_instant_ms(value: object) -> int | None:
    """Epoch milliseconds (UTC) of a HubSpot time: ISO-8601 with ``Z`` or an offset, or epoch ms digits
    (:func:`~leadsync.common.instants.parse_instant_ms`).

    ``"2024-03-10T23:30:00-08:00"`` -> 1710142200000. A naive ISO time is taken as UTC (HubSpot
    always sends UTC). None, ``""`` -> None. Raises CrmProtocolError for text that is not a time.
    """
    try:
        return instants.parse_instant_ms(value)
    except ValueError:
        raise CrmProtocolError(f"HubSpot sent {value!r} where a time was expected", crm="hubspot") from None


def format_ms(ms: int) -> str:
    """A filter value for a HubSpot time property: epoch milliseconds as a decimal string."""
    return str(int(ms))


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with a ``Z`` (``2024-03-11T07:30:00.000Z``)."""
    instant = _EPOCH + dt.timedelta(milliseconds=ms)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _properties(raw: object) -> dict[str, str | None]:
    if not isinstance(raw, dict):
        return {}
    props: dict[str, str | None] = {}
    for name, value in raw.items():
        if value is None or isinstance(value, str):
            props[str(name)] = value
        elif isinstance(value, bool):
            props[str(name)] = "true" if value else "false"
        else:
            props[str(name)] = str(value)
    return props


def split_ids(value: str | None) -> tuple[str, ...]:
    """``"202;150"`` -> ``("202", "150")`` (HubSpot joins multi-values and merged ids with ``;``)."""
    if value is None:
        return ()
    return tuple(part.strip() for part in value.split(";") if part.strip())


def record_from_wire(obj: Mapping[str, Any], object_type: ObjectType) -> CrmRecord:
    """A HubSpot object (list, search, batch or write result) as a :class:`CrmRecord`.

    ``updated_at_ms`` is the ``lastmodifieddate`` property when present (what search filters and
    sorts on), else ``updatedAt``; ``merged_ids`` come from ``hs_merged_object_ids``.
    Raises CrmProtocolError when the object has no id or no modified time.
    """
    record_id = obj.get("id")
    if record_id is None or record_id == "":
        raise CrmProtocolError("HubSpot sent an object without an id", crm="hubspot")
    props = _properties(obj.get("properties"))
    updated = parse_instant_ms(props.get(MODIFIED_PROPERTY))
    if updated is None:
        updated = parse_instant_ms(obj.get("updatedAt"))
    if updated is None:
        raise CrmProtocolError(f"HubSpot object {record_id} has no modified time", crm="hubspot")
    created = parse_instant_ms(obj.get("createdAt"))
    if created is None:
        created = parse_instant_ms(props.get(CREATED_PROPERTY))
    return CrmRecord(
        object_type=object_type,
        id=str(record_id),
        properties=props,
        updated_at_ms=updated,
        created_at_ms=created,
        archived=obj.get("archived") is True,
        merged_ids=split_ids(props.get(MERGED_IDS_PROPERTY)),
    )


def record_email(record: CrmRecord) -> str | None:
    """The record's email as the CRM wrote it, trimmed; None when it has none."""
    value = record.properties.get(EMAIL_PROPERTY)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def property_from_wire(obj: Mapping[str, Any]) -> PropertyMeta:
    """One ``GET /crm/v3/properties/contacts`` result as a :class:`PropertyMeta`.

    Types: string/phone_number -> string, number, bool/boolean -> bool, date, datetime,
    enumeration; anything else (json, object_coordinates) -> string. A ``checkbox`` enumeration is
    multi-select; ``modificationMetadata.readOnlyValue`` -> read_only; ``hasUniqueValue`` -> unique.
    (https://developers.hubspot.com/docs/api/crm/properties)
    """
    wire_type = str(obj.get("type", "string"))
    field_type = str(obj.get("fieldType", ""))
    prop_type: PropertyType = _TYPES.get(wire_type, "string")
    options = tuple(
        PropertyOption(value=str(opt.get("value", "")), label=str(opt.get("label", "")),
                       hidden=opt.get("hidden") is True)
        for opt in obj.get("options") or () if isinstance(opt, dict)
    )
    modification = obj.get("modificationMetadata")
    read_only = isinstance(modification, dict) and modification.get("readOnlyValue") is True
    return PropertyMeta(
        name=str(obj.get("name", "")),
        label=str(obj.get("label", "")),
        type=prop_type,
        field_type=field_type,
        options=options,
        multi=prop_type == "enumeration" and field_type == "checkbox",
        required=False,
        read_only=read_only or obj.get("calculated") is True,
        unique=obj.get("hasUniqueValue") is True,
    )


def owner_from_wire(obj: Mapping[str, Any], *, archived: bool) -> CrmOwner:
    """One ``GET /crm/v3/owners`` result as a :class:`CrmOwner`; archived owners are inactive (B17).

    (https://developers.hubspot.com/docs/api/crm/owners)
    """
    teams = tuple(
        CrmTeam(id=str(team.get("id", "")), name=str(team.get("name", "")),
                primary=team.get("primary") is True)
        for team in obj.get("teams") or () if isinstance(team, dict)
    )
    user_id = obj.get("userId")
    return CrmOwner(
        id=str(obj.get("id", "")),
        email=str(obj.get("email") or "").strip(),
        first_name=str(obj.get("firstName") or ""),
        last_name=str(obj.get("lastName") or ""),
        active=not (archived or obj.get("archived") is True),
        user_id=None if user_id is None else str(user_id),
        teams=teams,
    )


def null_properties(inp: WriteInput) -> list[str]:
    """Names of properties whose value is not a string (e.g. None): HubSpot ignores ``null`` (B19)."""
    return [name for name, value in inp.properties.items() if not isinstance(value, str)]


def write_properties(inp: WriteInput) -> dict[str, str]:
    """The ``properties`` object of a write: exactly the keys given, ``""`` clears (case B19)."""
    return dict(inp.properties)


def create_input(inp: WriteInput) -> dict[str, Any]:
    """A ``batch/create`` input: the given properties and ``objectWriteTraceId`` = ``ref``."""
    return {"properties": write_properties(inp), "objectWriteTraceId": inp.ref}


def update_input(inp: WriteInput) -> dict[str, Any] | str:
    """A ``batch/update`` input ``{id, properties, objectWriteTraceId}``, or why there is none."""
    if inp.id is None or inp.id == "":
        return "an update needs the HubSpot id of the record"
    return {"id": inp.id, "properties": write_properties(inp), "objectWriteTraceId": inp.ref}


def upsert_input(inp: WriteInput) -> dict[str, Any] | str:
    """A ``batch/upsert`` input keyed by the email (trimmed, lower-cased), or why there is none.

    The properties stay exactly as given; HubSpot sets ``email`` from the key on create.
    """
    email = inp.properties.get(EMAIL_PROPERTY)
    if not isinstance(email, str) or normalize_email(email) == "":
        return "an upsert needs the record's email"
    return {"id": normalize_email(email), "idProperty": EMAIL_PROPERTY, "properties": write_properties(inp),
            "objectWriteTraceId": inp.ref}


def input_keys(inp: WriteInput) -> set[str]:
    """The keys a batch answer may name ``inp`` by: its trace id (``ref``), its id, its email."""
    keys = {f"trace:{inp.ref}"}
    if inp.id is not None and inp.id != "":
        keys.add(f"id:{inp.id}")
    email = inp.properties.get(EMAIL_PROPERTY)
    if isinstance(email, str) and normalize_email(email) != "":
        keys.add(f"email:{normalize_email(email)}")
    return keys


def properties_param(properties: Sequence[str]) -> list[str]:
    """The properties to ask for: the caller's plus :data:`SYSTEM_PROPERTIES`, each once, in order."""
    return list(dict.fromkeys([*properties, *SYSTEM_PROPERTIES]))


def results_of(page: Any) -> list[Mapping[str, Any]]:
    """The objects of a list or batch answer's ``results`` (CrmProtocolError without them)."""
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise CrmProtocolError("HubSpot answered without 'results'", crm=CRM)
    return [r for r in page["results"] if isinstance(r, dict)]


def next_after(page: Mapping[str, Any]) -> str | None:
    """The ``paging.next.after`` cursor of a page; None on the last page (CrmProtocolError when more
    follow without one, or when ``paging`` or ``paging.next`` is there but not an object: reading it as the
    last page would end a pull early without a word)."""
    paging = page.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else paging  # a paging that is not an object: refused
    if nxt is None:
        return None
    if not isinstance(nxt, dict):
        raise CrmProtocolError(f"HubSpot answered with a 'paging' that is not an object: {paging!r:.80}", crm=CRM)
    after = nxt.get("after")
    if after is None or after == "":
        raise CrmProtocolError("HubSpot said more results follow but gave no 'after'", crm=CRM)
    return str(after)
