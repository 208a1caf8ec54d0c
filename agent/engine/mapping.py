"""Field mappings: which local field goes with which CRM property, in which direction, and who wins a
conflict. Values are converted by the CRM property's type from the CRM's own metadata (HubSpot:
``GET /crm/v3/properties/contacts``), never guessed from the value (case B18).

Local value types: text ``str``; number ``int`` or ``float``; bool ``bool``; date ``str`` ``YYYY-MM-DD``;
datetime ``int`` epoch ms UTC; enumeration ``str``; multi-select ``list[str]``. Locally a blank is ``None``;
on the HubSpot wire a blank is ``""`` (an outgoing ``""`` clears; ``null`` would be ignored, case B19).

Each CRM's default field mappings are in its spec (``agent/connectors/<crm>/spec.py``), collected as
``DEFAULT_MAPPINGS`` by :mod:`leadsync.agent.connectors.registry`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from leadsync.agent.connectors.base import PropertyMeta
from leadsync.common.answers import FieldMapping
from leadsync.common.instants import parse_instant_ms


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


_TYPED = frozenset({"number", "bool", "date", "datetime"})


def wire_reader(meta: PropertyMeta | None, mapping: FieldMapping | None = None) -> Callable[[Any], Any]:
    """:func:`from_wire` for one property: ``reader(value) == from_wire(value, meta, mapping)``, raising the
    same ConversionError, with the property's type and reverse value map worked out once (a pull converts
    every value of a page with the readers of its fields)."""
    kind = meta.type if meta else "string"
    if kind in _TYPED or (kind == "enumeration" and meta is not None and meta.multi):
        return partial(from_wire, meta=meta, mapping=mapping)
    reverse = {v: k for k, v in mapping.value_map.items()} if mapping and mapping.value_map else None
    if reverse is None:
        return _text
    return partial(_mapped_text, reverse)


def _text(value: Any) -> Any:
    return None if value is None or value == "" else value


def _mapped_text(reverse: dict[str, str], value: Any) -> Any:
    return None if value is None or value == "" else reverse.get(value, value)


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
