"""Checking record bodies the way Salesforce does, in two stages.

1. Reading the JSON (:func:`read_values`): an unknown field answers 400 ``INVALID_FIELD`` ("No such
   column 'X' on sobject of type Lead") and a value of the wrong JSON type 400 ``JSON_PARSER_ERROR``, for
   the whole request, sObject Collections included (the body could not be read). The sandbox is stricter
   than Salesforce here: booleans must be JSON booleans and numbers JSON numbers, never strings.
2. Saving each record (:func:`record_problems`): per record, so in a collection only that record fails
   (``REQUIRED_FIELD_MISSING`` "Required fields are missing: [Company]", ``INVALID_EMAIL_ADDRESS``,
   ``STRING_TOO_LONG``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``INVALID_FIELD_FOR_INSERT_UPDATE``,
   ``INVALID_CROSS_REFERENCE_KEY``, ``INACTIVE_OWNER_OR_USER``, ``CANNOT_UPDATE_CONVERTED_LEAD``,
   ``ENTITY_IS_DELETED``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .errors import Problem, SalesforceError, error
from .ids import CONTACT_PREFIX, QUEUE_PREFIX, USER_PREFIX, is_id, to18
from .schema import NUMBER_TYPES, FieldDef, ObjectDef
from .timefmt import parse_date, parse_instant, to_second

if TYPE_CHECKING:
    from .state import Row, SandboxState

EMAIL_RE: Final = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                             r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
_TEXT_TYPES: Final = frozenset({"string", "email", "phone", "url", "textarea", "picklist", "multipicklist",
                                "combobox"})

Values = dict[str, Any]
"""Field name (schema spelling) -> stored value (dateTimes as epoch ms)."""


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, str):
        return "VALUE_STRING"
    return "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"


def _parser_error(field: FieldDef, value: Any) -> SalesforceError:
    wanted = {"boolean": "boolean", "double": "double", "currency": "double", "percent": "double", "int": "int",
              "date": "date", "datetime": "datetime"}.get(field.type, "string")
    return error(400, "JSON_PARSER_ERROR",
                 f"Cannot deserialize instance of {wanted} from {_json_kind(value)} value {value!r} or request "
                 f"may be missing a required field (field {field.name})")


def _convert(field: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    kind = field.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _parser_error(field, value)
        return value
    if kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _parser_error(field, value)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise _parser_error(field, value)
            return int(value)
        return float(value)
    if not isinstance(value, str):
        if kind in _TEXT_TYPES and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # Salesforce reads a JSON number into a text field
        raise _parser_error(field, value)
    if kind == "date":
        day = parse_date(value)
        if day is None:
            raise _parser_error(field, value)
        return day
    if kind == "datetime":
        instant = parse_instant(value)
        if instant is None:
            raise _parser_error(field, value)
        return to_second(instant)
    return value


def read_values(obj: ObjectDef, body: Mapping[str, Any], *, allow_id: bool) -> tuple[str | None, Values]:
    """``(Id or None, values)`` of one record body (``attributes`` ignored). Raises 400 for the whole
    request: ``INVALID_FIELD`` for an unknown field (or an ``Id`` where none is allowed),
    ``JSON_PARSER_ERROR`` for a value of the wrong JSON type."""
    record_id: str | None = None
    values: Values = {}
    for key, value in body.items():
        if key == "attributes":
            continue
        field = obj.field(str(key))
        if field is None:
            raise error(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
        if field.name == "Id":
            if not allow_id:
                raise error(400, "INVALID_FIELD", "Id not allowed in this request body", ["Id"])
            record_id = value if isinstance(value, str) else None
            continue
        values[field.name] = _convert(field, value)
    return record_id, values


def record_problems(state: SandboxState, obj: ObjectDef, values: Values, *, row: Row | None) -> list[Problem]:
    """Why saving ``values`` (a create when ``row`` is None, else an update of ``row``) is refused; [] when
    it may be saved. The caller holds ``state.lock``."""
    creating = row is None
    problems: list[Problem] = []
    if row is not None:
        if row.get("IsDeleted"):
            return [Problem("ENTITY_IS_DELETED", "entity is deleted")]
        if obj.name == "Lead" and row.get("IsConverted"):
            return [Problem("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")]
    locked = [name for name in values if not _writable(obj.field(name), creating)]
    if locked:
        problems.append(Problem("INVALID_FIELD_FOR_INSERT_UPDATE",
                                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                                "settings of this field and verify that it is read/write for your profile or "
                                "permission set.", tuple(locked)))
    missing = [f.name for f in obj.fields
               if f.required and (values.get(f.name) in (None, "") if creating or f.name in values else False)]
    if missing:
        problems.append(Problem("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                tuple(missing)))
    for name, value in values.items():
        field = obj.field(name)
        if field is None or value is None or name in locked:
            continue
        problem = _value_problem(state, obj, field, value)
        if problem is not None:
            problems.append(problem)
    return problems


def _writable(field: FieldDef | None, creating: bool) -> bool:
    return field is not None and (field.createable if creating else field.updateable)


def _value_problem(state: SandboxState, obj: ObjectDef, field: FieldDef, value: Any) -> Problem | None:
    if field.type == "email" and not EMAIL_RE.fullmatch(str(value)):
        return Problem("INVALID_EMAIL_ADDRESS", f"{field.label}: invalid email address: {value}", (field.name,))
    if field.type in _TEXT_TYPES and field.length and len(str(value)) > field.length:
        shown = str(value)[:40] + ("..." if len(str(value)) > 40 else "")
        return Problem("STRING_TOO_LONG", f"{field.label}: data value too large: {shown} (max length={field.length})",
                       (field.name,))
    # a picklist value is checked against its values only, in no order: Salesforce sets a Lead's Status back
    # through the API like any other (unlike HubSpot's lifecycle stage there is no forward-only rule)
    if field.restricted and field.type in ("picklist", "multipicklist"):
        chosen = [v for v in str(value).split(";") if v] if field.type == "multipicklist" else [str(value)]
        bad = [v for v in chosen if v not in field.picklist]
        if bad:
            return Problem("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           f"{field.label}: bad value for restricted picklist field: {bad[0]}", (field.name,))
    if field.type == "reference":
        return _reference_problem(state, obj, field, str(value))
    return None


def _reference_problem(state: SandboxState, obj: ObjectDef, field: FieldDef, value: str) -> Problem | None:
    if not is_id(value):
        return Problem("MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", (field.name,))
    if field.name == "OwnerId":
        if value[:3] == QUEUE_PREFIX and "Group" in field.reference_to:
            return None
        user = state.lookup(to18(value)) if value[:3] == USER_PREFIX else None
        if user is None:
            return Problem("INVALID_CROSS_REFERENCE_KEY", f"{field.label}: invalid cross reference id", (field.name,))
        if user.get("IsActive") is False:
            return Problem("INACTIVE_OWNER_OR_USER",
                           f"operation performed with inactive user [{user['Id']}] as owner of {obj.name.lower()}")
        return None
    if value[:3] == CONTACT_PREFIX and state.lookup(to18(value)) is None:
        return Problem("INVALID_CROSS_REFERENCE_KEY", f"{field.label}: invalid cross reference id", (field.name,))
    return None
