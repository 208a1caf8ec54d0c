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
from starlette.routing import Route

from .errors import error, not_found
from .params import Sandbox, acting_user, api_version, read_object
from .query import project_fields
from .routes_sobjects import _fields
from .schema import object_def
from .writes import MAX_RECORDS, collection_records, create_collection, delete_collection, update_collection


def routes(sandbox: Sandbox) -> list[Route]:
    """The collection routes bound to ``sandbox``."""
    state = sandbox.state

    async def collection(request: Request) -> Response:
        api_version(request)
        user = acting_user(request, sandbox)
        if request.method == "DELETE":
            raw = request.query_params.get("ids", "")
            ids = [i.strip() for i in raw.split(",") if i.strip()]
            if not ids:
                raise error(400, "MISSING_ARGUMENT", "ids: at least one id is required")
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            return JSONResponse(delete_collection(state, ids, all_or_none=all_or_none))
        records, all_or_none = collection_records(await read_object(request))
        if request.method == "POST":
            return JSONResponse(create_collection(state, records, all_or_none=all_or_none, user_id=user))
        return JSONResponse(update_collection(state, records, all_or_none=all_or_none, user_id=user))

    async def retrieve(request: Request) -> Response:
        version = api_version(request)
        obj = object_def(str(request.path_params["sobject"]))
        if obj is None:
            raise not_found()
        if request.method == "POST":
            body = await read_object(request)
            ids: Any = body.get("ids")
            names: Any = body.get("fields")
            if not isinstance(ids, list) or not isinstance(names, list):
                raise error(400, "JSON_PARSER_ERROR", "ids and fields must be lists")
            raw_ids, raw_fields = [str(i) for i in ids], ",".join(str(n) for n in names)
        else:
            raw_ids = [i.strip() for i in request.query_params.get("ids", "").split(",") if i.strip()]
            raw_fields = request.query_params.get("fields", "")
        if not raw_ids or not raw_fields.strip():
            raise error(400, "MISSING_ARGUMENT", "ids and fields are required")
        if len(raw_ids) > 2000:
            raise error(400, "EXCEEDED_ID_LIMIT", f"cannot retrieve more than 2000 records ({MAX_RECORDS} a write)")
        fields = _fields(obj, raw_fields)
        out: list[dict[str, Any] | None] = []
        with state.lock:
            table = state.table(obj.name)
            for record_id in raw_ids:
                row = table.get(record_id) if record_id[:3] == obj.key_prefix else None
                out.append(None if row is None or row.get("IsDeleted")
                           else project_fields(state, obj, row, fields, version))
        return JSONResponse(out)

    base = "/services/data/{version}/composite/sobjects"
    return [
        Route(base, collection, methods=["POST", "PATCH", "DELETE"]),
        Route(f"{base}/", collection, methods=["POST", "PATCH", "DELETE"]),
        Route(f"{base}/{{sobject}}", retrieve, methods=["GET", "POST"]),
        Route(f"{base}/{{sobject}}/", retrieve, methods=["GET", "POST"]),
    ]
