"""HubSpot's hooks of the shared request layer (:mod:`leadsync.agent.connectors.sandbox.middleware`).

Per request: count it (``write_requests`` for endpoints that change data); wait ``latency_ms``; check
``Authorization: Bearer <token>`` (401 ``INVALID_AUTHENTICATION``, or ``EXPIRED_AUTHENTICATION`` for an
OAuth access token past its lifetime); apply a scripted fault; roll the random faults (drop, 429, 5xx);
apply the rate limits (429 ``SECONDLY``/``DAILY`` with ``Retry-After``); call the route; add the
``X-HubSpot-RateLimit-*`` headers; delay the body by ``slow_body_ms``; log the answer.
"""

from __future__ import annotations

from leadsync.agent.connectors.sandbox.middleware import Call, ConnectionDropped
from leadsync.agent.connectors.sandbox.middleware import SandboxMiddleware as _Shared

from .errors import HubSpotError, expired_token, rate_limited, server_error, unauthorized
from .params import Sandbox
from .routes_admin import ADMIN_PREFIX
from .routes_contacts import CONTACTS
from .routes_oauth import TOKEN_PATH
from .timefmt import ms_to_iso

__all__ = ["PUBLIC_ROUTES", "WRITE_ROUTES", "ConnectionDropped", "SandboxMiddleware"]

WRITE_ROUTES = frozenset(
    {
        ("POST", CONTACTS),
        ("PATCH", f"{CONTACTS}/{{contactId}}"),
        ("DELETE", f"{CONTACTS}/{{contactId}}"),
        ("POST", f"{CONTACTS}/merge"),
        ("POST", f"{CONTACTS}/batch/create"),
        ("POST", f"{CONTACTS}/batch/update"),
        ("POST", f"{CONTACTS}/batch/upsert"),
        ("POST", f"{CONTACTS}/batch/archive"),
    }
)
"""``(method, route template)`` of every endpoint that changes data."""

SEARCH_ROUTE = f"{CONTACTS}/search"
PUBLIC_ROUTES = frozenset({"/oauth/v1/access-tokens/{token}", TOKEN_PATH})


class SandboxMiddleware(_Shared[Sandbox]):
    """Wraps the router (give it ``routes``: writes, public routes and search are told by template)."""

    admin_prefix = ADMIN_PREFIX

    def error_for(self, status: int) -> HubSpotError:
        if status >= 500:
            return server_error(status)
        if status == 429:
            return rate_limited("SECONDLY")
        if status == 401:
            return unauthorized()
        if status == 404:
            return HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
        if status == 409:
            return HubSpotError(409, "CONFLICT", "conflict (injected by the sandbox)")
        return HubSpotError(status, "VALIDATION_ERROR", f"error {status} (injected by the sandbox)")

    def is_write(self, call: Call) -> bool:
        return (call.method, call.template) in WRITE_ROUTES

    def authenticate(self, call: Call) -> HubSpotError | None:
        """None when the token may call the API: the sandbox token, the private-app token or an unexpired
        OAuth access token (or auth is off, or the route is public); else the 401 HubSpot answers."""
        sandbox, token = self.sandbox, call.token
        if sandbox.token is None or call.template in PUBLIC_ROUTES:
            return None
        if not token:
            return unauthorized()
        if token == sandbox.token or token == sandbox.oauth.private_app_token:
            return None
        state, expires_at = sandbox.oauth.state_of(token)
        if state == "valid":
            return None
        if state == "expired":
            return expired_token(sandbox.state.clock() - expires_at, ms_to_iso(expires_at))
        return unauthorized()

    def quota_headers(self, call: Call) -> dict[str, str]:
        return self.sandbox.limiter.peek_headers(call.token or "", self.sandbox.faults)

    def admit(self, call: Call) -> tuple[HubSpotError | None, dict[str, str]]:
        is_search = call.template == SEARCH_ROUTE and call.method == "POST"
        decision = self.sandbox.limiter.check(call.token or "", self.sandbox.faults, is_search=is_search)
        if decision.policy is None:
            return None, decision.headers
        return rate_limited(decision.policy), {**decision.headers, "Retry-After": str(decision.retry_after_s)}

    def body_delay_ms(self) -> int:
        return self.sandbox.faults.slow_body_ms
