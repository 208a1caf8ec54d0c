"""``create_app``: the Salesforce REST API sandbox as a Starlette application.

Serve it in-process (``httpx.ASGITransport``) or on loopback (:mod:`.serve`). Routes: ``routes_oauth``
(token endpoint), ``routes_meta`` (versions, resources, limits, userinfo, identity URLs),
``routes_query`` (SOQL ``query``/``queryAll`` and their pages), ``routes_sobjects`` (describe, rows,
updated/deleted), ``routes_composite`` (sObject Collections) and ``routes_admin`` (``/__sandbox/*``); their
handlers are module-level functions that find the :class:`~.params.Sandbox` with ``params.sandbox_of``;
:class:`~.middleware.SandboxMiddleware` adds sessions, faults, the API quota and ``Sforce-Limit-Info``.
Every error answer, unknown routes included, has Salesforce's error body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from leadsync.agent.connectors.sandbox.app import sandbox_app

from . import routes_admin, routes_composite, routes_meta, routes_oauth, routes_query, routes_sobjects
from .errors import NOT_FOUND_MESSAGE, SalesforceError, error
from .faults import FaultSwitches
from .limits import ApiUsage
from .middleware import SandboxMiddleware
from .oauth import OAuthServer
from .params import Sandbox
from .seed import build_state
from .state import SandboxState

DEFAULT_TOKEN = "sandbox-token"


async def _salesforce_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SalesforceError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        failure = error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed.")
    else:
        failure = error(exc.status_code, "NOT_FOUND", NOT_FOUND_MESSAGE)
    return JSONResponse(failure.body(), status_code=failure.status)


def create_app(
    state: SandboxState | None = None,
    *,
    faults: FaultSwitches | None = None,
    token: str | None = DEFAULT_TOKEN,
    oauth: OAuthServer | None = None,
    instance_url: str | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``state`` defaults to an org seeded with 3,000 Leads and 2,000 Contacts (seed 42); ``faults`` to no
    faults and a 100,000-call daily quota; ``token`` is a static session id acting as the
    administrator (None: only OAuth sessions); ``oauth`` defaults to one connected app with
    :data:`~.oauth.DEFAULT_CLIENT_ID`/``_SECRET`` and the refresh token :data:`~.oauth.DEFAULT_REFRESH_TOKEN`
    (rotating, 2-hour sessions); ``instance_url`` is the URL token answers name (default: the URL the
    request came in on). ``app.state.sandbox`` is the :class:`~.params.Sandbox` bundle, ``app.state.crm``
    the state, ``app.state.faults`` and ``app.state.oauth`` the switches and the OAuth server.
    """
    state = state if state is not None else build_state()
    faults = faults if faults is not None else FaultSwitches()
    oauth = oauth if oauth is not None else OAuthServer(state.clock, state.org_id, user_id=state.api_user_id)
    if state.api_user_id:
        oauth.bind_default_user(state.api_user_id)
    usage = ApiUsage(state.clock, lambda: faults.quota_window_s * 1000)
    sandbox = Sandbox(state=state, faults=faults, oauth=oauth, usage=usage, token=token, instance_url=instance_url)
    routes: list[BaseRoute] = [
        *routes_admin.routes(sandbox),
        *routes_oauth.ROUTES,
        *routes_meta.ROUTES,
        *routes_query.ROUTES,
        *routes_composite.ROUTES,
        *routes_sobjects.ROUTES,
    ]
    return sandbox_app(routes, sandbox, middleware=Middleware(SandboxMiddleware, sandbox=sandbox),
                       exception_handlers={SalesforceError: _salesforce_error, HTTPException: _http_error})
