"""HubSpot error bodies -> leadsync errors.

HubSpot answers failures with ``{status: "error", message, correlationId, category, errors: [...],
context}`` (https://developers.hubspot.com/docs/api/error-handling); a 429 names its policy in
``policyName`` (``SECONDLY``, ``TEN_SECONDLY_ROLLING`` or ``DAILY``; only ``DAILY`` means the
day's quota is spent). Batch answers (207) carry the same shape per failed item under ``errors``,
with the affected ids or trace ids in ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from leadsync.agent.connectors.http import error_for_status
from leadsync.common.errors import CrmError

CRM = "hubspot"


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        decoded = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def hubspot_error(response: httpx.Response) -> CrmError:
    """The CrmError a failed HubSpot response means (an :data:`~leadsync.agent.connectors.http.ErrorMapper`).

    The message is HubSpot's own (``message``), prefixed with the status; ``correlation_id`` and
    ``category`` come from the body; ``data`` keeps the body's ``errors`` and ``context`` for a
    person to read. A 429 whose ``policyName`` is ``DAILY`` becomes CrmQuotaExhaustedError.
    """
    body = _body(response)
    status = response.status_code
    message = body.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or "error"
    policy = body.get("policyName") or body.get("policy")
    policy = policy if isinstance(policy, str) else None
    category = body.get("category") or body.get("errorType")
    correlation_id = body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id")
    data = {key: body[key] for key in ("errors", "context") if key in body} or None
    return error_for_status(
        status,
        f"HubSpot {status}: {message}",
        crm=CRM,
        correlation_id=correlation_id if isinstance(correlation_id, str) else None,
        category=category if isinstance(category, str) else None,
        policy=policy,
        daily_quota=policy == "DAILY",
        data=data,
    )


def item_error_reason(item: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(message, category)`` of one batch error item, e.g. a 207 ``errors[]`` entry.

    The message includes the item's detail messages when HubSpot gives them (``errors[].message``).
    """
    message = item.get("message")
    text = message if isinstance(message, str) and message else "HubSpot refused the record"
    details = item.get("errors")
    if isinstance(details, list):
        extra = [d["message"] for d in details
                 if isinstance(d, dict) and isinstance(d.get("message"), str) and d["message"] not in text]
        if extra:
            text = f"{text} ({'; '.join(extra)})"
    category = item.get("category")
    return text, category if isinstance(category, str) else None


def item_error_keys(item: Mapping[str, Any]) -> set[str]:
    """Every id, email or trace id a batch error item names in its ``context`` (values as given).

    HubSpot puts e.g. ``{"ids": ["123"]}`` for OBJECT_NOT_FOUND, ``{"objectWriteTraceId": ["ref"]}``
    or ``{"email": ["a@b.c"]}`` for validation errors; all of them come back here, flattened.
    """
    keys: set[str] = set()
    context = item.get("context")
    if isinstance(context, dict):
        for value in context.values():
            values = value if isinstance(value, list) else [value]
            keys.update(str(v) for v in values if isinstance(v, str | int))
    trace = item.get("objectWriteTraceId")
    if isinstance(trace, str):
        keys.add(trace)
    return keys
