"""Autotask REST JSON <-> leadsync's canonical contacts, owners and field metadata.

A Contact on the wire (``/V1.0/Contacts``) is a flat JSON object: ``id`` (integer), ``companyID``,
``emailAddress``, ``firstName``, ``lastName``, ``title``, ``phone``, ``isActive`` (integer 1/0),
``createDate``, ``lastModifiedDate`` ... Values become text the same way every time (:func:`text_of`):
``null`` -> None, ``true``/``false`` -> ``"true"``/``"false"``, numbers -> their JSON text (``42``,
``0.25``), strings unchanged; ``userDefinedFields`` (a list) is JSON text.

Writes go back with the field's ``dataType`` from ``entityInformation/fields`` (:func:`json_value`):
``""`` clears (JSON ``null``), integer/long/short -> int, decimal/double/float -> number, boolean -> bool,
anything else the text itself.

Times: Autotask stores and returns UTC ("Introduction to REST API calls": "The REST API stores and
returns all time data in Coordinated Universal Time"); a time may come with ``Z``, an explicit offset,
no zone at all (read as UTC) and up to seven fractional digits (.NET ticks). :func:`parse_instant_ms`
computes the instant from the text, never through the machine's time zone (case B09); filters are sent
as :func:`instant_literal` (``2024-03-11T07:00:00.000Z``), identical under any ``TZ``.

Two pseudo-properties, not Contact fields, carry what lives on the contact's Company:
:data:`COMPANY_NAME` (``companyName``) and :data:`OWNER` (``ownerResourceID``, the Company's owner
resource — Autotask contacts have no owner of their own).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from leadsync.agent.connectors.autotask.errors import CRM
from leadsync.agent.connectors.base import CrmOwner, CrmRecord, PropertyMeta, PropertyOption, PropertyType
from leadsync.common import instants
from leadsync.common.errors import CrmProtocolError

ID: Final = "id"
EMAIL: Final = "emailAddress"
COMPANY_ID: Final = "companyID"
IS_ACTIVE: Final = "isActive"
MODIFIED: Final = "lastModifiedDate"
CREATED: Final = "createDate"
COMPANY_NAME: Final = "companyName"
"""Pseudo-property: the name of the contact's Company (a push finds or creates the Company by it)."""
OWNER: Final = "ownerResourceID"
"""Pseudo-property: the contact's Company's ``ownerResourceID`` (a Resource id)."""
PSEUDO: Final = frozenset({COMPANY_NAME, OWNER})

CONTACT_FIELDS: Final = (ID, COMPANY_ID, EMAIL, IS_ACTIVE, MODIFIED, CREATED)
"""Fields every contact read asks for: id, company, matching, archive state and the cursor."""

INTEGER_TYPES: Final = frozenset({"integer", "long", "short", "byte"})
DECIMAL_TYPES: Final = frozenset({"decimal", "double", "float"})
_TYPES: Final[Mapping[str, PropertyType]] = {
    **dict.fromkeys(INTEGER_TYPES | DECIMAL_TYPES, "number"),
    "boolean": "bool",
    "datetime": "datetime",
    "date": "date",
}
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_instant_ms(value: object) -> int | None:
    """Epoch ms (UTC) of an Autotask datetime (:func:`~leadsync.common.instants.parse_instant_ms`); None for
    null/"". CrmProtocolError for other text.

    ``"2024-03-10T23:30:00-08:00"`` -> 1710142200000 and ``"2024-03-11T07:30:00.0000000Z"`` the same.
    """
    try:
        return instants.parse_instant_ms(value)
    except ValueError:
        raise CrmProtocolError(f"Autotask sent {value!r} where a datetime was expected", crm=CRM) from None


def instant_literal(ms: int) -> str:
    """An instant (epoch ms) as a filter value: ``2024-03-11T07:00:00.000Z``, always UTC."""
    instant = _EPOCH + dt.timedelta(milliseconds=ms)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def text_of(value: Any) -> str | None:
    """One JSON value as canonical text (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    return msgspec.json.encode(value).decode()


def json_value(text: str, data_type: str) -> tuple[Any, str | None]:
    """``(JSON value, None)`` for input text of a field of Autotask ``dataType``, or ``(None, reason)``."""
    if text == "":
        return None, None
    kind = data_type.lower()
    stripped = text.strip()
    if kind == "boolean":
        if stripped.lower() not in ("true", "false"):
            return None, f"{text!r} is not true or false"
        return stripped.lower() == "true", None
    if kind in INTEGER_TYPES:
        try:
            number = float(stripped)
        except ValueError:
            return None, f"{text!r} is not a whole number"
        if not number.is_integer():
            return None, f"{text!r} is not a whole number"
        return int(number), None
    if kind in DECIMAL_TYPES:
        try:
            decimal = float(stripped)
        except ValueError:
            return None, f"{text!r} is not a number"
        return (decimal, None) if math.isfinite(decimal) else (None, f"{text!r} is not a finite number")
    return text, None


def items_of(answer: Any, what: str) -> list[dict[str, Any]]:
    """``items`` of a query answer; CrmProtocolError when it is missing."""
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise CrmProtocolError(f"Autotask answered a {what} query without 'items'", crm=CRM)
    return [item for item in items if isinstance(item, dict)]


def wire_id(value: Any) -> str | None:
    """An entity id as text (Autotask ids are integers); None when absent."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def is_active(contact: Mapping[str, Any]) -> bool:
    """A contact's ``isActive``: integer 1/0 on the wire (``true``/``false`` read too); absent means active."""
    flag = contact.get(IS_ACTIVE)
    return flag is None or flag is True or (isinstance(flag, int | float) and flag != 0)


