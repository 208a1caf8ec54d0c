"""Record reads: lists, single records, searches and deleted records (Zoho CRM API v8 "Get Records",
"Search Records", "Get Deleted Records"); the writes are in :mod:`.routes_writes`.

- ``GET /crm/{v}/{module}?fields=&per_page=&page=|page_token=&sort_by=&sort_order=&converted=&ids=`` with an
  optional ``If-Modified-Since`` header (records modified *after* it): ``{data, info: {per_page, count, page,
  sort_by, sort_order, more_records, next_page_token, previous_page_token, page_token_expiry}}``; 204 with no
  body when nothing matches. ``fields`` is required (v8); ``page`` reaches the first 2,000 records, a
  ``next_page_token`` (valid 24 hours, bound to the query) goes on beyond them.
- ``GET /crm/{v}/{module}/{id}``: one record with ``$converted_detail``; a converted Lead only with
  ``converted=true|both``; 204 for no such record.
- ``GET /crm/{v}/{module}/search?criteria=|email=`` (see :mod:`.criteria`), 2,000 results at most; 204.
- ``GET /crm/{v}/{module}/deleted?type=all|recycle|permanent``: newest first; 204 for none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .criteria import CriteriaError, parse
from .errors import ZohoError, invalid_data
from .limits import DAY_MS
from .params import RECORDS, Sandbox, int_param, module_of, sandbox_of
from .schema import field_map
from .state import Row

PAGE_LIMIT: Final = 2000
SORTABLE: Final = ("id", "Created_Time", "Modified_Time")


def _no_content() -> Response:
    return Response(status_code=204)


def _converted_filter(request: Request, module: str) -> bool | None:
    """``converted``: false (default), true, or None for both; only Leads have converted records."""
    raw = request.query_params.get("converted", "false").lower()
    if raw not in ("true", "false", "both"):
        raise invalid_data("invalid value for converted", param_name="converted")
    if module != "Leads":
        return False
    return None if raw == "both" else raw == "true"


def _fields(request: Request, module: str, *, required: bool) -> list[str] | None:
    raw = request.query_params.get("fields")
    if not raw:
        if required:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param": "fields"})
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = field_map(module)
    if len(names) > 50:
        raise invalid_data("the number of fields exceeds 50", param_name="fields")
    for name in names:
        if name not in known and name != "id":
            raise invalid_data("the field name given seems to be invalid", api_name=name, param_name="fields")
    return names


def _modified_since(request: Request) -> int | None:
    raw = request.headers.get("If-Modified-Since")
    if not raw:
        return None
    try:
        instant = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise invalid_data("invalid If-Modified-Since header", header_name="If-Modified-Since") from None
    if instant.tzinfo is None:
        raise invalid_data("If-Modified-Since needs a time zone offset", header_name="If-Modified-Since")
    return int(instant.timestamp() * 1000)


def _sort_key(sort_by: str) -> Callable[[Row], tuple[int, int]]:
    if sort_by == "Modified_Time":
        return lambda r: (r.modified_ms - r.modified_ms % 1000, int(r.id))
    if sort_by == "Created_Time":
        return lambda r: (r.created_ms - r.created_ms % 1000, int(r.id))
    return lambda r: (int(r.id), 0)


def _page(sandbox: Sandbox, request: Request, rows: Sequence[Row], query_key: str, *, per_page: int,
          limit: int | None) -> tuple[int, int, str | None]:
    """``(offset, page number, token used)`` of the page asked for (``page`` or ``page_token``)."""
    token = request.query_params.get("page_token")
    if token:
        with sandbox.state.lock:
            entry = sandbox.state.page_tokens.get(token)
        if entry is None or entry[0] != query_key:
            raise invalid_data("invalid page token", param_name="page_token")
        if entry[2] <= sandbox.state.now():
            raise ZohoError(400, "TOKEN_EXPIRED", "page token expired", {"param_name": "page_token"})
        return entry[1], entry[1] // per_page + 1, token
    page = int_param(request, "page", 1, low=1, high=10_000_000)
    offset = (page - 1) * per_page
    if limit is not None and offset + per_page > limit:
        raise ZohoError(400, "LIMIT_REACHED", f"maximum limit reached: use page_token to fetch more than {limit} "
                        "records", {"limit": limit})
    return offset, page, None


def _listing(sandbox: Sandbox, request: Request, rows: list[Row], fields: list[str] | None, *,
             query_key: str, sort_by: str, sort_order: str, tokens: bool) -> Response:
    per_page = int_param(request, "per_page", 200, low=1, high=200)
    offset, page, _ = _page(sandbox, request, rows, query_key, per_page=per_page, limit=PAGE_LIMIT)
    chunk = rows[offset:offset + per_page]
    if not chunk:
        return _no_content()
    more = offset + len(chunk) < len(rows)
    info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "page": page, "sort_by": sort_by,
                            "sort_order": sort_order, "more_records": more}
    if tokens:
        next_token = None
        if more:
            next_token = secrets.token_hex(24)
            with sandbox.state.lock:
                sandbox.state.page_tokens[next_token] = (query_key, offset + len(chunk), sandbox.state.now() + DAY_MS)
        info.update(next_page_token=next_token, previous_page_token=None,
                    page_token_expiry=sandbox.state.time_text(sandbox.state.now() + DAY_MS) if next_token else None)
    data = [sandbox.state.render(r, fields) for r in chunk]
    return JSONResponse({"data": data, "info": info})


def _query_key(request: Request) -> str:
    params = sorted((k, v) for k, v in request.query_params.multi_items() if k not in ("page", "page_token"))
    text = f"{request.url.path}|{params}|{request.headers.get('If-Modified-Since', '')}"
    return hashlib.sha256(text.encode()).hexdigest()


async def list_records(request: Request) -> Response:
    """``GET /crm/{v}/{module}``: a page of records (``fields`` required), sorted, optionally modified after
    ``If-Modified-Since`` or among ``ids``; 204 when the page is empty."""
    sandbox = sandbox_of(request)
    module = module_of(request)
    fields = _fields(request, module, required=True)
    converted = _converted_filter(request, module)
    since = _modified_since(request)
    sort_by = request.query_params.get("sort_by", "id")
    sort_order = request.query_params.get("sort_order", "desc" if sort_by != "id" else "asc")
    if sort_by not in SORTABLE or sort_order not in ("asc", "desc"):
        raise invalid_data("invalid value for sort_by or sort_order", param_name="sort_by")
    raw_ids = request.query_params.get("ids")
    ids = set(raw_ids.split(",")) if raw_ids else None
    if ids is not None and len(ids) > 100:
        raise invalid_data("more than 100 ids", param_name="ids")
    with sandbox.state.lock:
        rows = [r for r in sandbox.state.ordered(module, converted)
                if (since is None or r.modified_ms - r.modified_ms % 1000 > since) and (ids is None or r.id in ids)]
    rows.sort(key=_sort_key(sort_by), reverse=sort_order == "desc")
    return _listing(sandbox, request, rows, fields, query_key=_query_key(request), sort_by=sort_by,
                    sort_order=sort_order, tokens=True)


async def get_record(request: Request) -> Response:
    """``GET /crm/{v}/{module}/{id}``: one record with its details; 204 when there is none."""
    state = sandbox_of(request).state
    module = module_of(request)
    fields = _fields(request, module, required=False)
    converted = _converted_filter(request, module)
    with state.lock:
        row = state.rows[module].get(str(request.path_params["record_id"]))
        if row is None or (converted is not None and row.converted != converted):
            return _no_content()
        return JSONResponse({"data": [state.render(row, fields, detail=True)]})


async def search_records(request: Request) -> Response:
    """``GET /crm/{v}/{module}/search``: the records ``criteria`` (or ``email``) match, by id; 204 for none;
    400 ``INVALID_QUERY`` for criteria that do not parse."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    module = module_of(request)
    fields = _fields(request, module, required=False)
    converted = _converted_filter(request, module)
    criteria, email = request.query_params.get("criteria"), request.query_params.get("email")
    if not criteria and not email:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "criteria"})
    try:
        tree = parse(criteria) if criteria else parse(f"(Email:equals:{email})")
    except CriteriaError as exc:
        raise ZohoError(400, "INVALID_QUERY", "invalid query formed", {"reason": str(exc)}) from None

    def lookup_in(row: Row) -> Callable[[str], str | None]:
        wire = state.render(row, None)
        return lambda name: None if wire.get(name) is None else str(wire[name])

    with state.lock:
        rows = [r for r in state.ordered(module, converted) if tree.matches(lookup_in(r))]
    return _listing(sandbox, request, rows, fields, query_key=_query_key(request), sort_by="id",
                    sort_order="asc", tokens=False)


