"""``POST /crm/v3/objects/contacts/search`` (HubSpot "CRM search" guide; see ``search.py``).

Answer: ``{total, results: [contact], paging?: {next: {after}}}``; ``paging`` is absent on the
last page. ``after`` is the integer offset of the next page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .params import Sandbox, read_json
from .routes_contacts import CONTACTS
from .search import parse_search, run_search
from .wire import contact_to_wire

SEARCH_PATH = f"{CONTACTS}/search"


def routes(sandbox: Sandbox) -> list[Route]:
    """The search route bound to ``sandbox``."""
    state = sandbox.state

    async def search(request: Request) -> Response:
        body, text = await read_json(request)
        query = parse_search(body, text, state.property_defs)
        with state.lock:
            page = run_search(state, query)
            results = [contact_to_wire(c, query.properties, state.property_defs) for c in page.contacts]
        answer: dict[str, object] = {"total": page.total, "results": results}
        if page.next_after is not None:
            answer["paging"] = {"next": {"after": str(page.next_after)}}
        return JSONResponse(answer)

    return [Route(SEARCH_PATH, search, methods=["POST"])]
