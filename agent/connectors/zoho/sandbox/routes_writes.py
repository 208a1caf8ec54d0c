"""Record writes: insert, update, upsert, delete and lead conversion (Zoho CRM API v8 "Insert Records",
"Update Records", "Upsert Records", "Delete Records", "Convert Lead").

- ``POST|PUT /crm/{v}/{module}`` ``{data: [record]}``, ``POST /crm/{v}/{module}/upsert`` ``{data,
  duplicate_check_fields?}``: up to 100 records, one result each (``{code, details, message, status}``);
  201 (insert) / 200 all done, 207 some failed, 400 all failed (with the same ``data``);
- ``DELETE /crm/{v}/{module}?ids=``: up to 100 ids, one result each, statuses as above;
- ``POST /crm/{v}/Leads/{id}/actions/convert``: converts a Lead into a Contact (a new one, or the one named
  in ``data[0].Contacts``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ZohoError, invalid_data
from .params import RECORDS, Sandbox, acting_user, module_of, read_records, sandbox_of
from .state import RecordNotFound, Row
from .validation import RecordRefused, check


def _status(results: list[dict[str, Any]], ok_status: int) -> int:
    good = sum(r["status"] == "success" for r in results)
    return ok_status if good == len(results) else 400 if good == 0 else 207


def _details(sandbox: Sandbox, row: Row, user: str) -> dict[str, Any]:
    state = sandbox.state
    return {"Modified_Time": state.time_text(row.modified_ms), "Modified_By": state.owner_ref(user),
            "Created_Time": state.time_text(row.created_ms), "id": row.id, "Created_By": state.owner_ref(user)}


async def insert_records(request: Request) -> Response:
    """``POST /crm/{v}/{module}``: add each valid record (owned by its ``Owner`` or the caller)."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    module = module_of(request)
    records = await read_records(request)
    user = acting_user(request, sandbox)
    results: list[dict[str, Any]] = []
    for n, record in enumerate(records):
        with state.lock:
            try:
                values, owner = check(state, module, record, n, creating=True, unique=sandbox.faults.unique())
            except RecordRefused as refused:
                results.append(refused.result())
                continue
            row = state.rows[module][state.add_record(module, values, owner_id=owner or user)]
            state.records_written += 1
        results.append({"code": "SUCCESS", "details": _details(sandbox, row, user), "message": "record added",
                        "status": "success"})
    return JSONResponse({"data": results}, status_code=_status(results, 201))


def _row_to_update(sandbox: Sandbox, module: str, record: Any, n: int) -> tuple[Row, dict[str, Any], str | None]:
    """The row an update record names, its checked values and owner; ``RecordRefused`` for a record without
    ``id`` (``MANDATORY_NOT_FOUND``), with an unknown or converted one (``INVALID_DATA``) or with bad values."""
    state = sandbox.state
    record_id = str(record.get("id") or "") if isinstance(record, dict) else ""
    row = state.rows[module].get(record_id)
    if not record_id:
        raise RecordRefused("MANDATORY_NOT_FOUND", "required field not found", api_name="id",
                            json_path=f"$.data[{n}].id")
    if row is None or row.converted:
        raise RecordRefused("INVALID_DATA", "the id given seems to be invalid", api_name="id", id=record_id,
                            json_path=f"$.data[{n}].id")
    values, owner = check(state, module, record, n, creating=False, record_id=record_id,
                          unique=sandbox.faults.unique())
    return row, values, owner


