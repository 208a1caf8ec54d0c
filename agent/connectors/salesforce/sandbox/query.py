"""Running a parsed SOQL query against the sandbox's records, with Salesforce's semantics:

- field names and relationship paths resolve in any case to the schema's spelling, which is what the
  answer uses; an unknown field is 400 ``INVALID_FIELD`` ("No such column ..."), an unknown object 400
  ``INVALID_TYPE``, a field selected twice 400 ``MALFORMED_QUERY`` ("duplicate field selected");
- a value must suit its field: dateTime and date literals unquoted, strings quoted, numbers and
  booleans bare; otherwise 400 ``INVALID_FIELD`` ("value of filter criterion for field 'X' must be of
  type dateTime and should not be enclosed in quotes");
- text compares without regard to case (``=``, ``IN``, ``LIKE``, ordering); ids compare by their
  case-sensitive 15-character form, so 15- and 18-character ids match; ``!=`` and ``NOT IN`` keep rows
  whose value is null;
- ``ORDER BY`` puts nulls first unless ``NULLS LAST``; rows without ``ORDER BY`` come in id order;
- ``query`` never returns rows in the Recycle Bin, ``queryAll`` does (``IsDeleted = true``).

Rows are projected to the answer's JSON at query time (a snapshot, as a query locator is): ``{"attributes":
{"type", "url"}, Field: value, Relationship: {"attributes": ..., Field: value} | null}`` with dateTimes as
``2024-03-11T07:30:00.000+0000``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import error, invalid_field, malformed_query
from .ids import key15
from .schema import NUMBER_TYPES, FieldDef, ObjectDef, object_def
from .soql import Compare, Condition, InList, Junction, Like, Literal, Not, OrderItem, Query
from .timefmt import ms_to_wire

if TYPE_CHECKING:
    from .state import Row, SandboxState

Predicate = Callable[["Row"], bool]
_ID_TYPES = frozenset({"id", "reference"})
_WANTED_KIND = {"boolean": "boolean", "datetime": "datetime", "date": "date"}


@dataclass(frozen=True, slots=True)
class Resolved:
    """A field path resolved against the schema: the reference fields to follow, then the field."""

    hops: tuple[FieldDef, ...]
    field: FieldDef
    target: ObjectDef

    @property
    def path(self) -> str:
        names = [hop.relationship_name or hop.name for hop in self.hops]
        return ".".join([*names, self.field.name])


def resolve(obj: ObjectDef, path: str) -> Resolved:
    """Resolve ``path`` (``Email``, ``Owner.Email``) on ``obj``; 400 ``INVALID_FIELD`` when it does not exist."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0].lower() == obj.name.lower():
        parts = parts[1:]
    current = obj
    hops: list[FieldDef] = []
    for part in parts[:-1]:
        ref = current.relationship(part)
        target = object_def(ref.reference_to[-1]) if ref is not None and ref.reference_to else None
        if ref is None or target is None:
            raise invalid_field(f"Didn't understand relationship '{part}' in field path. If you are attempting "
                                "to use a custom relationship, be sure to append the '__r' after the custom "
                                "relationship name.")
        hops.append(ref)
        current = target
    field = current.field(parts[-1])
    if field is None:
        raise invalid_field(f"No such column '{parts[-1]}' on entity '{current.name}'. If you are attempting to "
                            "use a custom field, be sure to append the '__c' after the custom field name.")
    return Resolved(tuple(hops), field, current)


def _type_name(field: FieldDef) -> str:
    return {"datetime": "dateTime", "int": "integer"}.get(field.type, field.type)


def _check_literal(field: FieldDef, literal: Literal) -> None:
    if literal.kind == "null":
        return
    wanted = _WANTED_KIND.get(field.type, "number" if field.type in NUMBER_TYPES else "string")
    if literal.kind != wanted:
        quoted = "should be enclosed in quotes" if wanted == "string" else "should not be enclosed in quotes"
        raise invalid_field(f"value of filter criterion for field '{field.name}' must be of type "
                            f"{_type_name(field)} and {quoted}")


def _norm(field: FieldDef, value: Any) -> Any:
    """A stored or literal value in the form it compares in."""
    if value is None:
        return None
    if field.type in _ID_TYPES:
        return key15(str(value))
    if field.type in NUMBER_TYPES:
        return float(value)
    if isinstance(value, str):
        return value.lower()
    return value