def contact_from_wire(obj: Mapping[str, Any], company: Mapping[str, str | None] | None = None) -> CrmRecord:
    """A Contact as a :class:`CrmRecord` (object type ``contact``).

    ``archived`` is ``isActive == 0`` (a deactivated contact: Autotask's way to retire one);
    ``updated_at_ms`` is ``lastModifiedDate`` (``createDate`` when null); ``company`` adds the pseudo-
    properties ``companyName`` and ``ownerResourceID`` of the contact's Company. CrmProtocolError without
    an ``id``.
    """
    record_id = wire_id(obj.get(ID))
    if record_id is None:
        raise CrmProtocolError("Autotask returned a contact without an id", crm=CRM)
    created = parse_instant_ms(obj.get(CREATED))
    updated = parse_instant_ms(obj.get(MODIFIED))
    properties = {str(key): text_of(value) for key, value in obj.items()}
    if company is not None:
        properties.update(company)
    return CrmRecord(object_type="contact", id=record_id, properties=properties,
                     updated_at_ms=updated if updated is not None else created or 0, created_at_ms=created,
                     archived=not is_active(obj))


def company_of(obj: Mapping[str, Any]) -> dict[str, str | None]:
    """The pseudo-properties a Company gives its contacts: ``{companyName, ownerResourceID}``."""
    return {COMPANY_NAME: text_of(obj.get(COMPANY_NAME)), OWNER: wire_id(obj.get(OWNER))}


def owner_from_wire(obj: Mapping[str, Any]) -> CrmOwner:
    """A Resource (``id, email, firstName, lastName, isActive``) as a :class:`CrmOwner`; inactive
    resources stay owners with ``active=False``."""
    resource_id = wire_id(obj.get(ID))
    if resource_id is None:
        raise CrmProtocolError("Autotask returned a resource without an id", crm=CRM)
    return CrmOwner(id=resource_id, email=str(obj.get("email") or "").strip(),
                    first_name=str(obj.get("firstName") or ""), last_name=str(obj.get("lastName") or ""),
                    active=obj.get(IS_ACTIVE) is not False, user_id=resource_id)


def property_from_wire(field: Mapping[str, Any]) -> PropertyMeta:
    """One ``fields[]`` entry of ``GET /V1.0/Contacts/entityInformation/fields`` ("The entityInformation
    REST API call") as a :class:`PropertyMeta`: ``dataType`` -> type (picklists -> enumeration, their
    ``picklistValues`` as options, inactive ones hidden), ``isRequired``, ``isReadOnly``."""
    data_type = str(field.get("dataType") or "string").lower()
    picklist = field.get("isPickList") is True
    options = tuple(
        PropertyOption(value=str(v.get("value")), label=str(v.get("label") or v.get("value")),
                       hidden=v.get("isActive") is False)
        for v in field.get("picklistValues") or () if isinstance(v, dict) and v.get("value") is not None)
    return PropertyMeta(name=str(field.get("name")), label=str(field.get("label") or field.get("name")),
                        type="enumeration" if picklist else _TYPES.get(data_type, "string"), field_type=data_type,
                        options=options, required=field.get("isRequired") is True,
                        read_only=field.get("isReadOnly") is True)


PSEUDO_PROPERTIES: Final = (
    PropertyMeta(name=COMPANY_NAME, label="Company name (the contact's Company; a push finds or creates it)",
                 type="string", field_type="pseudo", required=True),
    PropertyMeta(name=OWNER, label="Owner (the contact's Company's owner resource)", type="string",
                 field_type="pseudo", read_only=True),
)
"""The pseudo-properties as :func:`~AutotaskConnector.list_properties` lists them: ``companyName`` is
required on create; ``ownerResourceID`` is read-only for an existing contact (it belongs to the Company)."""


def chunks(items: Iterable[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size``."""
    listed = list(items)
    return [listed[n:n + size] for n in range(0, len(listed), size)]
