"""Salesforce JSON <-> leadsync's canonical records, owners and field metadata.

Values on the Salesforce wire are JSON types; :class:`~leadsync.agent.connectors.base.CrmRecord`
carries ``dict[str, str | None]``, so every value read is turned into text the same way every time
(:func:`text_value`):

=====================  ==========================================================
JSON on the wire       canonical text
=====================  ==========================================================
``null``               ``None`` (not set)
``true`` / ``false``   ``"true"`` / ``"false"``
number                 its JSON text as msgspec writes it: ``42``, ``1500000.0``, ``0.25``
string                 unchanged (picklist value; multipicklist values joined by ``;`` as
                       Salesforce sends them; dateTime ``2024-03-11T07:00:00.000+0000``;
                       date ``2024-03-11``)
object (relationship)  flattened: ``{"Owner": {"Email": "a@b.c"}}`` -> ``"Owner.Email": "a@b.c"``
=====================  ==========================================================

Writes go the other way with the field's describe ``type`` (:func:`wire_value`): ``""`` clears the
field (JSON ``null``), ``boolean`` fields take ``true``/``false``, number fields (``double``,
``currency``, ``percent``, ``int``, ``long``) take a JSON number, every other type the text itself.
Times in :class:`CrmRecord` (``updated_at_ms`` from ``SystemModstamp``, ``created_at_ms`` from
``CreatedDate``) are epoch ms computed from the instant the text denotes, never via local time (case B09).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from leadsync.agent.connectors.base import (
    CrmOwner,
    CrmRecord,
    CrmTeam,
    ObjectType,
    PropertyMeta,
    PropertyOption,
    PropertyType,
)
from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.common import instants
from leadsync.common.errors import CrmProtocolError

SOBJECTS: Final[Mapping[ObjectType, str]] = {"lead": "Lead", "contact": "Contact"}
"""Canonical object type -> Salesforce sObject name."""

ID: Final = "Id"
EMAIL: Final = "Email"
OWNER: Final = "OwnerId"
MODSTAMP: Final = "SystemModstamp"
CREATED: Final = "CreatedDate"
IS_DELETED: Final = "IsDeleted"
IS_CONVERTED: Final = "IsConverted"
CONVERTED_CONTACT: Final = "ConvertedContactId"
MASTER_RECORD: Final = "MasterRecordId"

SYSTEM_FIELDS: Final[Mapping[ObjectType, tuple[str, ...]]] = {
    "lead": (ID, MODSTAMP, CREATED, IS_DELETED, MASTER_RECORD, EMAIL, OWNER, IS_CONVERTED, CONVERTED_CONTACT),
    "contact": (ID, MODSTAMP, CREATED, IS_DELETED, MASTER_RECORD, EMAIL, OWNER),
}
"""Fields every read asks for: the cursor and its tie-break, deletes, merges, matching, owner, and
(Lead) the conversion."""

NUMBER_TYPES: Final = frozenset({"double", "currency", "percent", "int", "long"})
_TYPES: Final[Mapping[str, PropertyType]] = {
    "boolean": "bool",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "int": "number",
    "long": "number",
    "date": "date",
    "datetime": "datetime",
    "picklist": "enumeration",
    "multipicklist": "enumeration",
}
_COMPOUND: Final = frozenset({"address", "location"})
_INTEGER: Final = re.compile(r"[+-]?\d+")


def sobject(object_type: ObjectType) -> str:
    """``"lead"`` -> ``"Lead"``, ``"contact"`` -> ``"Contact"``; ValueError for anything else."""
    try:
        return SOBJECTS[object_type]
    except KeyError:
        raise ValueError(f"Salesforce has no object type {object_type!r}; one of lead, contact") from None


def parse_instant_ms(value: object) -> int | None:
    """Epoch ms (UTC) of a Salesforce dateTime: ``2024-03-11T07:00:00.000+0000`` (the REST form), any
    ISO-8601 offset or ``Z``; a naive time is UTC (:func:`~leadsync.common.instants.parse_instant_ms`).
    None/"" -> None; CrmProtocolError for other text.

    ``"2024-03-10T23:30:00.000-0800"`` -> 1710142200000, whatever the machine's time zone.
    """
    try:
        return instants.parse_instant_ms(value)
    except ValueError:
        raise CrmProtocolError(f"Salesforce sent {value!r} where a dateTime was expected", crm=CRM) from None


def text_value(value: Any) -> str | None:
    """One JSON value as canonical text (see the module table); objects are flattened by
    :func:`flatten` before this, so a list here (never sent for Lead or Contact) is written as JSON text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, str | None]:
    """A record's fields as canonical text, ``attributes`` dropped, relationships (and compound fields
    such as ``MailingAddress``) flattened to ``Rel.Field`` keys (a null relationship gives ``Rel: None``)."""
    out: dict[str, str | None] = {}
    for key, value in obj.items():
        if key == "attributes":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = text_value(value)
    return out