class QueryRunner:
    """Runs one parsed query against ``state`` (the caller holds ``state.lock``)."""

    def __init__(self, state: SandboxState, query: Query, *, include_deleted: bool, version: str) -> None:
        obj = object_def(query.object_name)
        if obj is None:
            raise error(400, "INVALID_TYPE", f"sObject type '{query.object_name}' is not supported. If you are "
                        "attempting to use a custom object, be sure to append the '__c' after the entity name.")
        self.state = state
        self.obj = obj
        self.query = query
        self.include_deleted = include_deleted
        self.version = version
        self.selects = [resolve(obj, path) for path in query.fields]
        seen: set[str] = set()
        for res in self.selects:
            if res.path.lower() in seen:
                raise malformed_query(f"duplicate field selected: {res.path}")
            seen.add(res.path.lower())
        self.predicate = self._compile(query.where) if query.where is not None else None
        self.order = [(resolve(obj, item.path), item) for item in query.order]

    def getter(self, res: Resolved) -> Callable[[Row], Any]:
        """A function reading the (raw, stored) value of ``res`` from a row of the queried object."""
        name = res.field.name
        if not res.hops:
            return lambda row: row.get(name)
        hops = res.hops

        def get(row: Row) -> Any:
            current: Row | None = row
            for hop in hops:
                target_id = current.get(hop.name) if current is not None else None
                current = self.state.lookup(target_id) if target_id else None
                if current is None:
                    return None
            return None if current is None else current.get(name)

        return get

    def _compile(self, cond: Condition) -> Predicate:
        if isinstance(cond, Junction):
            parts = [self._compile(item) for item in cond.items]
            if cond.op == "and":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, Not):
            inner = self._compile(cond.item)
            return lambda row: not inner(row)
        res = resolve(self.obj, cond.path)
        field = res.field
        get = self.getter(res)
        if isinstance(cond, Like):
            if field.type not in ("string", "email", "phone", "url", "textarea", "picklist", "combobox"):
                raise invalid_field(f"invalid operator on field '{field.name}': LIKE works on text fields only")
            regex = cond.regex
            return lambda row: (v := get(row)) is not None and regex.fullmatch(str(v)) is not None
        if isinstance(cond, InList):
            for literal in cond.values:
                _check_literal(field, literal)
            wanted = {_norm(field, lit.value) for lit in cond.values}
            if cond.negate:
                return lambda row: _norm(field, get(row)) not in wanted
            return lambda row: (v := _norm(field, get(row))) is not None and v in wanted
        assert isinstance(cond, Compare)
        _check_literal(field, cond.value)
        op = cond.op
        if field.type == "boolean" and op not in ("=", "!="):
            raise invalid_field(f"invalid operator on boolean field '{field.name}': {op}")
        if cond.value.kind == "null" and op not in ("=", "!="):
            raise malformed_query(f"invalid operator with null: {op}")
        lit = _norm(field, cond.value.value)
        if op == "=":
            return lambda row: _norm(field, get(row)) == lit
        if op == "!=":
            return lambda row: _norm(field, get(row)) != lit
        compare: Callable[[Any, Any], bool] = {
            "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }[op]
        return lambda row: (v := _norm(field, get(row))) is not None and compare(v, lit)

    def rows(self) -> list[Row]:
        """Matching rows, ordered, offset and limited (raw rows; :meth:`project` renders them)."""
        rows = [row for row in self.state.table(self.obj.name).all_rows(include_deleted=self.include_deleted)
                if self.predicate is None or self.predicate(row)]
        for res, item in reversed(self.order):
            rows.sort(key=self._sort_key(res, item), reverse=item.descending)
        start = self.query.offset or 0
        end = None if self.query.limit is None else start + self.query.limit
        return rows[start:end]

    def _sort_key(self, res: Resolved, item: OrderItem) -> Callable[[Row], tuple[int, Any]]:
        get = self.getter(res)
        field = res.field
        # nulls first unless NULLS LAST, whatever the direction (the sort may run reversed)
        null_rank = (1 if not item.nulls_last else 0) if item.descending else (0 if not item.nulls_last else 1)

        def key(row: Row) -> tuple[int, Any]:
            value = _norm(field, get(row))
            return (null_rank, None) if value is None else (1 - null_rank, value)

        return key

    def project(self, row: Row) -> dict[str, Any]:
        """A row as the answer's JSON record."""
        out = self.state.attributes(self.obj, row, self.version)
        for res in self.selects:
            container = out
            current: Row | None = row
            for hop in res.hops:
                key = hop.relationship_name or hop.name
                target_id = current.get(hop.name) if current is not None else None
                target = self.state.lookup(target_id) if target_id else None
                if target is None:
                    container.setdefault(key, None)
                    current = None
                    break
                nested = container.get(key)
                if not isinstance(nested, dict):
                    target_obj = self.state.object_of(target)
                    nested = self.state.attributes(target_obj, target, self.version)
                    container[key] = nested
                container, current = nested, target
            if current is not None:
                container[res.field.name] = wire_value(res.field, current.get(res.field.name))
        return out

    def run(self) -> list[dict[str, Any]]:
        """Every matching row, projected."""
        return [self.project(row) for row in self.rows()]


def wire_value(field: FieldDef, value: Any) -> Any:
    """A stored value as JSON: dateTimes (stored as epoch ms) as Salesforce's text, others unchanged."""
    if value is None:
        return None
    if field.type == "datetime" and isinstance(value, int):
        return ms_to_wire(value)
    return value


def project_fields(state: SandboxState, obj: ObjectDef, row: Row, fields: Sequence[FieldDef] | None,
                   version: str) -> dict[str, Any]:
    """A row with ``fields`` (all of the object's fields when None) as a record JSON (``GET
    /sobjects/{Object}/{id}`` and sObject Collections retrieve)."""
    out = state.attributes(obj, row, version)
    for field in fields if fields is not None else obj.fields:
        out[field.name] = wire_value(field, row.get(field.name))
    return out
