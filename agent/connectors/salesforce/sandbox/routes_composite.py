"""sObject Collections: ``/services/data/vNN.N/composite/sobjects`` ("sObject Collections", REST API
Developer Guide).

- ``POST`` ``{allOrNone, records: [{attributes: {type}, ...}]}`` creates, ``PATCH`` (each record with
  ``Id``) updates, ``DELETE ?ids=a,b&allOrNone=`` deletes: at most 200 records, answered 200 with one
  ``{id, success, errors: [{statusCode, message, fields}]}`` per record, in request order (see
  :mod:`.writes`);
- ``GET /composite/sobjects/{Object}?ids=a,b&fields=x,y`` (or ``POST`` with ``{ids, fields}``) retrieves:
  one record per id, ``null`` for ids that are unknown, deleted or malformed; an unknown field is 400.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import error, not_found
from .params import acting_user, api_version, read_object, sandbox_of
from .query import project_fields
from .routes_sobjects import requested_fields, with_slash
from .schema import ObjectDef, object_def
from .writes import MAX_RECORDS, collection_records, create_collection, delete_collection, update_collection


def _all_or_none(request: Request) -> bool:
    return request.query_params.get("allOrNone", "false").lower() == "true"


async def create_records(request: Request) -> Response:
    """``POST /composite/sobjects`` ``{allOrNone, records}``: one result per record."""
    sandbox = sandbox_of(request)
    version = api_version(request)
    user = acting_user(request, sandbox)
    records, all_or_none = collection_records(await read_object(request))
    blocks = version if sandbox.faults.duplicate_rule_blocks else None
    return JSONResponse(create_collection(sandbox.state, records, all_or_none=all_or_none, user_id=user,
                                          duplicate_rule=blocks))


async def update_records(request: Request) -> Response:
    """``PATCH /composite/sobjects`` ``{allOrNone, records}`` (each with ``Id``): one result per record."""
    sandbox = sandbox_of(request)
    api_version(request)
    user = acting_user(request, sandbox)
    records, all_or_none = collection_records(await read_object(request))
    return JSONResponse(update_collection(sandbox.state, records, all_or_none=all_or_none, user_id=user))


async def delete_records(request: Request) -> Response:
    """``DELETE /composite/sobjects?ids=&allOrNone=``: one result per id; 400 without ids."""
    state = sandbox_of(request).state
    api_version(request)
    raw = request.query_params.get("ids", "")
    ids = [i.strip() for i in raw.split(",") if i.strip()]
    if not ids:
        raise error(400, "MISSING_ARGUMENT", "ids: at least one id is required")
    return JSONResponse(delete_collection(state, ids, all_or_none=_all_or_none(request)))


def _retrieved(request: Request, obj: ObjectDef, version: str, raw_ids: list[str],
               raw_fields: str) -> Response:
    """One record per id (``null`` for unknown, deleted or malformed ids); 400 without ids or fields, for
    more than 2,000 ids or an unknown field."""
    state = sandbox_of(request).state
    if not raw_ids or not raw_fields.strip():
        raise error(400, "MISSING_ARGUMENT", "ids and fields are required")
    if len(raw_ids) > 2000:
        raise error(400, "EXCEEDED_ID_LIMIT", f"cannot retrieve more than 2000 records ({MAX_RECORDS} a write)")
    fields = requested_fields(obj, raw_fields)
    out: list[dict[str, Any] | None] = []
    with state.lock:
        table = state.table(obj.name)
        for record_id in raw_ids:
            row = table.get(record_id) if record_id[:3] == obj.key_prefix else None
            out.append(None if row is None or row.get("IsDeleted")
                       else project_fields(state, obj, row, fields, version))
    return JSONResponse(out)


def _object(request: Request) -> ObjectDef:
    obj = object_def(str(request.path_params["sobject"]))
    if obj is None:
        raise not_found()
    return obj


async def retrieve_records(request: Request) -> Response:
    """``GET /composite/sobjects/{Object}?ids=a,b&fields=x,y``."""
    version = api_version(request)
    obj = _object(request)
    raw_ids = [i.strip() for i in request.query_params.get("ids", "").split(",") if i.strip()]
    return _retrieved(request, obj, version, raw_ids, request.query_params.get("fields", ""))


async def retrieve_records_by_body(request: Request) -> Response:
    """``POST /composite/sobjects/{Object}`` ``{ids, fields}`` (for id lists too long for a URL)."""
    version = api_version(request)
    obj = _object(request)
    body = await read_object(request)
    ids: Any = body.get("ids")
    names: Any = body.get("fields")
    if not isinstance(ids, list) or not isinstance(names, list):
        raise error(400, "JSON_PARSER_ERROR", "ids and fields must be lists")
    return _retrieved(request, obj, version, [str(i) for i in ids], ",".join(str(n) for n in names))


COLLECTIONS = "/services/data/{version}/composite/sobjects"
ROUTES = [
    *with_slash(COLLECTIONS, create_records, ["POST"]),
    *with_slash(COLLECTIONS, update_records, ["PATCH"]),
    *with_slash(COLLECTIONS, delete_records, ["DELETE"]),
    *with_slash(f"{COLLECTIONS}/{{sobject}}", retrieve_records, ["GET"]),
    *with_slash(f"{COLLECTIONS}/{{sobject}}", retrieve_records_by_body, ["POST"]),
]
"""The sObject Collections routes."""
