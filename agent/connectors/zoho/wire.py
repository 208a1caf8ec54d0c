"""Zoho CRM JSON <-> leadsync's canonical records, owners and field metadata.

A record on the wire is ``{"id": "4876876000000333001", "Email": ..., "Owner": {"id", "name", "email"},
"Modified_Time": "2024-03-11T05:00:00+05:30", "Created_Time": ..., "$converted": false, ...}``. Values
become the text of :class:`~leadsync.agent.connectors.base.CrmRecord` like this (:func:`text_value`):

=======================  ==========================================================
JSON on the wire         canonical text
=======================  ==========================================================
``null``                 ``None`` (not set)
``true`` / ``false``     ``"true"`` / ``"false"``
number                   its JSON text (``42``, ``0.25``)
string                   unchanged (datetimes keep Zoho's offset, dates ``2024-03-11``)
array                    values joined by ``;`` (multi-select picklists)
object (a lookup)        its ``id``; ``Owner`` also gives ``Owner.email`` and ``Owner.name``
=======================  ==========================================================

Keys starting with ``$`` (Zoho's record metadata) are left out of ``properties``, except a Lead's
``$converted`` (``"true"``/``"false"``); ``$converted_detail`` becomes ``converted_to_type`` and
``converted_to_id``. Times are epoch ms of the instant the text denotes, never read through local time (case B09).

Writes go the other way by the field's ``data_type`` (:func:`wire_value`).
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
from leadsync.agent.connectors.zoho.errors import CRM
from leadsync.common import instants
from leadsync.common.errors import CrmProtocolError

MODULES: Final[Mapping[ObjectType, str]] = {"lead": "Leads", "contact": "Contacts"}
"""Canonical object type -> Zoho module API name."""

ID: Final = "id"
EMAIL: Final = "Email"
OWNER: Final = "Owner"
MODIFIED: Final = "Modified_Time"
CREATED: Final = "Created_Time"
CONVERTED: Final = "$converted"
CONVERTED_DETAIL: Final = "$converted_detail"

SYSTEM_FIELDS: Final = (EMAIL, OWNER, MODIFIED, CREATED)
"""Fields every read asks for besides the caller's: matching, owner and the cursor."""

_TYPES: Final[Mapping[str, PropertyType]] = {
    "boolean": "bool",
    "integer": "number",
    "bigint": "number",
    "double": "number",
    "decimal": "number",
    "currency": "number",
    "percent": "number",
    "date": "date",
    "datetime": "datetime",
    "picklist": "enumeration",
    "multiselectpicklist": "enumeration",
}
_WHOLE: Final = frozenset({"integer", "bigint"})
_LOOKUPS: Final = frozenset({"lookup", "ownerlookup", "userlookup"})
_SYSTEM_READ_ONLY: Final = frozenset({"autonumber", "formula", "rollup_summary", "fileupload"})
_INTEGER: Final = re.compile(r"[+-]?\d+")
_CRITERIA_SPECIALS: Final = re.compile(r"([\\(),])")


def module(object_type: ObjectType) -> str:
    """``"lead"`` -> ``"Leads"``, ``"contact"`` -> ``"Contacts"``; ValueError for anything else."""
    try:
        return MODULES[object_type]
    except KeyError:
        raise ValueError(f"Zoho CRM has no object type {object_type!r}; one of lead, contact") from None


def criteria_value(value: str) -> str:
    """A value for a search ``criteria`` term: ``\\``, ``(``, ``)`` and ``,`` escaped with a backslash
    ("Search Records": "when there are parentheses or a comma in your search value, you must escape them
    and then encode the characters"). The whole criteria string is then URL-encoded as a query parameter.

    ``criteria_value("o'neil(sales),x@example.com")`` -> ``o'neil\\(sales\\)\\,x@example.com``.
    """
    return _CRITERIA_SPECIALS.sub(r"\\\1", value)


def email_criteria(emails: Sequence[str]) -> str:
    """``(Email:equals:a)`` for one address, ``((Email:equals:a)or(Email:equals:b))`` for several (Zoho
    takes at most 10 terms)."""
    terms = [f"({EMAIL}:equals:{criteria_value(e)})" for e in emails]
    return terms[0] if len(terms) == 1 else f"({'or'.join(terms)})"


