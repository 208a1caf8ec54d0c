"""Creating, updating and deleting records for the REST routes, one at a time or as sObject Collections.

A collection (``/composite/sobjects``) holds at most 200 records (more: 400 ``EXCEEDED_ID_LIMIT``) and is
answered 200 with one ``{id, success, errors}`` per record in request order. With ``allOrNone`` false
(the default) every valid record is saved and each invalid one fails alone (case B23 c); with
``allOrNone`` true nothing is saved when any record fails, and the valid ones report
``ALL_OR_NONE_OPERATION_ROLLED_BACK`` ("sObject Collections", REST API Developer Guide).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from .duplicates import duplicate_problem
from .errors import Problem, SalesforceError, error
from .ids import is_id, to18
from .schema import ObjectDef, object_def, object_for_id
from .state import Row, SandboxState
from .validation import Values, read_values, record_problems

MAX_RECORDS: Final = 200
ROLLED_BACK: Final = Problem("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                             "Record rolled back because not all records were valid and the request was using "
                             "AllOrNone header")


def writable_object(name: str) -> ObjectDef:
    """The object named ``name`` if the API may write it; 400 ``INVALID_TYPE`` otherwise (404 for unknown
    objects is the route's business)."""
    obj = object_def(name)
    if obj is None:
        raise error(404, "NOT_FOUND", "The requested resource does not exist")
    if not obj.writable:
        raise error(400, "INVALID_TYPE", f"sObject type '{obj.name}' is read-only in the sandbox")
    return obj


def _type_of(record: Any) -> ObjectDef:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(name, str) or not name:
        raise error(400, "INVALID_TYPE", "Must send a concrete entity type.")
    obj = object_def(name)
    if obj is None:
        raise error(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
    if not obj.writable:
        raise error(400, "INVALID_TYPE", f"sObject type '{obj.name}' is read-only in the sandbox")
    return obj


def collection_records(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """``(records, allOrNone)`` of a collection body; 400 when malformed or over 200 records."""
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise error(400, "JSON_PARSER_ERROR", "records: a list of sObjects is required")
    if len(records) > MAX_RECORDS:
        raise error(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {MAX_RECORDS} "
                    "records into this call")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise error(400, "JSON_PARSER_ERROR", "allOrNone must be true or false")
    return records, all_or_none


def _result(record_id: str | None, problems: Sequence[Problem]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if record_id is not None or not problems:
        out["id"] = record_id
    out["success"] = not problems
    out["errors"] = [p.collection_item() for p in problems]
    return out


def _target(state: SandboxState, obj: ObjectDef, record_id: str | None) -> tuple[Row | None, list[Problem]]:
    if not record_id:
        return None, [Problem("MISSING_ARGUMENT", "Id not specified in an update call")]
    if not is_id(record_id) or record_id[:3] != obj.key_prefix:
        return None, [Problem("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ("Id",))]
    row = state.table(obj.name).get(record_id)
    if row is None:
        return None, [Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
    return row, []


def _create_problems(state: SandboxState, obj: ObjectDef, values: Values, duplicate_rule: str | None) -> list[Problem]:
    problems = record_problems(state, obj, values, row=None)
    if not problems and duplicate_rule is not None:
        duplicate = duplicate_problem(state, obj, values, duplicate_rule.removeprefix("v"))
        problems = [duplicate] if duplicate is not None else []
    return problems


def create_collection(state: SandboxState, records: list[dict[str, Any]], *, all_or_none: bool,
                      user_id: str, duplicate_rule: str | None = None) -> list[dict[str, Any]]:
    """``POST /composite/sobjects``: one result per record, in order. ``duplicate_rule`` (the API version,
    ``vNN.N``): the standard lead duplicate rule blocks (see :mod:`.duplicates`); None: it allows."""
    parsed: list[tuple[ObjectDef, Values, list[Problem]]] = []
    for record in records:
        obj = _type_of(record)
        record_id, values = read_values(obj, record, allow_id=True)
        early = [Problem("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",))] if record_id else []
        parsed.append((obj, values, early))
    with state.lock:
        checked = [(obj, values, early or _create_problems(state, obj, values, duplicate_rule))
                   for obj, values, early in parsed]
        if all_or_none and any(problems for _, _, problems in checked):
            return [_result(None, problems or [ROLLED_BACK]) for _, _, problems in checked]
        results = []
        for obj, values, problems in checked:
            if problems:
                results.append(_result(None, problems))
            else:
                row = state.insert_row(obj, values, user_id=user_id)
                results.append(_result(str(row["Id"]), []))
        return results


def update_collection(state: SandboxState, records: list[dict[str, Any]], *, all_or_none: bool,
                      user_id: str) -> list[dict[str, Any]]:
    """``PATCH /composite/sobjects``: each record names its ``Id``; one result per record, in order."""
    parsed: list[tuple[ObjectDef, str | None, Values]] = []
    for record in records:
        obj = _type_of(record)
        record_id, values = read_values(obj, record, allow_id=True)
        parsed.append((obj, record_id, values))
    with state.lock:
        checked: list[tuple[ObjectDef, str | None, Row | None, Values, list[Problem]]] = []
        for obj, record_id, values in parsed:
            row, problems = _target(state, obj, record_id)
            if row is not None:
                problems = record_problems(state, obj, values, row=row)
            checked.append((obj, record_id, row, values, problems))
        if all_or_none and any(problems for *_, problems in checked):
            return [_result(record_id, problems or [ROLLED_BACK]) for _, record_id, _, _, problems in checked]
        results = []
        for obj, record_id, row, values, problems in checked:
            if problems or row is None:
                results.append(_result(record_id, problems))
            else:
                state.update_row(obj, row, values, user_id=user_id)
                results.append(_result(str(row["Id"]), []))
        return results


def delete_collection(state: SandboxState, ids: list[str], *, all_or_none: bool) -> list[dict[str, Any]]:
    """``DELETE /composite/sobjects?ids=...``: one result per id, in order."""
    if len(ids) > MAX_RECORDS:
        raise error(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {MAX_RECORDS} "
                    "records into this call")
    with state.lock:
        checked: list[tuple[str, ObjectDef | None, Row | None, list[Problem]]] = []
        for record_id in ids:
            obj = object_for_id(record_id) if is_id(record_id) else None
            if obj is None or not obj.writable:
                checked.append((record_id, None, None, [Problem("MALFORMED_ID", f"malformed id {record_id}")]))
                continue
            row = state.table(obj.name).get(record_id)
            if row is None:
                checked.append((record_id, obj, None, [Problem("INVALID_CROSS_REFERENCE_KEY",
                                                               "invalid cross reference id")]))
            elif row.get("IsDeleted"):
                checked.append((record_id, obj, row, [Problem("ENTITY_IS_DELETED", "entity is deleted")]))
            else:
                checked.append((record_id, obj, row, []))
        if all_or_none and any(problems for *_, problems in checked):
            return [_result(rid, problems or [ROLLED_BACK]) for rid, _, _, problems in checked]
        results = []
        for record_id, obj, row, problems in checked:
            if not problems and obj is not None and row is not None:
                state.delete_row(obj, row)
                results.append(_result(to18(record_id), []))
            else:
                results.append(_result(record_id, problems))
        return results


def create_one(state: SandboxState, obj: ObjectDef, body: dict[str, Any], *, user_id: str,
               duplicate_rule: str | None = None) -> str:
    """``POST /sobjects/{Object}``: the new id; 400 with the record's problems (``duplicate_rule`` as for
    :func:`create_collection`)."""
    record_id, values = read_values(obj, body, allow_id=True)
    if record_id:
        raise error(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
    with state.lock:
        problems = _create_problems(state, obj, values, duplicate_rule)
        if problems:
            raise SalesforceError(400, problems)
        return str(state.insert_row(obj, values, user_id=user_id)["Id"])


def update_one(state: SandboxState, obj: ObjectDef, row: Row, body: dict[str, Any], *, user_id: str) -> None:
    """``PATCH /sobjects/{Object}/{id}``; 400 with the record's problems."""
    record_id, values = read_values(obj, body, allow_id=True)
    if record_id and record_id[:15] != str(row["Id"])[:15]:
        raise error(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.", ["Id"])
    with state.lock:
        problems = record_problems(state, obj, values, row=row)
        if problems:
            raise SalesforceError(400, problems)
        state.update_row(obj, row, values, user_id=user_id)
