"""``GET /services/data/vNN.N/query?q=<SOQL>`` and ``/queryAll`` ("Execute a SOQL Query", REST API
Developer Guide), and the pages behind their ``nextRecordsUrl``.

An answer is ``{totalSize, done, nextRecordsUrl?, records}``. Rows are taken when the query runs (a
query locator is a snapshot) and served in pages of 2,000 by default; a ``Sforce-Query-Options:
batchSize=N`` header asks for N (200..2,000) and the fault switches ``query_page_size`` /
``query_page_sizes`` set them (case B03: 1,000, 1,000 and 137). A page that is not the last names the
next one as ``/services/data/vNN.N/query/01g...-<offset>``; only URLs the sandbox issued are answered
(404 for any other), and a locator idle for 15 minutes answers 400 ``INVALID_QUERY_LOCATOR``.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import malformed_query
from .faults import FaultSwitches
from .params import api_version, sandbox_of
from .query import QueryRunner
from .soql import parse

_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def _maybe_break(faults: FaultSwitches, answer: dict[str, object]) -> dict[str, object]:
    """With ``drop_next_records_url``, a page that is not the last loses its ``nextRecordsUrl`` (a fault)."""
    if faults.drop_next_records_url and answer.get("done") is False:
        answer.pop("nextRecordsUrl", None)
    return answer


def _first_page(request: Request, endpoint: str) -> Response:
    """Run ``q`` (``queryAll`` includes deleted rows) and answer its first page; 400 ``MALFORMED_QUERY``."""
    sandbox = sandbox_of(request)
    state, faults = sandbox.state, sandbox.faults
    version = api_version(request)
    text = request.query_params.get("q")
    if not text:
        raise malformed_query("A query string has to be specified")
    query = parse(text)
    match = _BATCH.search(request.headers.get("Sforce-Query-Options", ""))
    sizes = faults.page_sizes(int(match.group(1)) if match else None)
    with state.lock:
        rows = QueryRunner(state, query, include_deleted=endpoint == "queryAll", version=version).run()
        answer = state.open_cursor(rows, endpoint=endpoint, version=version, sizes=sizes)
    return JSONResponse(_maybe_break(faults, answer))


async def query(request: Request) -> Response:
    """``GET /query?q=``: the first page of a SOQL query."""
    return _first_page(request, "query")


async def query_all(request: Request) -> Response:
    """``GET /queryAll?q=``: the first page, deleted (Recycle Bin) rows included."""
    return _first_page(request, "queryAll")


async def next_page(request: Request) -> Response:
    """``GET /query/{locator}`` (or ``/queryAll/...``): the page a ``nextRecordsUrl`` names; 404 for a URL the
    sandbox did not issue, 400 ``INVALID_QUERY_LOCATOR`` for one idle too long."""
    sandbox = sandbox_of(request)
    api_version(request)
    answer = sandbox.state.next_page(request.url.path)
    return JSONResponse(_maybe_break(sandbox.faults, answer))


_BASE = "/services/data/{version}"
ROUTES = [
    Route(f"{_BASE}/query", query, methods=["GET"]),
    Route(f"{_BASE}/query/", query, methods=["GET"]),
    Route(f"{_BASE}/queryAll", query_all, methods=["GET"]),
    Route(f"{_BASE}/queryAll/", query_all, methods=["GET"]),
    Route(f"{_BASE}/query/{{locator}}", next_page, methods=["GET"]),
    Route(f"{_BASE}/queryAll/{{locator}}", next_page, methods=["GET"]),
]
"""The query routes."""
