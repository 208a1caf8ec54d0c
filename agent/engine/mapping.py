"""Field mappings: which local field goes with which CRM property, in which direction.

Values are converted by the CRM property's type (from the CRM's own metadata), never guessed from
the value. Locally a blank is ``None``; on the HubSpot wire a blank is ``""`` (an outgoing ``""``
clears the property; ``null`` would be ignored by HubSpot, case B19).

Local value types: text ``str``; number ``int`` or ``float``; bool ``bool``; date ``str`` ``YYYY-MM-DD``;
datetime ``int`` epoch ms UTC; enumeration ``str``; multi-select ``list[str]``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec
from leadsync.agent.connectors.base import PropertyMeta

Direction = Literal["two_way", "to_crm", "from_crm", "off"]


class FieldMapping(msgspec.Struct, frozen=True, kw_only=True):
    """One local field <-> one CRM property."""

    local: str
    crm: str
    direction: Direction = "two_way"

    @property
    def pulls(self) -> bool:
        return self.direction in ("two_way", "from_crm")

    @property
    def pushes(self) -> bool:
        return self.direction in ("two_way", "to_crm")


HUBSPOT_DEFAULTS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="email"),
    FieldMapping(local="first_name", crm="firstname"),
    FieldMapping(local="last_name", crm="lastname"),
    FieldMapping(local="company", crm="company"),
    FieldMapping(local="job_title", crm="jobtitle"),
    FieldMapping(local="phone", crm="phone"),
    FieldMapping(local="lifecycle_stage", crm="lifecyclestage"),
    FieldMapping(local="lead_score", crm="lead_score"),
)

DEFAULT_MAPPINGS: dict[str, tuple[FieldMapping, ...]] = {"hubspot": HUBSPOT_DEFAULTS}


class ConversionError(ValueError):
    """A wire value that does not fit the property's type; the message names property and value."""


def from_wire(value: str | None, meta: PropertyMeta | None) -> Any:
    """A CRM wire value (HubSpot: always text) -> the local typed value; ``""``/None -> None.

    Raises ConversionError for a value that does not parse as the property's type.
    """
    if value is None or value == "":
        return None
    kind = meta.type if meta else "string"
    try:
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() \
                else number
        if kind == "bool":
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(value)
            return lowered == "true"
        if kind == "date":
            return _parse_date(value)
        if kind == "datetime":
            return _parse_datetime_ms(value)
        if kind == "enumeration" and meta is not None and meta.multi:
            return [part for part in value.split(";") if part != ""]
    except ValueError:
        name = meta.name if meta else "?"
        raise ConversionError(f"{name}: {value!r} is not a valid {kind}") from None
    return value


def to_wire(value: Any, meta: PropertyMeta | None) -> str:
    """A local typed value -> the HubSpot wire text; None -> ``""`` (clears the property)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    kind = meta.type if meta else "string"
    if kind == "date" and isinstance(value, int):
        return str(value)
    return str(value)


def _parse_date(value: str) -> str:
    if value.isdigit():  # HubSpot sends dates as epoch ms of midnight UTC
        return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC).date().isoformat()
    return dt.date.fromisoformat(value[:10]).isoformat()


def _parse_datetime_ms(value: str) -> int:
    if value.lstrip("-").isdigit():
        return int(value)
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)