def record_from_wire(obj: Mapping[str, Any], object_type: ObjectType) -> CrmRecord:
    """A query or retrieve result as a :class:`CrmRecord`.

    ``archived`` is ``IsDeleted`` (a row in the Recycle Bin, only ``queryAll`` returns it);
    ``updated_at_ms`` comes from ``SystemModstamp`` (``LastModifiedDate`` when not selected);
    ``merged_into_id`` is a deleted record's ``MasterRecordId`` (merged away); a Lead with ``IsConverted``
    and a ``ConvertedContactId`` is ``converted_to`` that Contact.
    Raises CrmProtocolError without ``Id`` or a readable modification time.
    """
    record_id = obj.get(ID)
    if not isinstance(record_id, str) or not record_id:
        raise CrmProtocolError("Salesforce returned a record without an Id", crm=CRM)
    updated = parse_instant_ms(obj.get(MODSTAMP) or obj.get("LastModifiedDate"))
    if updated is None:
        raise CrmProtocolError(f"Salesforce record {record_id} has no SystemModstamp", crm=CRM)
    target = obj.get("ConvertedContactId")
    converted = target if object_type == "lead" and obj.get("IsConverted") is True and isinstance(target, str) \
        and target else None
    return CrmRecord(
        object_type=object_type,
        id=record_id,
        properties=flatten(obj),
        updated_at_ms=updated,
        created_at_ms=parse_instant_ms(obj.get(CREATED)),
        archived=obj.get(IS_DELETED) is True,
        merged_into_id=master if isinstance(master := obj.get("MasterRecordId"), str) and master else None,
        converted_to_type="contact" if converted else None,
        converted_to_id=converted,
    )


def record_email(record: CrmRecord) -> str | None:
    """The record's ``Email``, or None."""
    value = record.properties.get(EMAIL)
    return value if value else None


