"""sObject resources under ``/services/data/vNN.N/sobjects`` ("sObject Basic Information", "sObject
Describe", "sObject Rows", "Get Updated Records", "Get Deleted Records"; REST API Developer Guide):

- ``GET /sobjects`` (global describe), ``GET /sobjects/{Object}``, ``GET /sobjects/{Object}/describe``;
- ``POST /sobjects/{Object}`` -> 201 ``{id, success, errors}``; 400 ``[{message, errorCode, fields}]``;
- ``GET|PATCH|DELETE /sobjects/{Object}/{id}`` (``?fields=a,b`` on GET) -> record / 204; a record in the
  Recycle Bin answers 404 ``ENTITY_IS_DELETED``;
- ``GET /sobjects/{Object}/updated/?start=&end=`` -> ``{ids, latestDateCovered}`` and ``.../deleted/`` ->
  ``{deletedRecords: [{id, deletedDate}], earliestDateAvailable, latestDateCovered}``: ``start`` and ``end``
  are ISO-8601 with an offset, read to the minute, at most 30 days back, ``start`` before ``end``.

Paths work with and without a trailing slash (the official client adds one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import error, not_found
from .params import Sandbox, acting_user, api_version, read_object
from .query import project_fields
from .schema import OBJECTS, FieldDef, ObjectDef, object_def
from .state import not_live
from .timefmt import DAY_MS, ms_to_wire, parse_instant
from .writes import create_one, update_one, writable_object

REPLICATION_DAYS = 30
MINUTE_MS = 60_000

Handler = Callable[[Request], Awaitable[Response]]


def _object(request: Request) -> ObjectDef:
    obj = object_def(str(request.path_params["sobject"]))
    if obj is None:
        raise not_found()
    return obj


def _fields(obj: ObjectDef, raw: str | None) -> list[FieldDef] | None:
    if raw is None:
        return None
    out: list[FieldDef] = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        field = obj.field(name)
        if field is None:
            raise error(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
        out.append(field)
    return out


def routes(sandbox: Sandbox) -> list[Route]:
    """The sObject routes bound to ``sandbox``."""
    state = sandbox.state

    async def global_describe(request: Request) -> Response:
        version = api_version(request)
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": 200,
                             "sobjects": [obj.summary(version) for obj in OBJECTS.values()]})

    async def basic(request: Request) -> Response:
        version = api_version(request)
        obj = _object(request)
        if request.method == "POST":
            obj = writable_object(obj.name)
            body = await read_object(request)
            record_id = create_one(state, obj, body, user_id=acting_user(request, sandbox))
            return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)
        return JSONResponse({"objectDescribe": obj.summary(version), "recentItems": []})

    async def describe(request: Request) -> Response:
        return JSONResponse(_object(request).describe(api_version(request)))

    async def row(request: Request) -> Response:
        version = api_version(request)
        obj = _object(request)
        record_id = str(request.path_params["record_id"])
        with state.lock:
            found = state.table(obj.name).get(record_id)
            if found is None or found.get("IsDeleted"):
                raise not_live(obj, record_id, found)
            if request.method == "GET":
                return JSONResponse(project_fields(state, obj, found, _fields(obj, request.query_params.get("fields")),
                                                   version))
            writable_object(obj.name)
            if request.method == "DELETE":
                state.delete_row(obj, found)
                return Response(status_code=204)
        body = await read_object(request)
        update_one(state, obj, found, body, user_id=acting_user(request, sandbox))
        return Response(status_code=204)

    def window(request: Request) -> tuple[int, int]:
        raw_start, raw_end = request.query_params.get("start"), request.query_params.get("end")
        if not raw_start or not raw_end:
            raise error(400, "MISSING_ARGUMENT", "start and end are required (ISO-8601 dateTimes)")
        start, end = parse_instant(raw_start), parse_instant(raw_end)
        if start is None or end is None:
            raise error(400, "INVALID_REPLICATION_DATE", f"unparseable date: {raw_start if start is None else raw_end}")
        start, end = start - start % MINUTE_MS, end - end % MINUTE_MS
        now = state.clock()
        if start < now - REPLICATION_DAYS * DAY_MS:
            raise error(400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {REPLICATION_DAYS} days ago")
        if end <= start:
            raise error(400, "INVALID_REPLICATION_DATE",
                        "startDate must chronologically precede endDate by more than 1 minute")
        return start, end

    async def updated(request: Request) -> Response:
        api_version(request)
        obj = _object(request)
        start, end = window(request)
        covered = min(end, state.clock() - state.clock() % MINUTE_MS)
        ids = state.updated_ids(obj.name, start, covered - 1)
        return JSONResponse({"ids": ids, "latestDateCovered": ms_to_wire(covered)})

    async def deleted(request: Request) -> Response:
        api_version(request)
        obj = _object(request)
        start, end = window(request)
        now = state.clock()
        covered = min(end, now - now % MINUTE_MS)
        rows = state.deleted_since(obj.name, start, covered - 1)
        earliest = now - REPLICATION_DAYS * DAY_MS
        return JSONResponse({"deletedRecords": [{"id": rid, "deletedDate": ms_to_wire(at)} for rid, at in rows],
                             "earliestDateAvailable": ms_to_wire(earliest - earliest % MINUTE_MS),
                             "latestDateCovered": ms_to_wire(covered)})

    base = "/services/data/{version}/sobjects"
    out: list[Route] = []
    for path, handler, methods in (
        ("", global_describe, ["GET"]),
        ("/{sobject}/describe", describe, ["GET"]),
        ("/{sobject}/updated", updated, ["GET"]),
        ("/{sobject}/deleted", deleted, ["GET"]),
        ("/{sobject}", basic, ["GET", "POST"]),
        ("/{sobject}/{record_id}", row, ["GET", "PATCH", "DELETE"]),
    ):
        out.append(Route(f"{base}{path}", handler, methods=methods))
        out.append(Route(f"{base}{path}/", handler, methods=methods))
    return out
