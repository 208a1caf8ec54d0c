"""Checks and normalises property values written through the API (create, update, upsert).

Follows HubSpot's CRM object APIs: unknown names -> ``PROPERTY_DOESNT_EXIST``; read-only ones ->
``READ_ONLY_VALUE``; invalid email syntax -> ``INVALID_EMAIL``; enumeration values must be option
values (case-sensitive; multi-select joined with ``;``) -> ``INVALID_OPTION``; non-string values
with leading/trailing whitespace -> ``LEADING_TRAILING_WHITESPACE`` (changelog "Enhanced
validations for non-string properties", 2025). ``null`` values are ignored; ``""`` clears.
Dates are stored ``YYYY-MM-DD`` (midnight UTC), datetimes as ISO-8601 instants.

Lifecycle stages only move forward through the API (HubSpot "Use lifecycle stages": to set an earlier
stage, clear the property first, then set it in a separate request; the order is the options' display
order, ``other`` outside it): an update or upsert that sets ``lifecyclestage`` to an earlier stage than
the contact has is refused (:func:`stage_problem`). HubSpot does not document the words of that refusal
(older APIs even answered 2xx and left the value as it was); the sandbox answers 400 with HubSpot's
``VALIDATION_ERROR`` body ("Property values were not valid: [...]") so that a client sees it. Clearing
(``""``) and then setting works; the CRM's own UI (the state's ``update_contact``) may set any stage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from .errors import PropertyProblem, bad_request
from .properties import PropertyDef
from .records import Contact
from .timefmt import ms_to_date, ms_to_iso, parse_date_ms, parse_instant_ms

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


def coerce_wire_value(value: Any) -> str | None:
    """Turn a JSON property value into HubSpot's string form (``True`` -> ``"true"``, ``5`` ->
    ``"5"``); ``None`` stays ``None``. Raises ``TypeError`` for lists/objects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(type(value).__name__)


def check_value(definition: PropertyDef, value: str, owner_ids: Collection[str]) -> tuple[str, PropertyProblem | None]:
    """Validate one non-null value; return ``(normalised value, problem or None)``."""
    name = definition.name
    if value == "":
        return "", None
    kind = definition.type
    if kind != "string" and value != value.strip():
        return value, PropertyProblem(
            name, "LEADING_TRAILING_WHITESPACE", f'"{value}" includes leading or trailing whitespace.'
        )
    if name == "email":
        stripped = value.strip()
        if not EMAIL_RE.match(stripped):
            return value, PropertyProblem(name, "INVALID_EMAIL", f"Email address {value} is invalid")
        return stripped, None
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            return value, PropertyProblem(name, "INVALID_NUMBER", f'"{value}" is not a valid number.')
        return value, None
    if kind == "bool":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            return value, PropertyProblem(name, "INVALID_BOOLEAN", f'"{value}" is not a valid boolean value.')
        return lowered, None
    if kind == "date":
        ms = parse_date_ms(value)
        if ms is None:
            return value, PropertyProblem(
                name, "INVALID_DATE", f'"{value}" is not a valid date; dates must be midnight UTC or YYYY-MM-DD.'
            )
        return ms_to_date(ms), None
    if kind == "datetime":
        ms = parse_instant_ms(value)
        if ms is None:
            return value, PropertyProblem(name, "INVALID_DATETIME", f'"{value}" is not a valid datetime.')
        return ms_to_iso(ms), None
    if kind == "enumeration":
        allowed = owner_ids if definition.owner_options else definition.option_values
        parts = [p for p in value.split(";") if p] if definition.multi_select else [value]
        bad = [p for p in parts if p not in allowed]
        if bad:
            listing = ", ".join(sorted(allowed))
            return value, PropertyProblem(
                name, "INVALID_OPTION", f'"{bad[0]}" was not one of the allowed options: [{listing}]'
            )
        return value, None
    return value, None


LIFECYCLE_STAGE = "lifecyclestage"
OUTSIDE_ORDER = frozenset({"other"})


def stage_problem(definition: PropertyDef | None, current: str | None, new: str | None) -> PropertyProblem | None:
    """Why setting ``lifecyclestage`` from ``current`` to ``new`` is refused (an earlier stage), or None."""
    if definition is None or not current or not new:
        return None
    order = {o.value: o.display_order for o in definition.options if o.value not in OUTSIDE_ORDER}
    if current not in order or new not in order or order[new] >= order[current]:
        return None
    return PropertyProblem(
        LIFECYCLE_STAGE, "INVALID_OPTION",
        f'"{new}" is an earlier lifecycle stage than "{current}": a lifecycle stage can only move forward; '
        'clear it ("") first to set an earlier one')


def stage_of(contact: Contact) -> dict[str, str | None]:
    """The values :func:`check_properties` checks an update of ``contact`` (a stored contact) against."""
    return {LIFECYCLE_STAGE: contact.get(LIFECYCLE_STAGE)}


def check_properties(
    raw: Any,
    defs: Mapping[str, PropertyDef],
    owner_ids: Collection[str],
    current: Mapping[str, str | None] | None = None,
) -> tuple[dict[str, str | None], list[PropertyProblem]]:
    """Validate a ``properties`` object from a request; ``current``: the values of the contact it updates
    (None for a new contact), against which a lifecycle stage may only move forward.

    Returns the normalised values to store (``null`` entries dropped) and the problems found.
    Raises ``HubSpotError`` (400) when ``raw`` is not a JSON object.
    """
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise bad_request("Invalid input JSON: 'properties' must be an object")
    values: dict[str, str | None] = {}
    problems: list[PropertyProblem] = []
    for name, raw_value in raw.items():
        definition = defs.get(name)
        if definition is None:
            problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
            continue
        try:
            value = coerce_wire_value(raw_value)
        except TypeError:
            problems.append(PropertyProblem(name, "INVALID_PROPERTY_VALUE", f'Property "{name}" must be a string'))
            continue
        if value is None:
            continue
        if definition.read_only_value:
            problems.append(
                PropertyProblem(
                    name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
                )
            )
            continue
        normalised, problem = check_value(definition, value, owner_ids)
        if problem is None and name == LIFECYCLE_STAGE and current is not None:
            problem = stage_problem(definition, current.get(name), normalised)
        if problem is not None:
            problems.append(problem)
        else:
            values[name] = normalised
    return values, problems
