"""From a failed HTTP answer to the :class:`~leadsync.common.errors.CrmError` it means: each connector's
:data:`ErrorMapper` reads its CRM's error body and builds the error with :func:`error_for_status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from leadsync.agent.connectors.ratelimit import WindowFull
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


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


def window_spent(crm: str, full: WindowFull, *, now_s: float) -> CrmQuotaExhaustedError:
    """The error a run stops with when a long window the limiter keeps (Salesforce's rolling 24 h, Autotask's
    rolling hour, Zoho's credits) is spent: ``"salesforce: API quota spent (15000 of 15000 requests in the
    rolling 24 h); resumes at 14:05 UTC"`` (with the date when that is not today), ``retry_after_s`` the wait
    (s), ``policy`` ``"QUOTA"``, status 0 (no request was sent). ``now_s``: epoch seconds UTC."""
    resume = now_s + full.wait_s
    same_day = time.gmtime(resume)[:3] == time.gmtime(now_s)[:3]
    when = time.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC", time.gmtime(resume))
    return CrmQuotaExhaustedError(
        f"{crm}: API quota spent ({full.used} of {full.limit} requests in the rolling {_span(full.period_s)}); "
        f"resumes at {when}", crm=crm, status=0, policy="QUOTA", retry_after_s=full.wait_s,
        category=full.bucket or None)
