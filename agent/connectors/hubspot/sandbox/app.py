"""``create_app``: the HubSpot CRM v3 sandbox as a Starlette application.

Serve it in-process (``httpx.ASGITransport``) or on loopback (``serve.serve`` /
``serve.serve_in_thread``). Routes: ``routes_contacts``, ``routes_batch``, ``routes_search``,
``routes_directory`` (owners, users, teams, account), ``routes_properties``, ``routes_oauth`` (the
OAuth token endpoint, token info) and ``routes_admin`` (``/__sandbox/*``); their handlers are
module-level functions that find the :class:`~.params.Sandbox` with ``params.sandbox_of(request)``.
``middleware.SandboxMiddleware`` adds auth, rate limits and faults. Bearer tokens accepted: ``token``,
the private-app token and unexpired OAuth access tokens the token endpoint issued (see ``oauth``).
Every error answer, unknown routes included, has HubSpot's error body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from leadsync.agent.connectors.sandbox.app import sandbox_app

from . import (
    routes_admin,
    routes_batch,
    routes_contacts,
    routes_directory,
    routes_oauth,
    routes_properties,
    routes_search,
)
from .errors import HubSpotError
from .faults import FaultSwitches
from .limits import RateLimiter
from .middleware import SandboxMiddleware
from .oauth import OAuthServer
from .params import Sandbox
from .seed import build_state
from .state import SandboxState

DEFAULT_TOKEN = "sandbox-token"


async def _hubspot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubSpotError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = HubSpotError(405, "VALIDATION_ERROR", f"Method {request.method} is not allowed on {request.url.path}")
    else:
        error = HubSpotError(
            exc.status_code, "OBJECT_NOT_FOUND", f"Resource not found: {request.method} {request.url.path}"
        )
    return JSONResponse(error.body(), status_code=error.status)


def create_app(
    state: SandboxState | None = None,
    *,
    faults: FaultSwitches | None = None,
    token: str | None = DEFAULT_TOKEN,
    oauth: OAuthServer | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``state`` defaults to a fresh account seeded with 10,000 contacts (seed 42); ``faults``
    defaults to HubSpot's own limits and no injected faults; ``token`` is the accepted bearer
    token (``None`` disables the auth check); ``oauth`` defaults to one OAuth app with the
    ``sandbox.oauth.DEFAULT_*`` client id, secret and refresh token, and the private-app token
    ``DEFAULT_PRIVATE_APP_TOKEN``. ``app.state.crm`` is the ``SandboxState``, ``app.state.faults``
    the ``FaultSwitches``, ``app.state.oauth`` the ``OAuthServer`` and ``app.state.sandbox`` the bundle.
    """
    state = state if state is not None else build_state()
    faults = faults if faults is not None else FaultSwitches()
    state.search_lag_source = lambda: faults.search_lag_s
    oauth = oauth if oauth is not None else OAuthServer(state.clock)
    sandbox = Sandbox(state=state, faults=faults, limiter=RateLimiter(state.clock), token=token, oauth=oauth)
    routes: list[BaseRoute] = [
        *routes_admin.routes(sandbox),
        *routes_search.ROUTES,
        *routes_batch.ROUTES,
        *routes_contacts.ROUTES,
        *routes_directory.ROUTES,
        *routes_properties.ROUTES,
        *routes_oauth.ROUTES,
    ]
    return sandbox_app(routes, sandbox, middleware=Middleware(SandboxMiddleware, sandbox=sandbox, routes=routes),
                       exception_handlers={HubSpotError: _hubspot_error, HTTPException: _http_error})
