"""Autotask query filters evaluated on stored rows.

A filter is a list of conditions, all of which must hold; a condition is ``{"op", "field", "value"}`` or a
group ``{"op": "and"|"or", "items": [...]}`` ("Making basic query calls to the REST API"). Operators:
``eq``, ``noteq``, ``gt``, ``gte``, ``lt``, ``lte``, ``beginsWith``, ``endsWith``, ``contains``, ``exist``,
``notExist``, ``in``, ``notIn``. Text compares without regard to case (SQL Server's collation), datetimes
by the instant they denote, whatever offset either side is written with.

:func:`check` raises :class:`FilterError` (answered 500 with ``{"errors": [...]}``, as Autotask answers
a malformed query) for an unknown operator or field; a ``value`` list longer than 500 is refused as
"more than 500 OR conditions".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

MAX_OR: Final = 500
_OPS: Final = frozenset({"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains", "exist",
                         "notexist", "in", "notin", "and", "or"})


class FilterError(ValueError):
    """A filter the API would refuse; the message is Autotask's kind of reason."""


def instant(text: str) -> dt.datetime:
    """A datetime text as an aware instant (no zone: UTC; up to 7 fractional digits)."""
    head, dot, rest = text.strip().partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        rest = digits[:6] + rest[len(digits):]
        text = f"{head}.{rest}"
    value = dt.datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _comparable(value: Any, data_type: str) -> Any:
    if value is None:
        return None
    if data_type == "datetime":
        return instant(str(value))
    if data_type in ("integer", "long", "decimal", "double", "short"):
        return float(value)
    if data_type == "boolean":
        return str(value).lower() in ("true", "1")
    return str(value).casefold()


def check(conditions: Any, fields: Mapping[str, Mapping[str, Any]]) -> None:
    """Validate a filter (see the module docstring); FilterError says what is wrong."""
    if not isinstance(conditions, list) or not conditions:
        raise FilterError("A filter is required: give at least one condition.")
    for condition in conditions:
        if not isinstance(condition, dict):
            raise FilterError("Each filter condition must be an object.")
        op = str(condition.get("op", "")).lower()
        if op not in _OPS:
            raise FilterError(f"Invalid filter operator '{condition.get('op')}'.")
        if op in ("and", "or"):
            check(condition.get("items"), fields)
            continue
        name = str(condition.get("field", "")).lower()
        if name not in fields:
            raise FilterError(f"Unable to find field '{condition.get('field')}' in the entity.")
        value = condition.get("value")
        if op in ("in", "notin") and (not isinstance(value, list) or len(value) > MAX_OR):
            raise FilterError("Queries are limited to 500 or fewer 'OR' conditions." if isinstance(value, list)
                              else f"The '{op}' operator needs a list of values.")
        if op not in ("exist", "notexist", "in", "notin") and value is None:
            raise FilterError(f"The '{condition.get('op')}' operator needs a value.")
        if fields[name]["dataType"] == "datetime" and isinstance(value, str):
            try:
                instant(value)
            except ValueError:
                raise FilterError(f"'{value}' is not a valid date for field '{condition.get('field')}'.") from None


def _test(op: str, have: Any, want: Any) -> bool:
    tests: dict[str, Callable[[], bool]] = {
        "eq": lambda: have == want, "noteq": lambda: have != want,
        "gt": lambda: have is not None and have > want, "gte": lambda: have is not None and have >= want,
        "lt": lambda: have is not None and have < want, "lte": lambda: have is not None and have <= want,
        "beginswith": lambda: isinstance(have, str) and have.startswith(want),
        "endswith": lambda: isinstance(have, str) and have.endswith(want),
        "contains": lambda: isinstance(have, str) and want in have,
    }
    return tests[op]()


Predicate = Callable[[Mapping[str, Any]], bool]


def predicate(conditions: list[dict[str, Any]], fields: Mapping[str, Mapping[str, Any]], *,
              any_of: bool = False) -> Predicate:
    """The (checked) filter as a test of one row; ``any_of`` for an ``or`` group. Values are converted
    once, here, not per row."""
    tests = [_compiled(c, fields) for c in conditions]
    if any_of:
        return lambda row: any(test(row) for test in tests)
    return lambda row: all(test(row) for test in tests)


def _compiled(condition: dict[str, Any], fields: Mapping[str, Mapping[str, Any]]) -> Predicate:
    op = str(condition["op"]).lower()
    if op in ("and", "or"):
        return predicate(condition["items"], fields, any_of=op == "or")
    meta = fields[str(condition["field"]).lower()]
    name, kind = str(meta["name"]), str(meta["dataType"])

    def have(row: Mapping[str, Any]) -> Any:
        return _comparable(row.get(name), kind)

    if op in ("exist", "notexist"):
        wanted = op == "exist"
        return lambda row: (have(row) not in (None, "")) == wanted
    if op in ("in", "notin"):
        values = {_comparable(v, kind) for v in condition.get("value") or []}
        inside = op == "in"
        return lambda row: (have(row) in values) == inside
    want = _comparable(condition["value"], kind)

    def test(row: Mapping[str, Any]) -> bool:
        try:
            return _test(op, have(row), want)
        except TypeError:
            return False

    return test