def parse_instant_ms(value: object) -> int | None:
    """Epoch ms (UTC) of a Zoho datetime: ``2024-03-11T05:00:00+05:30`` (any ISO-8601 offset or ``Z``;
    a naive time is UTC; :func:`~leadsync.common.instants.parse_instant_ms`). None/"" -> None;
    CrmProtocolError for other text.

    ``"2024-03-10T23:30:00-08:00"`` -> 1710142200000, whatever the machine's time zone.
    """
    try:
        return instants.parse_instant_ms(value)
    except ValueError:
        raise CrmProtocolError(f"Zoho sent {value!r} where a datetime was expected", crm=CRM) from None


def format_instant(ms: int) -> str:
    """Epoch ms as Zoho's datetime text in UTC, whole seconds: ``2024-03-11T07:00:00+00:00`` (the same
    under every time zone, case B09)."""
    return dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).isoformat()


def text_value(value: Any) -> str | None:
    """One JSON value as canonical text (see the module table)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return text_value(value.get(ID))
    if isinstance(value, list):
        return ";".join(t for v in value if (t := text_value(v)) is not None)
    return msgspec.json.encode(value).decode()


def _converted_contact(obj: Mapping[str, Any]) -> str | None:
    detail = obj.get(CONVERTED_DETAIL)
    if obj.get(CONVERTED) is not True or not isinstance(detail, dict):
        return None
    for key in ("contact", "Contacts", "Contact"):
        target = detail.get(key)
        found = text_value(target) if isinstance(target, str | dict | int) else None
        if found:
            return found
    return None


def record_from_wire(obj: Mapping[str, Any], object_type: ObjectType) -> CrmRecord:
    """A record of a list, search or get answer as a :class:`CrmRecord`.

    ``updated_at_ms`` is ``Modified_Time``; a Lead with ``$converted: true`` and a contact in
    ``$converted_detail`` is ``converted_to`` that Contact. Raises CrmProtocolError without ``id`` or a
    readable ``Modified_Time``.
    """
    record_id = text_value(obj.get(ID))
    if not record_id:
        raise CrmProtocolError(f"Zoho returned a {module(object_type)} record without an id", crm=CRM)
    updated = parse_instant_ms(obj.get(MODIFIED))
    if updated is None:
        raise CrmProtocolError(f"Zoho {module(object_type)} record {record_id} has no Modified_Time", crm=CRM)
    properties: dict[str, str | None] = {}
    for key, value in obj.items():
        if (key.startswith("$") and key != CONVERTED) or key == ID:
            continue
        properties[key] = text_value(value)
        if key == OWNER and isinstance(value, dict):
            properties["Owner.email"] = text_value(value.get("email"))
            properties["Owner.name"] = text_value(value.get("name"))
    contact = _converted_contact(obj) if object_type == "lead" else None
    return CrmRecord(
        object_type=object_type,
        id=record_id,
        properties=properties,
        updated_at_ms=updated,
        created_at_ms=parse_instant_ms(obj.get(CREATED)),
        converted_to_type="contact" if contact else None,
        converted_to_id=contact,
    )


def is_converted(record: CrmRecord) -> bool:
    """True for a converted Lead (``$converted: true``)."""
    return record.object_type == "lead" and record.properties.get(CONVERTED) == "true"


def record_email(record: CrmRecord) -> str | None:
    """The record's ``Email``, or None."""
    return record.properties.get(EMAIL) or None


def wire_value(text: str, data_type: str) -> tuple[Any, str | None]:
    """``(JSON value, None)`` for one input value of a field of Zoho ``data_type``, or ``(None, reason)``
    when the text cannot be that type.

    ``""`` -> null (clears the field). ``boolean``: ``true``/``false`` in any case; ``integer``/``bigint``:
    whole numbers; ``double``/``decimal``/``currency``/``percent``: numbers; ``multiselectpicklist``: a
    list split at ``;``; ``lookup``/``ownerlookup``: ``{"id": text}``; anything else: the text.
    """
    if text == "":
        return None, None
    stripped = text.strip()
    if data_type == "boolean":
        if stripped.lower() in ("true", "false"):
            return stripped.lower() == "true", None
        return None, f"{text!r} is not true or false"
    if data_type in _LOOKUPS:
        return {ID: stripped}, None
    if data_type == "multiselectpicklist":
        return [part for part in text.split(";") if part], None
    if _TYPES.get(data_type) == "number":
        if _INTEGER.fullmatch(stripped):
            return int(stripped), None
        try:
            number = float(stripped)
        except ValueError:
            return None, f"{text!r} is not a number"
        if not math.isfinite(number):
            return None, f"{text!r} is not a finite number"
        if data_type in _WHOLE:
            return (int(number), None) if number.is_integer() else (None, f"{text!r} is not a whole number")
        return number, None
    return text, None


