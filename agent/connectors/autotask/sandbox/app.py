"""``create_app``: the Autotask REST API sandbox as a Starlette application.

Serve it in-process (``httpx.ASGITransport``) or on loopback (:mod:`.serve`). Routes: :mod:`.routes_query`
and :mod:`.routes_entities` (the API under ``/atservicesrest``) and :mod:`.routes_admin` (the shared
``/__sandbox/faults|stats|clock``); their handlers are module-level functions that find the
:class:`~.params.Sandbox` with ``params.sandbox_of``;
:class:`~.middleware.Middleware` adds the credential check, faults and the hourly request threshold.
Every error answer, unknown routes and wrong methods included, has Autotask's ``{"errors": [...]}`` body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware as StarletteMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from leadsync.agent.connectors.sandbox.app import sandbox_app

from . import routes_admin, routes_entities, routes_query
from .errors import AutotaskError
from .faults import FaultSwitches
from .middleware import Middleware
from .params import ApiUser, Sandbox
from .seed import build_state
from .state import DEFAULT_INTEGRATION_CODE, DEFAULT_SECRET, DEFAULT_USERNAME, AutotaskState


async def _autotask_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AutotaskError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = (f"The requested resource does not support http method '{request.method}'."
               if exc.status_code == 405 else "No HTTP resource was found that matches the request URI.")
    return JSONResponse({"errors": [message]}, status_code=exc.status_code)


def create_app(
    state: AutotaskState | None = None,
    *,
    faults: FaultSwitches | None = None,
    username: str = DEFAULT_USERNAME,
    secret: str = DEFAULT_SECRET,
    integration_code: str = DEFAULT_INTEGRATION_CODE,
    zone_url: str | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``state`` defaults to a database seeded by :func:`~.seed.build_state` (2,000 contacts, seed 42);
    ``faults`` to none and Autotask's threshold of 10,000 requests per rolling hour; ``username``,
    ``secret`` and ``integration_code`` are the only credentials accepted; ``zone_url`` is the URL
    ``zoneInformation`` and ``nextPageUrl`` name (default: the URL the request came in on plus
    ``/atservicesrest``). ``app.state.sandbox`` is the :class:`~.params.Sandbox` bundle, ``app.state.crm``
    the state, ``app.state.faults`` the switches.
    """
    state = state if state is not None else build_state()
    faults = faults if faults is not None else FaultSwitches()
    sandbox = Sandbox(state=state, faults=faults, user=ApiUser(username, secret, integration_code), zone_url=zone_url)
    all_routes: list[BaseRoute] = [*routes_admin.routes(sandbox), *routes_query.ROUTES, *routes_entities.ROUTES]
    middleware = StarletteMiddleware(Middleware, sandbox=sandbox, routes=all_routes)
    return sandbox_app(all_routes, sandbox, middleware=middleware,
                       exception_handlers={AutotaskError: _autotask_error, HTTPException: _http_error})
