"""``create_app``: the Zoho CRM sandbox (accounts server and API domain in one) as a Starlette application.

Serve it in-process (``httpx.ASGITransport``) or on loopback (:mod:`.serve`). Routes: ``routes_oauth`` (the
token endpoint), ``routes_meta`` (users, org, field metadata), ``routes_writes`` (inserts, updates, upserts,
deletes, conversion), ``routes_records`` (lists, reads, searches, deleted records) and ``routes_admin``
(``/__sandbox/*``); their handlers are module-level functions that find the :class:`~.params.Sandbox` with
``params.sandbox_of``. :class:`~.middleware.ZohoMiddleware` adds tokens, faults and API credits.
Every error answer, unknown routes included, has Zoho's error body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from leadsync.agent.connectors.sandbox.app import sandbox_app

from . import routes_admin, routes_meta, routes_oauth, routes_records, routes_writes
from .errors import ZohoError
from .faults import ZohoFaults
from .limits import Credits
from .middleware import ZohoMiddleware
from .oauth import ZohoTokenBook
from .params import Sandbox
from .seed import build_state
from .state import SandboxState

DEFAULT_TOKEN = "1000.sandbox0static0token.0000000000000000"
"""A static access token acting as the administrator (``leadsync sandbox`` prints it)."""


async def _zoho_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZohoError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    failure = ZohoError(exc.status_code, "INVALID_URL_PATTERN" if exc.status_code == 404 else "INVALID_REQUEST_METHOD",
                        "Please check if the URL trying to access is a correct one" if exc.status_code == 404
                        else "The http request method type is not a valid one")
    return JSONResponse(failure.body(), status_code=failure.status)


def create_app(
    state: SandboxState | None = None,
    *,
    faults: ZohoFaults | None = None,
    token: str | None = DEFAULT_TOKEN,
    oauth: ZohoTokenBook | None = None,
    api_domain: str | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``state`` defaults to an org seeded with 300 Leads and 200 Contacts (seed 42); ``faults`` to no faults
    and 100,000 API credits a day; ``token`` is a static access token acting as the administrator (None: only
    tokens from the accounts server); ``oauth`` defaults to one client
    (:data:`~.oauth.DEFAULT_CLIENT_ID`/``_SECRET``) with the refresh token :data:`~.oauth.DEFAULT_REFRESH_TOKEN`
    (acting as the administrator; one-hour access tokens); ``api_domain`` is the URL token answers name
    (default: the URL the request came in on). ``app.state.sandbox`` is the :class:`~.params.Sandbox`
    bundle; ``app.state.crm``, ``app.state.faults`` and ``app.state.oauth`` its parts.
    """
    state = state if state is not None else build_state()
    faults = faults if faults is not None else ZohoFaults()
    oauth = oauth if oauth is not None else ZohoTokenBook(state.clock, user_id=state.api_user_id)
    sandbox = Sandbox(state=state, faults=faults, oauth=oauth, credits=Credits(), token=token, api_domain=api_domain)
    routes: list[BaseRoute] = [*routes_admin.routes(sandbox), *routes_oauth.ROUTES, *routes_meta.ROUTES,
                               *routes_writes.ROUTES, *routes_records.ROUTES]
    return sandbox_app(routes, sandbox, middleware=Middleware(ZohoMiddleware, sandbox=sandbox, routes=routes),
                       exception_handlers={ZohoError: _zoho_error, HTTPException: _http_error})
