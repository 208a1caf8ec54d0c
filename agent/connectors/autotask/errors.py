"""Autotask error bodies -> leadsync errors.

The REST API answers a refused request with ``{"errors": ["message", ...]}`` ("Introduction to REST API
calls", Autotask developer help); some answers carry objects (``{"message": ..., "field": ...}``) in that
list instead, and both are read. Business-rule refusals of a create or update (a missing required field,
a value not in a picklist) come back as HTTP **500** with that body, not 400: :func:`autotask_error` turns
a 500 that names its reasons into a plain :class:`~leadsync.common.errors.CrmError` (the record is wrong,
retrying will not help), and only a 500 without reasons into
:class:`~leadsync.common.errors.CrmUnavailableError`.

Statuses: 401 (bad ``UserName``/``Secret``/``ApiIntegrationCode``) and 403 (no permission) ->
CrmAuthError; 404 -> CrmNotFoundError; 405 (e.g. a GET on a query's ``nextPageUrl``) -> CrmError; 429
(the database's request threshold, 10,000 requests in a rolling hour, or the thread limit) ->
CrmRateLimitedError with ``Retry-After`` and ``policy="HOURLY"``; 502/503/504 -> CrmUnavailableError.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import msgspec

from leadsync.agent.connectors.http import error_for_status
from leadsync.agent.connectors.refusals import refusal_reason
from leadsync.common.errors import CrmError

CRM: Final = "autotask"
HOURLY: Final = "HOURLY"


def error_messages(body: Any) -> list[str]:
    """The reasons in an Autotask error body: each string of ``errors`` (or each item's ``message``),
    de-duplicated, in order; [] when the body names none."""
    items = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    messages: list[str] = []
    for item in items:
        text = item.get("message") if isinstance(item, dict) else item
        if isinstance(text, str) and text.strip() and text.strip() not in messages:
            messages.append(text.strip())
    return messages


def autotask_error(response: httpx.Response) -> CrmError:
    """The CrmError a failed Autotask response means (an :data:`~leadsync.agent.connectors.http.ErrorMapper`).

    The message is ``Autotask <status>: <reasons joined by "; ">``; ``data`` keeps ``{"errors": [...]}``.
    """
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        body = None
    messages = error_messages(body)
    text = "; ".join(messages) or response.reason_phrase or "error"
    message = f"Autotask {status}: {text}"
    data = {"errors": messages} if messages else None
    if status == 500 and messages:
        return CrmError(message, crm=CRM, status=status, category="AUTOTASK_REFUSED", data=data)
    return error_for_status(status, message, crm=CRM, data=data, policy=HOURLY if status == 429 else None,
                            category="METHOD_NOT_ALLOWED" if status == 405 else None)


def refusal_of(error: CrmError) -> str:
    """The sentence for a write Autotask refused with ``error``: ``"Autotask refused the record: the email
    address 'x' is not valid"`` (its reasons from ``data["errors"]``, else its message)."""
    messages = error.data.get("errors") if isinstance(error.data, dict) else None
    text = "; ".join(m for m in messages if isinstance(m, str)) if isinstance(messages, list) else ""
    return refusal_reason("Autotask", text or error.message)
