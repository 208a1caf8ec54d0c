"""Zoho's hooks of the shared request layer (:mod:`leadsync.agent.connectors.sandbox.middleware`).

Per API call (``/crm/...``): count it (``write_requests`` for POST/PUT/DELETE); wait ``latency_ms``; check
``Authorization: Zoho-oauthtoken <token>`` (``Bearer`` too): the static sandbox token or an unexpired token
from the accounts server, else 401 ``INVALID_TOKEN`` (``AUTHENTICATION_FAILURE`` without one); apply a
scripted fault; roll the random faults; spend API credits (a convert costs 5) and the burst allowance, 429
``TOO_MANY_REQUESTS`` past them; call the route; log the answer. The token endpoint and admin paths pass.
"""

from __future__ import annotations

from leadsync.agent.connectors.sandbox.middleware import Call, ConnectionDropped
from leadsync.agent.connectors.sandbox.middleware import SandboxMiddleware as _Shared

from .errors import ZohoError, authentication_failure, invalid_token, server_error, too_many_requests
from .params import Sandbox

__all__ = ["ConnectionDropped", "ZohoMiddleware"]

CONVERT_COST = 5


class ZohoMiddleware(_Shared[Sandbox]):
    """Wraps the router; see the module docstring."""

    drop_body = b'{"data": [{"Owner": '
    auth_schemes = ("zoho-oauthtoken", "bearer")

    def error_for(self, status: int) -> ZohoError:
        if status >= 500:
            return server_error(status)
        if status == 401:
            return invalid_token()
        if status == 429:
            return too_many_requests(daily=False)
        return ZohoError(status, "INVALID_REQUEST", f"error {status} (injected by the sandbox)")

    def is_write(self, call: Call) -> bool:
        return call.path.startswith("/crm/") and call.method in ("POST", "PUT", "PATCH", "DELETE")

    def authenticate(self, call: Call) -> ZohoError | None:
        """401 unless the call needs no token or carries a valid one; notes its user in the scope."""
        if not call.path.startswith("/crm/"):
            return None
        if not call.token:
            return authentication_failure()
        sandbox = self.sandbox
        if sandbox.token is not None and call.token == sandbox.token:
            user = sandbox.state.api_user_id
        else:
            status, token = sandbox.oauth.lookup(call.token)
            if status != "valid" or token is None:
                return invalid_token()
            user = token.user_id or sandbox.state.api_user_id
        call.scope.setdefault("state", {})["zoho_user_id"] = user
        return None

    def admit(self, call: Call) -> tuple[ZohoError | None, dict[str, str]]:
        if not call.path.startswith("/crm/"):
            return None, {}
        cost = CONVERT_COST if call.path.endswith("/actions/convert") else 1
        refused = self.sandbox.credits.take(self.sandbox.state.now(), cost, self.sandbox.faults)
        return (None if refused is None else too_many_requests(daily=refused == "daily")), {}
