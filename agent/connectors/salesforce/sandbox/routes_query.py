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
from .params import Sandbox, api_version
from .query import QueryRunner
from .soql import parse

_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def routes(sandbox: Sandbox) -> list[Route]:
    """The query routes bound to ``sandbox``."""
    state, faults = sandbox.state, sandbox.faults

    def first_page(request: Request, endpoint: str) -> Response:
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
        return JSONResponse(_maybe_break(answer))

    def more(request: Request) -> Response:
        api_version(request)
        answer = state.next_page(request.url.path)
        return JSONResponse(_maybe_break(answer))

    def _maybe_break(answer: dict[str, object]) -> dict[str, object]:
        if faults.drop_next_records_url and answer.get("done") is False:
            answer.pop("nextRecordsUrl", None)
        return answer

    async def query(request: Request) -> Response:
        return first_page(request, "query")

    async def query_all(request: Request) -> Response:
        return first_page(request, "queryAll")

    async def next_page(request: Request) -> Response:
        return more(request)

    base = "/services/data/{version}"
    return [
        Route(f"{base}/query", query, methods=["GET"]),
        Route(f"{base}/query/", query, methods=["GET"]),
        Route(f"{base}/queryAll", query_all, methods=["GET"]),
        Route(f"{base}/queryAll/", query_all, methods=["GET"]),
        Route(f"{base}/query/{{locator}}", next_page, methods=["GET"]),
        Route(f"{base}/queryAll/{{locator}}", next_page, methods=["GET"]),
    ]
