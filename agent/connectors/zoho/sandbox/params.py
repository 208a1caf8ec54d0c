"""What every route handler needs (:class:`Sandbox`) and reading requests the way Zoho does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from leadsync.agent.connectors.sandbox.app import bundle_of

from .errors import ZohoError
from .faults import ZohoFaults
from .limits import Credits
from .oauth import ZohoTokenBook
from .schema import MODULES
from .state import SandboxState

API_VERSIONS: Final = frozenset({"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"})
RECORDS: Final = "/crm/{version}/{module}"
"""The route template of a module's records."""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The org ``state``, the ``faults``, the accounts server's ``oauth`` book, the API ``credits``, a static
    access ``token`` acting as the administrator (None: only OAuth tokens) and ``api_domain`` (None: the
    URL the request came in on, so accounts server and API domain are the same local server)."""

    state: SandboxState
    faults: ZohoFaults
    oauth: ZohoTokenBook
    credits: Credits
    token: str | None
    api_domain: str | None


def sandbox_of(request: Request) -> Sandbox:
    """The :class:`Sandbox` of the app serving ``request`` (``app.state.sandbox``)."""
    return bundle_of(request, Sandbox)


def api_domain(sandbox: Sandbox, request: Request) -> str:
    """The API domain to name in token answers: the configured one, or the request's own origin."""
    return (sandbox.api_domain or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")


def module_of(request: Request) -> str:
    """The ``{module}`` path parameter; 400 ``INVALID_MODULE`` for one the sandbox does not have."""
    version = str(request.path_params.get("version", ""))
    if version not in API_VERSIONS:
        raise ZohoError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
    name = str(request.path_params.get("module", ""))
    if name not in MODULES:
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0})
    return name


def acting_user(request: Request, sandbox: Sandbox) -> str:
    """The user the request's token belongs to (set by the middleware)."""
    user = request.scope.get("state", {}).get("zoho_user_id")
    return user if isinstance(user, str) and user else sandbox.state.api_user_id


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """A whole-number query parameter within ``low..high``; 400 ``INVALID_DATA`` otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ZohoError(400, "INVALID_DATA", f"invalid value for {name}", {"param_name": name})
    return value


async def read_records(request: Request, limit: int = 100) -> list[Any]:
    """The ``data`` list of a write's JSON body (at most ``limit`` records); 400 otherwise."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ZohoError(400, "INVALID_DATA", "body is not a valid JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "data"})
    if len(data) > limit:
        raise ZohoError(400, "LIMIT_EXCEEDED", f"Only {limit} records can be processed in a request",
                        {"limit": limit})
    return data