async def list_deleted(request: Request) -> Response:
    """``GET /crm/{v}/{module}/deleted``: deleted records of a ``type``, newest first; 204 for none."""
    state = sandbox_of(request).state
    module = module_of(request)
    kind = request.query_params.get("type", "all")
    if kind not in ("all", "recycle", "permanent"):
        raise invalid_data("invalid value for type", param_name="type")
    per_page = int_param(request, "per_page", 200, low=1, high=200)
    page = int_param(request, "page", 1, low=1, high=10_000_000)
    with state.lock:
        gone = sorted((d for d in state.deleted if d.module == module and kind in ("all", d.kind)),
                      key=lambda d: (-d.deleted_ms, d.id))
        chunk = gone[(page - 1) * per_page:page * per_page]
        data = [{"deleted_by": state.owner_ref(d.deleted_by), "id": d.id, "display_name": d.display_name,
                 "type": d.kind, "created_by": state.owner_ref(d.created_by),
                 "deleted_time": state.time_text(d.deleted_ms)} for d in chunk]
    if not data:
        return _no_content()
    return JSONResponse({"data": data, "info": {"per_page": per_page, "count": len(data), "page": page,
                                                "more_records": page * per_page < len(gone)}})


ROUTES = [
    Route(RECORDS, list_records, methods=["GET"]),
    Route(f"{RECORDS}/search", search_records, methods=["GET"]),
    Route(f"{RECORDS}/deleted", list_deleted, methods=["GET"]),
    Route(RECORDS + "/{record_id}", get_record, methods=["GET"]),
]
"""The read routes, in matching order (``/search`` and ``/deleted`` before ``{record_id}``)."""