def property_from_wire(field: Mapping[str, Any]) -> PropertyMeta:
    """One ``fields[]`` entry of ``GET /settings/fields?module=`` as a :class:`PropertyMeta`.

    ``type``: boolean -> bool; integer/bigint/double/decimal/currency/percent -> number; date, datetime;
    picklist and multiselectpicklist (``multi``) -> enumeration; text, email, phone, website, textarea,
    lookups and the rest -> string. ``required`` is ``system_mandatory`` (Leads: ``Last_Name``; case S13).
    ``read_only`` is ``read_only``/``field_read_only`` or a computed type (autonumber, formula...).
    ``unique`` is a ``unique`` setting that is present. ``options`` are the picklist's ``actual_value``s
    with their ``display_value`` (unused ones ``hidden``).
    """
    data_type = str(field.get("data_type") or "text")
    options = tuple(
        PropertyOption(value=str(p.get("actual_value")), label=str(p.get("display_value") or p.get("actual_value")),
                       hidden=p.get("type") == "unused")
        for p in field.get("pick_list_values") or () if isinstance(p, dict) and p.get("actual_value") is not None
    )
    unique = field.get("unique")
    return PropertyMeta(
        name=str(field.get("api_name")),
        label=str(field.get("field_label") or field.get("display_label") or field.get("api_name")),
        type=_TYPES.get(data_type, "string"),
        field_type=data_type,
        options=options,
        multi=data_type == "multiselectpicklist",
        required=field.get("system_mandatory") is True,
        read_only=field.get("read_only") is True or field.get("field_read_only") is True
        or data_type in _SYSTEM_READ_ONLY,
        unique=bool(unique) if isinstance(unique, dict | bool) else False,
    )


def owner_from_wire(user: Mapping[str, Any], *, active: bool) -> CrmOwner:
    """A ``users[]`` entry (``{id, email, first_name, last_name, status, role: {id, name}, ...}``) as a
    :class:`CrmOwner`; the role is the one team (Zoho's role hierarchy decides visibility)."""
    user_id = text_value(user.get(ID))
    if not user_id:
        raise CrmProtocolError("Zoho returned a user without an id", crm=CRM)
    role = user.get("role")
    role_id = text_value(role.get(ID)) if isinstance(role, dict) else None
    teams = (CrmTeam(id=role_id, name=str(role.get("name") or role_id), primary=True),) \
        if role_id and isinstance(role, dict) else ()
    return CrmOwner(
        id=user_id,
        email=str(user.get("email") or "").strip(),
        first_name=str(user.get("first_name") or ""),
        last_name=str(user.get("last_name") or ""),
        active=active and user.get("status") in (None, "active"),
        user_id=user_id,
        teams=teams,
    )


def data_of(answer: Any, key: str = "data") -> list[Mapping[str, Any]]:
    """The ``data`` (or ``users``, ``fields``...) list of an answer; [] for a 204 (None); CrmProtocolError
    for an answer without it."""
    if answer is None:
        return []
    if not isinstance(answer, dict) or not isinstance(answer.get(key), list):
        raise CrmProtocolError(f"Zoho answered without '{key}'", crm=CRM)
    return [item for item in answer[key] if isinstance(item, dict)]


def more_records(answer: Any) -> tuple[bool, str | None]:
    """``(info.more_records, info.next_page_token)`` of a list answer; ``(False, None)`` for a 204."""
    info = answer.get("info") if isinstance(answer, dict) else None
    if not isinstance(info, dict):
        return False, None
    token = info.get("next_page_token")
    return info.get("more_records") is True, token if isinstance(token, str) and token else None


def chunked(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size``."""
    return [list(items[n:n + size]) for n in range(0, len(items), size)]


def is_record_id(value: str) -> bool:
    """True for text that can be a Zoho record id (digits, at most 25)."""
    return value.isdigit() and len(value) <= 25


def nonempty_text(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None
