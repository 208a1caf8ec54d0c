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
from .params import acting_user, api_version, read_object, sandbox_of
from .query import project_fields
from .schema import OBJECTS, FieldDef, ObjectDef, object_def
from .state import Row, SandboxState, not_live
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


def requested_fields(obj: ObjectDef, raw: str | None) -> list[FieldDef] | None:
    """The fields a comma-separated ``fields`` parameter names (None: all); 400 ``INVALID_FIELD`` for an
    unknown one."""
    if raw is None:
        return None
    out: list[FieldDef] = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        field = obj.field(name)
        if field is None:
            raise error(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
        out.append(field)
    return out


async def global_describe(request: Request) -> Response:
    """``GET /sobjects``: every object's summary."""
    version = api_version(request)
    return JSONResponse({"encoding": "UTF-8", "maxBatchSize": 200,
                         "sobjects": [obj.summary(version) for obj in OBJECTS.values()]})


async def object_info(request: Request) -> Response:
    """``GET /sobjects/{Object}``: the object's summary and (none) recent items."""
    version = api_version(request)
    obj = _object(request)
    return JSONResponse({"objectDescribe": obj.summary(version), "recentItems": []})


async def create_record(request: Request) -> Response:
    """``POST /sobjects/{Object}`` -> 201 ``{id, success, errors}``; 400 for bad values or a read-only object."""
    sandbox = sandbox_of(request)
    version = api_version(request)
    obj = writable_object(_object(request).name)
    body = await read_object(request)
    record_id = create_one(sandbox.state, obj, body, user_id=acting_user(request, sandbox),
                           duplicate_rule=version if sandbox.faults.duplicate_rule_blocks else None)
    return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)


async def describe_object(request: Request) -> Response:
    """``GET /sobjects/{Object}/describe``: the object's fields."""
    return JSONResponse(_object(request).describe(api_version(request)))


def _live_row(state: SandboxState, obj: ObjectDef, record_id: str) -> Row:
    """The record (the caller holds the state's lock); 404 ``NOT_FOUND`` / ``ENTITY_IS_DELETED``."""
    found = state.table(obj.name).get(record_id)
    if found is None or found.get("IsDeleted"):
        raise not_live(obj, record_id, found)
    return found


async def get_row(request: Request) -> Response:
    """``GET /sobjects/{Object}/{id}?fields=``: the record."""
    state = sandbox_of(request).state
    version = api_version(request)
    obj = _object(request)
    record_id = str(request.path_params["record_id"])
    with state.lock:
        found = _live_row(state, obj, record_id)
        return JSONResponse(project_fields(state, obj, found, requested_fields(obj, request.query_params.get("fields")),
                                           version))


async def update_row(request: Request) -> Response:
    """``PATCH /sobjects/{Object}/{id}`` -> 204; 400 for bad values or a read-only object."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    api_version(request)
    obj = _object(request)
    record_id = str(request.path_params["record_id"])
    with state.lock:
        found = _live_row(state, obj, record_id)
        writable_object(obj.name)
    body = await read_object(request)
    update_one(state, obj, found, body, user_id=acting_user(request, sandbox))
    return Response(status_code=204)


async def delete_row(request: Request) -> Response:
    """``DELETE /sobjects/{Object}/{id}`` -> 204: the record goes to the Recycle Bin."""
    state = sandbox_of(request).state
    api_version(request)
    obj = _object(request)
    record_id = str(request.path_params["record_id"])
    with state.lock:
        found = _live_row(state, obj, record_id)
        writable_object(obj.name)
        state.delete_row(obj, found)
        return Response(status_code=204)


def _window(request: Request, state: SandboxState) -> tuple[int, int]:
    """``start`` and ``end`` (to the minute); 400 when missing, unparseable, too old or out of order."""
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


async def updated_ids(request: Request) -> Response:
    """``GET /sobjects/{Object}/updated/?start=&end=`` -> ``{ids, latestDateCovered}``."""
    state = sandbox_of(request).state
    api_version(request)
    obj = _object(request)
    start, end = _window(request, state)
    covered = min(end, state.clock() - state.clock() % MINUTE_MS)
    ids = state.updated_ids(obj.name, start, covered - 1)
    return JSONResponse({"ids": ids, "latestDateCovered": ms_to_wire(covered)})


async def deleted_records(request: Request) -> Response:
    """``GET /sobjects/{Object}/deleted/?start=&end=`` -> ``{deletedRecords, earliestDateAvailable,
    latestDateCovered}``."""
    state = sandbox_of(request).state
    api_version(request)
    obj = _object(request)
    start, end = _window(request, state)
    now = state.clock()
    covered = min(end, now - now % MINUTE_MS)
    rows = state.deleted_since(obj.name, start, covered - 1)
    earliest = now - REPLICATION_DAYS * DAY_MS
    return JSONResponse({"deletedRecords": [{"id": rid, "deletedDate": ms_to_wire(at)} for rid, at in rows],
                         "earliestDateAvailable": ms_to_wire(earliest - earliest % MINUTE_MS),
                         "latestDateCovered": ms_to_wire(covered)})


def with_slash(path: str, endpoint: Handler, methods: list[str]) -> list[Route]:
    """``path`` and ``path/`` (the official client adds a trailing slash)."""
    return [Route(path, endpoint, methods=methods), Route(f"{path}/", endpoint, methods=methods)]


SOBJECTS = "/services/data/{version}/sobjects"
ROUTES = [
    *with_slash(SOBJECTS, global_describe, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/describe", describe_object, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/updated", updated_ids, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/deleted", deleted_records, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}", object_info, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}", create_record, ["POST"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/{{record_id}}", get_row, ["GET"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/{{record_id}}", update_row, ["PATCH"]),
    *with_slash(f"{SOBJECTS}/{{sobject}}/{{record_id}}", delete_row, ["DELETE"]),
]
"""The sObject routes, in matching order (``describe``, ``updated``, ``deleted`` before ``{record_id}``)."""
