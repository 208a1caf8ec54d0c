"""``POST /crm/v3/objects/contacts/search`` (HubSpot "CRM search" guide; see ``search.py``).

Answer: ``{total, results: [contact], paging?: {next: {after}}}``; ``paging`` is absent on the
last page. ``after`` is the integer offset of the next page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .params import read_json, sandbox_of
from .routes_contacts import CONTACTS
from .search import parse_search, run_search
from .wire import contact_to_wire

SEARCH_PATH = f"{CONTACTS}/search"


async def search_contacts(request: Request) -> Response:
    """One page of the contacts a search body matches (400 on a bad body)."""
    state = sandbox_of(request).state
    body, text = await read_json(request)
    query = parse_search(body, text, state.property_defs)
    with state.lock:
        page = run_search(state, query)
        results = [contact_to_wire(c, query.properties, state.property_defs) for c in page.contacts]
    answer: dict[str, object] = {"total": page.total, "results": results}
    if page.next_after is not None:
        answer["paging"] = {"next": {"after": str(page.next_after)}}
    return JSONResponse(answer)


ROUTES = [Route(SEARCH_PATH, search_contacts, methods=["POST"])]
"""The search route."""
