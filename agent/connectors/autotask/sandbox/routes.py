"""The Autotask REST API routes of the sandbox, under ``/atservicesrest`` (version and entity names in any
case, as Autotask reads them):

- ``GET /versioninformation`` -> ``{"apiVersions": ["1.0"]}``;
- ``GET /V1.0/zoneInformation?user=`` -> ``{zoneName, url, webUrl, ci}`` (no credentials needed);
- ``GET /V1.0/{Entity}/entityInformation/fields`` -> ``{"fields": [...]}`` (Contacts, Companies, Resources);
- ``POST /V1.0/{Entity}/query`` ``{MaxRecords?, IncludeFields?, filter}`` -> ``{items, pageDetails: {count,
  requestCount, prevPageUrl, nextPageUrl}}``, items in id order, at most ``faults.page_size`` (500) a page;
- ``POST /V1.0/{Entity}/query/next?paging=...`` with the **same body** -> the next page. The paging
  parameter only says where the page starts; the filter comes from the body, so a GET (no body) is
  answered 405 and a POST without a filter 500 (case B04);
- ``POST /V1.0/{Entity}/query/count`` ``{filter}`` -> ``{"queryCount": n}``;
- ``GET /V1.0/{Entity}/{id}`` -> ``{"item": {...}}``;
- ``POST /V1.0/Companies`` -> ``{"itemId": n}``;
- ``POST|PATCH /V1.0/Companies/{companyId}/Contacts`` -> ``{"itemId": n}`` (contacts are created and
  updated under their company; ``POST /V1.0/Contacts`` answers 405).
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .errors import AutotaskError, refused
from .filters import FilterError, check, predicate
from .params import REST_ROOT, Sandbox, read_json, read_object
from .schema import FIELDS, field_map

ENTITIES: Final = {name.lower(): name for name in FIELDS}


def _entity(request: Request) -> str:
    if str(request.path_params.get("version", "")).lower() != "v1.0":
        raise AutotaskError(404, "The API version in the URL is not supported; use V1.0.")
    name = ENTITIES.get(str(request.path_params.get("entity", "")).lower())
    if name is None:
        raise AutotaskError(404, f"Unknown entity '{request.path_params.get('entity')}'.")
    return name


def _key(body: dict[str, Any], name: str) -> Any:
    return next((v for k, v in body.items() if k.lower() == name.lower()), None)


def _paging(raw: str | None) -> list[int]:
    try:
        paging = json.loads(raw or "")
        after = paging["afterIds"]
        if not isinstance(after, list) or not all(isinstance(i, int) for i in after):
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise refused("The paging parameter of this nextPageUrl is not valid.") from None


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    """The API routes bound to ``sandbox``."""
    state = sandbox.state

    def page_url(request: Request, entity: str, size: int, after: list[int]) -> str:
        paging = json.dumps({"pageSize": size, "afterIds": after}, separators=(",", ":"))
        return f"{sandbox.zone_of(request)}/V1.0/{entity}/query/next?paging={quote(paging, safe='')}"

    def checked(entity: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        conditions = _key(query, "filter")
        try:
            check(conditions, field_map(entity))
        except FilterError as exc:
            raise refused(str(exc)) from None
        return list(conditions)

    def filtered(entity: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        test = predicate(checked(entity, query), field_map(entity))
        return [row for row in state.rows_after(entity, None) if test(row)]

    def page(request: Request, entity: str, query: dict[str, Any], after: list[int]) -> dict[str, Any]:
        fields = field_map(entity)
        size = _key(query, "MaxRecords")
        size = size if isinstance(size, int) and not isinstance(size, bool) and 0 < size else sandbox.faults.page_size
        size = min(size, sandbox.faults.page_size)
        include = _key(query, "IncludeFields") or []
        unknown = [f for f in include if str(f).lower() not in fields]
        if not isinstance(include, list) or unknown:
            raise refused(f"Unable to find field(s) {unknown} in the {entity} entity.")
        test = predicate(checked(entity, query), fields)
        rows: list[dict[str, Any]] = []
        for row in state.rows_after(entity, after[-1] if after else None):
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
            "prevPageUrl": page_url(request, entity, size, after[:-1]) if after else None,
            "nextPageUrl": page_url(request, entity, size, [*after, items[-1]["id"]]) if more else None}}

    async def version_information(request: Request) -> Response:
        return JSONResponse({"apiVersions": ["1.0"]})

    async def root(request: Request) -> Response:
        entity_name = str(request.path_params.get("entity", "")).lower()
        if request.method == "GET" and entity_name == "zoneinformation":
            _version_only(request)
            user = request.query_params.get("user", "")
            if user.strip().lower() != sandbox.user.username.lower():
                raise AutotaskError(500, f"Zone information could not be found for the user '{user}'.")
            zone = sandbox.zone_of(request)
            return JSONResponse({"zoneName": "Leadsync Sandbox", "url": zone + "/",
                                 "webUrl": zone.removesuffix(REST_ROOT) + "/", "ci": state.ci})
        entity = _entity(request)
        if request.method != "POST" or entity != "Companies":
            raise AutotaskError(405, f"The requested resource does not support http method '{request.method}'.")
        return JSONResponse({"itemId": state.create_company(await read_object(request))})

    async def query(request: Request) -> Response:
        return JSONResponse(page(request, _entity(request), await read_object(request), []))

    async def query_next(request: Request) -> Response:
        entity = _entity(request)
        after = _paging(request.query_params.get("paging"))
        body = await read_json(request)
        if not isinstance(body, dict) or _key(body, "filter") is None:
            raise refused("A query page must be requested with the query's filter in the body.")
        return JSONResponse(page(request, entity, body, after))

    async def query_count(request: Request) -> Response:
        entity = _entity(request)
        return JSONResponse({"queryCount": len(filtered(entity, await read_object(request)))})

    async def by_id(request: Request) -> Response:
        entity = _entity(request)
        row = state.get(entity, int(request.path_params["item_id"]))
        return JSONResponse({"item": row})

    async def section(request: Request) -> Response:
        entity = _entity(request)
        part, sub = str(request.path_params["section"]).lower(), str(request.path_params["sub"]).lower()
        if part == "entityinformation" and sub == "fields":
            return JSONResponse({"fields": list(FIELDS[entity])})
        if part == "query":
            raise AutotaskError(405, f"The requested resource does not support http method '{request.method}'.")
        raise AutotaskError(404, "No HTTP resource was found that matches the request URI.")

    async def company_contacts(request: Request) -> Response:
        if _entity(request) != "Companies" or str(request.path_params["child"]).lower() != "contacts":
            raise AutotaskError(404, "No HTTP resource was found that matches the request URI.")
        company_id = int(request.path_params["parent_id"])
        body = await read_object(request)
        if request.method == "POST":
            return JSONResponse({"itemId": state.create_contact(company_id, body)})
        return JSONResponse({"itemId": state.patch_contact(company_id, body)})

    base = f"{REST_ROOT}/{{version}}/{{entity}}"
    return [
        Route(f"{REST_ROOT}/versioninformation", version_information, methods=["GET"]),
        Route(f"{base}/query", query, methods=["POST"]),
        Route(f"{base}/query/next", query_next, methods=["POST"]),
        Route(f"{base}/query/count", query_count, methods=["POST"]),
        Route(f"{base}/{{parent_id:int}}/{{child}}", company_contacts, methods=["POST", "PATCH"]),
        Route(f"{base}/{{section}}/{{sub}}", section, methods=["GET"]),
        Route(f"{base}/{{item_id:int}}", by_id, methods=["GET"]),
        Route(base, root, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]


def _version_only(request: Request) -> None:
    if str(request.path_params.get("version", "")).lower() != "v1.0":
        raise AutotaskError(404, "The API version in the URL is not supported; use V1.0.")
