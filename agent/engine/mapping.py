"""Field mappings: which local field goes with which CRM property, in which direction, and who wins a
conflict. Values are converted by the CRM property's type from the CRM's own metadata (HubSpot:
``GET /crm/v3/properties/contacts``), never guessed from the value (case B18).

Local value types: text ``str``; number ``int`` or ``float``; bool ``bool``; date ``str`` ``YYYY-MM-DD``;
datetime ``int`` epoch ms UTC; enumeration ``str``; multi-select ``list[str]``. Locally a blank is ``None``;
on the HubSpot wire a blank is ``""`` (an outgoing ``""`` clears; ``null`` would be ignored, case B19).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from leadsync.agent.connectors.base import PropertyMeta
from leadsync.common.answers import FieldMapping
from leadsync.common.instants import parse_instant_ms

HUBSPOT_DEFAULTS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="firstname"),
    FieldMapping(local="last_name", crm="lastname"),
    FieldMapping(local="company", crm="company"),
    FieldMapping(local="job_title", crm="jobtitle"),
    FieldMapping(local="phone", crm="phone"),
    FieldMapping(local="lifecycle_stage", crm="lifecyclestage", policy="crm_wins"),
    FieldMapping(local="lead_score", crm="lead_score", policy="local_wins"),
)

SALESFORCE_DEFAULTS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="Email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="FirstName"),
    FieldMapping(local="last_name", crm="LastName"),
    FieldMapping(local="company", crm="Company"),  # Leads only: a Contact's company is its Account
    FieldMapping(local="job_title", crm="Title"),
    FieldMapping(local="phone", crm="Phone"),
    FieldMapping(local="lifecycle_stage", crm="Status", policy="crm_wins",  # Lead Status; Leads only
                 value_map={"lead": "Open - Not Contacted", "salesqualifiedlead": "Working - Contacted",
                            "customer": "Closed - Converted", "other": "Closed - Not Converted"}),
    FieldMapping(local="lead_score", crm="Lead_Score__c", policy="local_wins"),
)

ZOHO_DEFAULTS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="Email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="First_Name"),
    FieldMapping(local="last_name", crm="Last_Name"),
    FieldMapping(local="company", crm="Company"),  # Leads only
    FieldMapping(local="job_title", crm="Designation", crm_by_object={"contact": "Title"}),
    FieldMapping(local="phone", crm="Phone"),
    FieldMapping(local="lifecycle_stage", crm="Lead_Status", policy="crm_wins",  # Leads only
                 value_map={"lead": "Not Contacted", "marketingqualifiedlead": "Contacted",
                            "salesqualifiedlead": "Pre-Qualified", "other": "Not Qualified"}),
    FieldMapping(local="lead_score", crm="Lead_Score", policy="local_wins"),  # a custom number field on both
)

AUTOTASK_DEFAULTS: tuple[FieldMapping, ...] = (  # no standard fields for lifecycle stage or lead score
    FieldMapping(local="email", crm="emailAddress", policy="crm_wins"),
    FieldMapping(local="first_name", crm="firstName"),
    FieldMapping(local="last_name", crm="lastName"),
    # the contact's Company, found or created by name; a change on an existing contact is refused
    FieldMapping(local="company", crm="companyName", policy="crm_wins"),
    FieldMapping(local="job_title", crm="title"),
    FieldMapping(local="phone", crm="phone"),
)

DEFAULT_MAPPINGS: dict[str, tuple[FieldMapping, ...]] = {"hubspot": HUBSPOT_DEFAULTS,
                                                         "salesforce": SALESFORCE_DEFAULTS,
                                                         "zoho": ZOHO_DEFAULTS,
                                                         "autotask": AUTOTASK_DEFAULTS}


class ConversionError(ValueError):
    """A value that does not fit the property's type; the message names property and value."""


def from_wire(value: str | None, meta: PropertyMeta | None, mapping: FieldMapping | None = None) -> Any:
    """A CRM wire value (HubSpot: always text) -> the local typed value; ``""``/None -> None.

    Raises ConversionError for a value that does not parse as the property's type.
    """
    if value is None or value == "":
        return None
    kind = meta.type if meta else "string"
    name = meta.name if meta else "?"
    try:
        if kind == "number":
            number = float(value)
            if number.is_integer() and not any(c in value for c in ".eE"):
                return int(value)
            return number
        if kind == "bool":
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(value)
            return lowered == "true"
        if kind == "date":
            return _parse_date(value)
        if kind == "datetime":
            return _parse_datetime_ms(value)
    except (ValueError, OverflowError):
        raise ConversionError(f"{name}: {value!r} is not a valid {kind}") from None
    reverse = {v: k for k, v in mapping.value_map.items()} if mapping and mapping.value_map else {}
    if kind == "enumeration" and meta is not None and meta.multi:
        return [reverse.get(part, part) for part in value.split(";") if part != ""]
    return reverse.get(value, value)


def to_wire(value: Any, meta: PropertyMeta | None, mapping: FieldMapping | None = None) -> str:
    """A local typed value -> the HubSpot wire text; None -> ``""`` (clears the property).

    Raises ConversionError when the value does not fit the property's type."""
    if value is None:
        return ""
    kind = meta.type if meta else "string"
    name = meta.name if meta else "?"
    value_map = mapping.value_map if mapping else {}
    if isinstance(value, list):
        return ";".join(value_map.get(str(v), str(v)) for v in value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConversionError(f"{name}: {value!r} is not true or false")
        return "true" if value else "false"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "number":
        if not isinstance(value, (int, float)):
            try:
                value = float(value)
            except ValueError:
                raise ConversionError(f"{name}: {value!r} is not a number") from None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if kind == "date":  # midnight UTC as epoch ms, as HubSpot stores dates
        try:
            day = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ConversionError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None
        return str(int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000))
    if kind == "datetime":
        if isinstance(value, int):
            return str(value)
        try:
            return str(_parse_datetime_ms(str(value)))
        except ValueError:
            raise ConversionError(f"{name}: {value!r} is not a date-time") from None
    text = str(value)
    return value_map.get(text, text)


def _parse_date(value: str) -> str:
    if value.lstrip("-").isdigit():  # HubSpot sends dates as epoch ms of midnight UTC
        return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC).date().isoformat()
    return dt.date.fromisoformat(value[:10]).isoformat()


def _parse_datetime_ms(value: str) -> int:
    ms = parse_instant_ms(value)
    if ms is None:
        raise ValueError("a blank is not a date-time")
    return ms
