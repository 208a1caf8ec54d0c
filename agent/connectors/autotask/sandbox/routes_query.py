"""Queries (Autotask REST API "Query", "Paging" and "Count" calls), under ``/atservicesrest/V1.0/{Entity}``:

- ``POST .../query`` ``{MaxRecords?, IncludeFields?, filter}`` -> ``{items, pageDetails: {count, requestCount,
  prevPageUrl, nextPageUrl}}``, items in id order, at most ``faults.page_size`` (500) a page;
- ``POST .../query/next?paging=...`` with the **same body** -> the next page. The paging parameter only says
  where the page starts; the filter comes from the body, so a GET (no body) is answered 405 and a POST
  without a filter 500 (case B04);
- ``POST .../query/count`` ``{filter}`` -> ``{"queryCount": n}``.

A bad filter or ``IncludeFields`` is refused with 500 ``{"errors": [...]}``, as Autotask answers.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import refused
from .filters import FilterError, check, predicate
from .params import REST_ROOT, Sandbox, entity_of, key_of, read_json, read_object, sandbox_of
from .schema import field_map

ENTITY = f"{REST_ROOT}/{{version}}/{{entity}}"


def _paging(raw: str | None) -> list[int]:
    """The ``afterIds`` of a ``paging`` parameter (the last id of each page so far); 500 when malformed."""
    try:
        paging = json.loads(raw or "")
        after = paging["afterIds"]
        if not isinstance(after, list) or not all(isinstance(i, int) for i in after):
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise refused("The paging parameter of this nextPageUrl is not valid.") from None


def _page_url(sandbox: Sandbox, request: Request, entity: str, size: int, after: list[int]) -> str:
    paging = json.dumps({"pageSize": size, "afterIds": after}, separators=(",", ":"))
    return f"{sandbox.zone_of(request)}/V1.0/{entity}/query/next?paging={quote(paging, safe='')}"


def _conditions(entity: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The query's ``filter``, checked against the entity's fields; 500 for a bad one."""
    conditions = key_of(query, "filter")
    try:
        check(conditions, field_map(entity))
    except FilterError as exc:
        raise refused(str(exc)) from None
    return list(conditions)


def _page(request: Request, entity: str, query: dict[str, Any], after: list[int]) -> dict[str, Any]:
    """The page of matching rows after ``after[-1]`` (``IncludeFields`` only, plus ``id``), with its
    ``pageDetails`` (``nextPageUrl`` when more rows match, ``prevPageUrl`` unless it is the first)."""
    sandbox = sandbox_of(request)
    fields = field_map(entity)
    size = key_of(query, "MaxRecords")
    size = size if isinstance(size, int) and not isinstance(size, bool) and 0 < size else sandbox.faults.page_size
    size = min(size, sandbox.faults.page_size)
    include = key_of(query, "IncludeFields") or []
    unknown = [f for f in include if str(f).lower() not in fields]
    if not isinstance(include, list) or unknown:
        raise refused(f"Unable to find field(s) {unknown} in the {entity} entity.")
    test = predicate(_conditions(entity, query), fields)
    rows: list[dict[str, Any]] = []
    for row in sandbox.state.rows_after(entity, after[-1] if after else None):
        if test(row):
            rows.append(dict(row))
            if len(rows) > size:
                break
    items = rows[:size]
    if include:
        names = ["id", *(fields[str(f).lower()]["name"] for f in include)]
        items = [{name: row.get(name) for name in dict.fromkeys(names)} for row in items]
    more = len(rows) > size
    return {"items": items, "pageDetails": {
        "count": len(items), "requestCount": size,
        "prevPageUrl": _page_url(sandbox, request, entity, size, after[:-1]) if after else None,
        "nextPageUrl": _page_url(sandbox, request, entity, size, [*after, items[-1]["id"]]) if more else None}}


async def query(request: Request) -> Response:
    """``POST .../query``: the first page."""
    return JSONResponse(_page(request, entity_of(request), await read_object(request), []))


async def query_next(request: Request) -> Response:
    """``POST .../query/next?paging=``: a later page of the query in the body."""
    entity = entity_of(request)
    after = _paging(request.query_params.get("paging"))
    body = await read_json(request)
    if not isinstance(body, dict) or key_of(body, "filter") is None:
        raise refused("A query page must be requested with the query's filter in the body.")
    return JSONResponse(_page(request, entity, body, after))


async def query_count(request: Request) -> Response:
    """``POST .../query/count``: how many rows match."""
    state = sandbox_of(request).state
    entity = entity_of(request)
    test = predicate(_conditions(entity, await read_object(request)), field_map(entity))
    return JSONResponse({"queryCount": len([row for row in state.rows_after(entity, None) if test(row)])})


ROUTES = [
    Route(f"{ENTITY}/query", query, methods=["POST"]),
    Route(f"{ENTITY}/query/next", query_next, methods=["POST"]),
    Route(f"{ENTITY}/query/count", query_count, methods=["POST"]),
]
"""The query routes (``app`` lists them before ``routes_entities``' ``{section}/{sub}``)."""
