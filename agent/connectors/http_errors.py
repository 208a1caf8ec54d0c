"""From a failed HTTP answer to the :class:`~leadsync.common.errors.CrmError` it means: each connector's
:data:`ErrorMapper` reads its CRM's error body and builds the error with :func:`error_for_status`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from leadsync.common.errors import (
    CrmAuthError,
    CrmError,
    CrmNotFoundError,
    CrmQuotaExhaustedError,
    CrmRateLimitedError,
    CrmUnavailableError,
)

ErrorMapper = Callable[[httpx.Response], CrmError]
"""Turns a non-2xx response into the CrmError subclass it means (see :func:`error_for_status`)."""


def error_for_status(
    status: int,
    message: str,
    *,
    crm: str,
    correlation_id: str | None = None,
    category: str | None = None,
    policy: str | None = None,
    retry_after_s: float | None = None,
    daily_quota: bool = False,
    data: Any = None,
) -> CrmError:
    """The CrmError subclass an HTTP status means.

    401/403 -> CrmAuthError; 404 -> CrmNotFoundError; 429 -> CrmRateLimitedError, or
    CrmQuotaExhaustedError when ``daily_quota``; 5xx -> CrmUnavailableError; any other status ->
    CrmError. Connectors' :data:`ErrorMapper` functions extract the parts from their CRM's error body.
    """
    kw: dict[str, Any] = {"crm": crm, "status": status, "correlation_id": correlation_id,
                          "category": category, "data": data}
    if status == 429:
        cls = CrmQuotaExhaustedError if daily_quota else CrmRateLimitedError
        return cls(message, retry_after_s=retry_after_s, policy=policy, **kw)
    if status in (401, 403):
        return CrmAuthError(message, **kw)
    if status == 404:
        return CrmNotFoundError(message, **kw)
    if 500 <= status <= 599:
        return CrmUnavailableError(message, **kw)
    return CrmError(message, **kw)
