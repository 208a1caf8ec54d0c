"""Compiling search filters (HubSpot "CRM search" guide, "Filter search results").

Operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN (``value``..``highValue``), IN / NOT_IN
(``values``), HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN / NOT_CONTAINS_TOKEN (``*``
wildcards). Values compare case-insensitively except for enumerations; IN/NOT_IN on strings take
lowercase values; numbers compare numerically; date/datetime filters take epoch ms or ISO-8601
(any offset). A record without a value matches NEQ, NOT_IN and NOT_HAS_PROPERTY only.
Filters on ``lastmodifieddate`` and ``hs_object_id`` are also compiled to run on search-index
keys, so most incremental-pull queries never build a record they do not return.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .properties import PropertyDef
from .records import Contact
from .search_index import ID_MASK, KEY_SHIFT
from .timefmt import parse_date_ms, parse_instant_ms

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_TOKEN_SPLIT = re.compile(r"[^0-9a-z@._+-]+|[\s]+")
_ALNUM_SPLIT = re.compile(r"[^0-9a-z]+")

Comparable = float | int | str
Predicate = Callable[[Any], bool]
"""A compiled filter over either a ``Contact`` or a search-index key (see ``Group``)."""


@dataclass(frozen=True, slots=True)
class Group:
    """One filter group, compiled.

    ``key_checks`` test a search-index key (``lastmodifieddate`` and ``hs_object_id`` filters, no
    record needed); ``contact_checks`` test the record. ``low``/``high``: inclusive
    ``lastmodifieddate`` ms bounds the group imposes; ``range_only``: its filters are exactly
    those bounds. ``emails``/``ids``: EQ/IN values that pin down the only possible matches.
    """

    key_checks: list[Predicate]
    contact_checks: list[Predicate]
    low: int | None
    high: int | None
    range_only: bool
    emails: list[str] | None
    ids: list[int] | None


def _kind(definition: PropertyDef) -> str:
    if definition.name in ("lastmodifieddate", "createdate"):
        return "instant"
    if definition.name == "hs_object_id":
        return "id"
    return {"number": "number", "datetime": "datetime", "date": "date", "bool": "bool"}.get(
        definition.type, "enum" if definition.type == "enumeration" else "string"
    )


def extractor(definition: PropertyDef) -> Callable[[Contact], Comparable | None]:
    """Return a function giving the comparable stored value of ``definition`` for a contact."""
    name = definition.name
    kind = _kind(definition)
    if name == "lastmodifieddate":
        return lambda c: c.updated_ms
    if name == "createdate":
        return lambda c: c.created_ms
    if kind == "id":
        return lambda c: c.id

    def extract(contact: Contact) -> Comparable | None:
        raw = contact.get(name)
        if raw is None or raw == "":
            return None
        if kind == "number":
            try:
                return float(raw)
            except ValueError:
                return None
        if kind == "datetime":
            return parse_instant_ms(raw)
        if kind == "date":
            return parse_date_ms(raw) or parse_instant_ms(raw)
        if kind == "enum":
            return raw
        return raw.lower()

    return extract


def _key_extractor(name: str) -> Callable[[int], Comparable | None] | None:
    """Extract ``lastmodifieddate`` or ``hs_object_id`` straight from a search-index key."""
    if name == "lastmodifieddate":
        return lambda key: key >> KEY_SHIFT
    if name == "hs_object_id":
        return lambda key: key & ID_MASK
    return None


def _operand(definition: PropertyDef, value: Any) -> Comparable:
    """Convert a filter value to the comparable form of ``definition``; 400 when impossible."""
    if value is None:
        raise bad_request(f"A value is required for a filter on '{definition.name}'.")
    text = str(value).strip() if not isinstance(value, bool) else ("true" if value else "false")
    kind = _kind(definition)
    if kind in ("instant", "datetime", "date"):
        ms = parse_instant_ms(text)
        if ms is None:
            raise bad_request(f"'{text}' is not a valid time value for property '{definition.name}'.")
        return ms
    if kind in ("number", "id"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise bad_request(f"'{text}' is not a valid number for property '{definition.name}'.")
        return int(number) if kind == "id" and number.is_integer() else number
    if kind == "enum":
        return text
    return text.lower()


def _tokens(text: str) -> set[str]:
    lowered = text.lower()
    tokens = {t for t in _TOKEN_SPLIT.split(lowered) if t}
    tokens.update(t for t in _ALNUM_SPLIT.split(lowered) if t)
    tokens.add(lowered)
    return tokens


def _predicate(
    definition: PropertyDef, raw_filter: Mapping[str, Any], extract: Callable[[Any], Comparable | None]
) -> Predicate:
    """Compile one filter into a predicate over whatever ``extract`` reads (contact or key)."""
    operator = str(raw_filter.get("operator"))
    if operator not in OPERATORS:
        raise bad_request(f"Unknown filter operator '{operator}'.")
    name = definition.name
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        want = operator == "HAS_PROPERTY"
        return lambda c: (extract(c) is not None) == want
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        needle = str(raw_filter.get("value", "")).lower()
        negate = operator == "NOT_CONTAINS_TOKEN"

        def contains(contact: Contact) -> bool:
            raw = contact.get(name)
            if not raw:
                return negate
            tokens = _tokens(raw)
            hit = (
                any(fnmatch.fnmatchcase(t, needle) for t in tokens) if "*" in needle else needle in tokens
            )
            return hit != negate

        return contains
    multi = definition.multi_select
    if operator in ("IN", "NOT_IN"):
        values = raw_filter.get("values")
        if not isinstance(values, list) or not values:
            raise bad_request(f"Operator {operator} needs a non-empty 'values' list.")
        wanted = {str(v) if _kind(definition) == "string" else _operand(definition, v) for v in values}
        negate = operator == "NOT_IN"

        def member(item: Any) -> bool:
            value = extract(item)
            if value is None:
                return negate
            if multi and isinstance(value, str):
                hit = any(part in wanted for part in value.split(";"))
            else:
                hit = value in wanted
            return hit != negate

        return member
    operand = _operand(definition, raw_filter.get("value"))
    if operator == "BETWEEN":
        high = _operand(definition, raw_filter.get("highValue"))
        return lambda c: (v := extract(c)) is not None and _le(operand, v) and _le(v, high)
    if operator in ("EQ", "NEQ"):
        negate = operator == "NEQ"

        def equal(item: Any) -> bool:
            value = extract(item)
            if value is None:
                return negate
            if multi and isinstance(value, str):
                hit = operand in value.split(";")
            else:
                hit = value == operand
            return hit != negate

        return equal
    compare: Callable[[Comparable, Comparable], bool] = {
        "LT": lambda a, b: _lt(a, b),
        "LTE": lambda a, b: _le(a, b),
        "GT": lambda a, b: _lt(b, a),
        "GTE": lambda a, b: _le(b, a),
    }[operator]
    return lambda c: (v := extract(c)) is not None and compare(v, operand)


def _pins(name: str, raw_filter: Mapping[str, Any]) -> list[str] | None:
    """EQ/IN values of an ``email`` or ``hs_object_id`` filter (the only records that can match)."""
    if name not in ("email", "hs_object_id"):
        return None
    operator = raw_filter.get("operator")
    if operator == "EQ":
        return [str(raw_filter.get("value", ""))]
    if operator == "IN" and isinstance(raw_filter.get("values"), list):
        return [str(v) for v in raw_filter["values"]]
    return None


def _lt(a: Comparable, b: Comparable) -> bool:
    if isinstance(a, str) != isinstance(b, str):
        return str(a) < str(b)
    return a < b  # type: ignore[operator]


def _le(a: Comparable, b: Comparable) -> bool:
    return not _lt(b, a)


def _time_bounds(raw_filter: Mapping[str, Any]) -> tuple[int | None, int | None] | None:
    """Inclusive ms bounds a ``lastmodifieddate`` filter imposes, or ``None`` if it is not a range."""
    operator = str(raw_filter.get("operator"))
    value = parse_instant_ms(str(raw_filter.get("value", "")))
    if value is None:
        return None
    if operator == "GT":
        return value + 1, None
    if operator == "GTE":
        return value, None
    if operator == "LT":
        return None, value - 1
    if operator == "LTE":
        return None, value
    if operator == "EQ":
        return value, value
    if operator == "BETWEEN":
        high = parse_instant_ms(str(raw_filter.get("highValue", "")))
        return (value, high) if high is not None else None
    return None


def compile_group(filters: list[Any], defs: Mapping[str, PropertyDef]) -> Group:
    key_checks: list[Predicate] = []
    contact_checks: list[Predicate] = []
    low: int | None = None
    high: int | None = None
    range_only = True
    emails: list[str] | None = None
    ids: list[int] | None = None
    for raw_filter in filters:
        if not isinstance(raw_filter, dict):
            raise bad_request("Each filter must be an object.")
        name = str(raw_filter.get("propertyName", ""))
        definition = defs.get(name)
        if definition is None:
            raise bad_request(f"Unable to filter by unknown property '{name}'.", context={"propertyName": [name]})
        contact_predicate = _predicate(definition, raw_filter, extractor(definition))
        key_extract = _key_extractor(name)
        token_filter = str(raw_filter.get("operator", "")).endswith("CONTAINS_TOKEN")
        if key_extract is not None and not token_filter:
            key_checks.append(_predicate(definition, raw_filter, key_extract))
        else:
            contact_checks.append(contact_predicate)
        bounds = _time_bounds(raw_filter) if name == "lastmodifieddate" else None
        if bounds is None:
            range_only = False
        else:
            if bounds[0] is not None:
                low = bounds[0] if low is None else max(low, bounds[0])
            if bounds[1] is not None:
                high = bounds[1] if high is None else min(high, bounds[1])
        pins = _pins(name, raw_filter)
        if pins is not None and name == "email":
            emails = pins
        elif pins is not None:
            ids = [int(p) for p in pins if p.isdigit()]
    return Group(key_checks, contact_checks, low, high, range_only, emails, ids)
