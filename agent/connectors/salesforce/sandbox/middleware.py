"""Salesforce's hooks of the shared request layer (:mod:`leadsync.agent.connectors.sandbox.middleware`).

Per request: count it (``write_requests`` for calls that change data); wait ``latency_ms``; for API calls
(``/services/data/vNN.N/...``), ``/services/oauth2/userinfo`` and identity URLs check ``Authorization:
Bearer <session>`` (or ``OAuth <session>``): the static sandbox token or an unexpired session from the
token endpoint, else 401 ``INVALID_SESSION_ID``; apply a scripted fault; roll the random faults (drop,
429, 5xx); count the call against the rolling 24-hour quota (403 ``REQUEST_LIMIT_EXCEEDED`` past it);
call the route; add ``Sforce-Limit-Info: api-usage=N/M`` to API answers; log the answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from leadsync.agent.connectors.sandbox.middleware import Call, ConnectionDropped
from leadsync.agent.connectors.sandbox.middleware import SandboxMiddleware as _Shared

from .errors import SalesforceError, error, invalid_session, request_limit_exceeded, server_error, too_many_requests
from .params import Sandbox
from .routes_admin import ADMIN_PREFIX

__all__ = ["API_PATH", "ConnectionDropped", "SandboxMiddleware"]

API_PATH = re.compile(r"^/services/data/v\d+\.\d+(?:/|$)")
UNLIMITED = 15_000_000


def _needs_session(path: str) -> bool:
    return bool(API_PATH.match(path)) or path == "/services/oauth2/userinfo" or path.startswith("/id/")


class SandboxMiddleware(_Shared[Sandbox]):
    """Wraps the router; see the module docstring."""

    admin_prefix = ADMIN_PREFIX
    content_type = "application/json;charset=UTF-8"
    drop_body = b'{"totalSize": 3, "records": ['
    auth_schemes = ("bearer", "oauth")

    def error_for(self, status: int) -> SalesforceError:
        if status >= 500:
            return server_error(status)
        if status == 401:
            return invalid_session()
        if status == 403:
            return request_limit_exceeded()
        if status == 404:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        if status == 429:
            return too_many_requests()
        return error(status, "INVALID_INPUT", f"error {status} (injected by the sandbox)")

    def is_write(self, call: Call) -> bool:
        method, path = call.method, call.path
        return method in ("POST", "PATCH", "DELETE") and bool(API_PATH.match(path)) and (
            "/sobjects" in path) and not path.rstrip("/").endswith(("/describe", "/updated", "/deleted"))

    def authenticate(self, call: Call) -> SalesforceError | None:
        """401 ``INVALID_SESSION_ID`` unless the call needs no session or has a valid one; notes the
        session's user in ``scope["state"]["sf_user_id"]``."""
        if not _needs_session(call.path):
            return None
        user = self._user(call.token)
        if user is None:
            return invalid_session()
        call.scope.setdefault("state", {})["sf_user_id"] = user
        return None

    def _user(self, token: str | None) -> str | None:
        if not token:
            return None
        sandbox = self.sandbox
        if sandbox.token is not None and token == sandbox.token:
            return sandbox.state.api_user_id
        status, user = sandbox.oauth.session(token)
        return user if status == "valid" else None

    def quota_headers(self, call: Call, used: int | None = None) -> dict[str, str]:
        if not API_PATH.match(call.path):
            return {}
        faults = self.sandbox.faults
        limit = faults.daily_limit if faults.daily_limit is not None else UNLIMITED
        return {"Sforce-Limit-Info": f"api-usage={self.sandbox.usage.used() if used is None else used}/{limit}"}

    def admit(self, call: Call) -> tuple[SalesforceError | None, dict[str, str]]:
        if not API_PATH.match(call.path):
            return None, {}
        allowed, used = self.sandbox.usage.take(self.sandbox.faults.daily_limit)
        return (None if allowed else request_limit_exceeded()), self.quota_headers(call, used)

    def log_body(self, body: bytes) -> Any:
        """The JSON body, or (unparsable) its first 2,000 characters."""
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", errors="replace")[:2000]