def wire_value(text: str, field_type: str | None) -> tuple[Any, str | None]:
    """``(JSON value, None)`` for one input value of a field of describe type ``field_type`` (None:
    unknown, sent as text), or ``(None, reason)`` when the text cannot be that type.

    ``""`` -> null (clears the field). ``boolean``: ``true``/``false`` in any case. Numbers: an
    integer text stays an int, other finite decimals become floats. ``date`` and ``datetime`` take
    ISO-8601 text as it is, or the engine's epoch ms (UTC) text, sent as ``YYYY-MM-DD`` and
    ``YYYY-MM-DDTHH:MM:SS.sssZ``.
    """
    if text == "":
        return None, None
    if field_type in ("date", "datetime") and _INTEGER.fullmatch(text.strip()):
        try:
            instant = dt.datetime.fromtimestamp(int(text.strip()) / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None, f"{text!r} is not a time Salesforce can store"
        if field_type == "date":
            return instant.date().isoformat(), None
        return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z"), None
    if field_type == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true", None
        return None, f"{text!r} is not true or false"
    if field_type in NUMBER_TYPES:
        stripped = text.strip()
        if _INTEGER.fullmatch(stripped):
            return int(stripped), None
        try:
            number = float(stripped)
        except ValueError:
            return None, f"{text!r} is not a number"
        if not math.isfinite(number):
            return None, f"{text!r} is not a finite number"
        if field_type in ("int", "long"):
            if not number.is_integer():
                return None, f"{text!r} is not a whole number"
            return int(number), None
        return number, None
    return text, None


def property_from_wire(field: Mapping[str, Any]) -> PropertyMeta:
    """One ``fields[]`` entry of ``/sobjects/{Object}/describe`` as a :class:`PropertyMeta`.

    ``required`` = not ``nillable`` and ``createable`` and not ``defaultedOnCreate`` (Lead:
    ``LastName``, ``Company``; case S13). ``read_only`` = neither ``createable`` nor ``updateable``
    (formula, system and compound fields). ``type``: boolean -> bool; double/currency/percent/int/long
    -> number; date, datetime; picklist and multipicklist (``multi``) -> enumeration; everything else
    (string, email, phone, url, textarea, reference, id, combobox ...) -> string. ``field_type`` keeps
    Salesforce's own type; ``options`` are the picklist values (inactive ones ``hidden``).
    """
    sf_type = str(field.get("type") or "string")
    createable = field.get("createable") is True
    updateable = field.get("updateable") is True
    options = tuple(
        PropertyOption(value=str(p.get("value")), label=str(p.get("label") or p.get("value")),
                       hidden=p.get("active") is False)
        for p in field.get("picklistValues") or () if isinstance(p, dict) and p.get("value") is not None
    )
    return PropertyMeta(
        name=str(field.get("name")),
        label=str(field.get("label") or field.get("name")),
        type=_TYPES.get(sf_type, "string"),
        field_type=sf_type,
        options=options,
        multi=sf_type == "multipicklist",
        required=field.get("nillable") is False and createable and field.get("defaultedOnCreate") is not True,
        read_only=(not createable and not updateable) or field.get("calculated") is True or sf_type in _COMPOUND,
        unique=field.get("unique") is True,
    )


def owner_from_wire(obj: Mapping[str, Any]) -> CrmOwner:
    """A ``User`` row (``Id, Email, FirstName, LastName, IsActive, UserRoleId, UserRole.Name,
    Profile.Name``) as a :class:`CrmOwner`: inactive users stay owners with ``active=False``; the role
    is the one team (Salesforce's role hierarchy decides visibility)."""
    user_id = obj.get(ID)
    if not isinstance(user_id, str) or not user_id:
        raise CrmProtocolError("Salesforce returned a User without an Id", crm=CRM)
    role_id = obj.get("UserRoleId")
    role = obj.get("UserRole")
    role_name = role.get("Name") if isinstance(role, dict) else None
    teams = (CrmTeam(id=role_id, name=str(role_name or role_id), primary=True),) \
        if isinstance(role_id, str) and role_id else ()
    return CrmOwner(
        id=user_id,
        email=str(obj.get(EMAIL) or "").strip(),
        first_name=str(obj.get("FirstName") or ""),
        last_name=str(obj.get("LastName") or ""),
        active=obj.get("IsActive") is not False,
        user_id=user_id,
        teams=teams,
    )


def field_types(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``fields[]`` of a describe answer keyed by lower-cased name (SOQL and the REST API ignore the
    case of field names)."""
    fields = describe.get("fields")
    if not isinstance(fields, list):
        raise CrmProtocolError("Salesforce answered a describe without 'fields'", crm=CRM)
    return {str(f["name"]).lower(): f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)}


def records_of(page: Any) -> list[Mapping[str, Any]]:
    """``records`` of a query answer; CrmProtocolError when it is missing."""
    if not isinstance(page, dict) or not isinstance(page.get("records"), list):
        raise CrmProtocolError("Salesforce answered a query without 'records'", crm=CRM)
    return [r for r in page["records"] if isinstance(r, dict)]


def chunked(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size``."""
    return [list(items[n:n + size]) for n in range(0, len(items), size)]