async def update_records(request: Request) -> Response:
    """``PUT /crm/{v}/{module}``: update each valid record named by its ``id``."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    module = module_of(request)
    records = await read_records(request)
    user = acting_user(request, sandbox)
    results: list[dict[str, Any]] = []
    for n, record in enumerate(records):
        with state.lock:
            try:
                row, values, owner = _row_to_update(sandbox, module, record, n)
            except RecordRefused as refused:
                results.append(refused.result())
                continue
            state.update_record(module, row.id, values, owner_id=owner)
            state.records_written += 1
        results.append({"code": "SUCCESS", "details": _details(sandbox, row, user), "message": "record updated",
                        "status": "success"})
    return JSONResponse({"data": results}, status_code=_status(results, 200))


def _duplicate_of(sandbox: Sandbox, module: str, record: Any, checks: list[str]) -> tuple[Row | None, str | None]:
    """The first existing record an upsert record matches on a ``duplicate_check_fields`` field (``Email``
    case-insensitively), and that field; ``(None, None)`` when none."""
    state = sandbox.state
    for name in checks:
        value = record.get(name) if isinstance(record, dict) else None
        if isinstance(value, str) and value:
            hits = state.find_email(module, value) if name == "Email" else [
                r.id for r in state.ordered(module, False) if r.values.get(name) == value]
            if hits:
                return state.rows[module][hits[0]], name
    return None, None


async def upsert_records(request: Request) -> Response:
    """``POST /crm/{v}/{module}/upsert``: update the record each one duplicates (``duplicate_check_fields``,
    default ``Email``), else insert it; each result says ``action`` and ``duplicate_field``."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    module = module_of(request)
    records = await read_records(request)
    body_checks = (await request.json()).get("duplicate_check_fields") or ["Email"]
    checks = [str(c) for c in body_checks] if isinstance(body_checks, list) else ["Email"]
    user = acting_user(request, sandbox)
    results: list[dict[str, Any]] = []
    for n, record in enumerate(records):
        with state.lock:
            match, found_by = _duplicate_of(sandbox, module, record, checks)
            try:
                values, owner = check(state, module, record, n, creating=match is None,
                                      record_id=match.id if match else None, unique=sandbox.faults.unique())
            except RecordRefused as refused:
                results.append(refused.result())
                continue
            if match is None:
                match = state.rows[module][state.add_record(module, values, owner_id=owner or user)]
            else:
                state.update_record(module, match.id, values, owner_id=owner)
            state.records_written += 1
        results.append({"code": "SUCCESS", "duplicate_field": found_by, "action": "update" if found_by else "insert",
                        "details": _details(sandbox, match, user), "status": "success",
                        "message": "record updated" if found_by else "record added"})
    return JSONResponse({"data": results}, status_code=_status(results, 200))


async def delete_records(request: Request) -> Response:
    """``DELETE /crm/{v}/{module}?ids=``: move each known record to the recycle bin."""
    sandbox = sandbox_of(request)
    module = module_of(request)
    ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
    if not ids:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "ids"})
    if len(ids) > 100:
        raise invalid_data("more than 100 ids", param_name="ids")
    results: list[dict[str, Any]] = []
    for record_id in ids:
        try:
            sandbox.state.delete_record(module, record_id, by_user=acting_user(request, sandbox))
        except RecordNotFound:
            results.append({"code": "INVALID_DATA", "details": {"id": record_id},
                            "message": "the related id given seems to be invalid", "status": "error"})
            continue
        results.append({"code": "SUCCESS", "details": {"id": record_id}, "message": "record deleted",
                        "status": "success"})
    return JSONResponse({"data": results}, status_code=_status(results, 200))


async def convert_lead(request: Request) -> Response:
    """``POST /crm/{v}/Leads/{id}/actions/convert``: the Contact the Lead became; 400 for another module
    or an unknown, already converted Lead."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    if module_of(request) != "Leads":
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid")
    records = await read_records(request, limit=1)
    options = records[0] if isinstance(records[0], dict) else {}
    target = options.get("Contacts")
    contact_id = str(target.get("id") if isinstance(target, dict) else target) if target else None
    lead_id = str(request.path_params["record_id"])
    try:
        contact = state.convert_lead(lead_id, contact_id=contact_id, user_id=acting_user(request, sandbox))
    except (RecordNotFound, ValueError):
        raise invalid_data("the id given seems to be invalid", api_name="id", id=lead_id) from None
    state.records_written += 1
    name = " ".join(str(state.rows["Contacts"][contact].values.get(k) or "")
                    for k in ("First_Name", "Last_Name")).strip()
    return JSONResponse({"data": [{"code": "SUCCESS", "details": {"Contacts": {"name": name, "id": contact},
                                                                   "Deals": None, "Accounts": None},
                                   "message": "Successfully converted", "status": "success"}]})


ROUTES = [
    Route(RECORDS, insert_records, methods=["POST"]),
    Route(RECORDS, update_records, methods=["PUT"]),
    Route(RECORDS, delete_records, methods=["DELETE"]),
    Route(f"{RECORDS}/upsert", upsert_records, methods=["POST"]),
    Route(RECORDS + "/{record_id}/actions/convert", convert_lead, methods=["POST"]),
]
"""The write routes; ``app`` lists them before the read routes (the order requests are matched in)."""
