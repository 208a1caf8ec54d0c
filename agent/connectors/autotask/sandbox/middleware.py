"""Autotask's hooks of the shared request layer (:mod:`leadsync.agent.connectors.sandbox.middleware`).

API calls (``/atservicesrest/V1.0/...``, any case) need the headers ``ApiIntegrationCode``, ``UserName``
and ``Secret`` of the sandbox's API user, else 401; ``zoneInformation`` and ``versioninformation`` need
none and are not counted against the threshold (Autotask exempts ZoneInformation from its limits). Every
other API call counts against the rolling-hour request threshold: past it, 429 with ``Retry-After`` (the
seconds until the oldest request of the hour ages out). Writes are the POST/PATCH/PUT/DELETE calls that
are not queries.
"""

from __future__ import annotations

import re
from typing import Final

from leadsync.agent.connectors.sandbox.middleware import Call, ConnectionDropped
from leadsync.agent.connectors.sandbox.middleware import SandboxMiddleware as _Shared

from .errors import AutotaskError, error_for, threshold_exceeded, unauthorized
from .params import ADMIN_PREFIX, Sandbox

__all__ = ["API_PATH", "ConnectionDropped", "Middleware"]

API_PATH: Final = re.compile(r"^/atservicesrest/v1\.0(?:/|$)", re.IGNORECASE)
_FREE: Final = re.compile(r"^/atservicesrest/(?:v1\.0/zoneinformation|versioninformation)/?$", re.IGNORECASE)


def _header(call: Call, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in call.scope.get("headers", []):
        if key == wanted:
            text: str = value.decode("latin-1")
            return text
    return None


class Middleware(_Shared[Sandbox]):
    """Wraps the router; see the module docstring."""

    admin_prefix = ADMIN_PREFIX
    content_type = "application/json; charset=utf-8"
    drop_body = b'{"items": ['

    def error_for(self, status: int) -> AutotaskError:
        return error_for(status)

    def is_write(self, call: Call) -> bool:
        return call.method in ("POST", "PATCH", "PUT", "DELETE") and bool(API_PATH.match(call.path)) and \
            "/query" not in call.path.lower()

    def authenticate(self, call: Call) -> AutotaskError | None:
        if not API_PATH.match(call.path) or _FREE.match(call.path):
            return None
        user = self.sandbox.user
        given = (_header(call, "ApiIntegrationCode"), _header(call, "UserName"), _header(call, "Secret"))
        return None if given == (user.integration_code, user.username, user.secret) else unauthorized()

    def admit(self, call: Call) -> tuple[AutotaskError | None, dict[str, str]]:
        if not API_PATH.match(call.path) or _FREE.match(call.path):
            return None, {}
        faults = self.sandbox.faults
        limit = faults.hourly_threshold
        wait = self.sandbox.state.take_request(limit, faults.threshold_window_s * 1000)
        return (None if wait is None else threshold_exceeded(wait, limit or 0, faults.threshold_window_s)), {}
