"""HubSpot error bodies -> leadsync errors.

HubSpot answers failures with ``{status: "error", message, correlationId, category, errors: [...],
context}`` (https://developers.hubspot.com/docs/api/error-handling); a 429 names its policy in
``policyName`` (``SECONDLY``, ``TEN_SECONDLY_ROLLING`` or ``DAILY``; only ``DAILY`` means the
day's quota is spent). Batch answers (207) carry the same shape per failed item under ``errors``,
with the affected ids or trace ids in ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import msgspec

from leadsync.agent.connectors.http import error_for_status
from leadsync.agent.connectors.ratelimit import WindowReport
from leadsync.agent.connectors.refusals import refusal_reason
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
    """``(reason, category)`` of one batch error item, e.g. a 207 ``errors[]`` entry.

    The reason is a sentence (:func:`~leadsync.agent.connectors.refusals.refusal_reason`) naming the
    properties HubSpot blamed (``errors[].context.propertyName``, else ``context.propertyName``) with their
    detail messages (``errors[].message``), else the item's ``message``: ``"HubSpot refused the email: email
    address not-an-email is invalid"``.
    """
    details = [d for d in item.get("errors") or () if isinstance(d, dict)] \
        if isinstance(item.get("errors"), list) else []
    fields = [name for d in details for name in _property_names(d.get("context"))] \
        or _property_names(item.get("context"))
    messages = list(dict.fromkeys(d["message"] for d in details if isinstance(d.get("message"), str) and d["message"]))
    message = item.get("message")
    text = "; ".join(messages) if messages else message if isinstance(message, str) and message else ""
    category = item.get("category")
    return refusal_reason("HubSpot", text, fields), category if isinstance(category, str) else None


def _property_names(context: Any) -> list[str]:
    names = context.get("propertyName") if isinstance(context, dict) else None
    return [str(n) for n in names if isinstance(n, str)] if isinstance(names, list) else []


def error_reason(error: CrmError) -> tuple[str, str | None]:
    """``(reason, category)`` of a request HubSpot refused for the sake of one record (its body's
    ``errors`` and ``context`` are in ``error.data``), as :func:`item_error_reason` words it."""
    data = error.data if isinstance(error.data, dict) else {}
    return item_error_reason({**data, "message": error.message, "category": error.category})


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


def daily_quota(headers: Mapping[str, str]) -> tuple[int, int] | None:
    """``(used, limit)`` of the day's requests from ``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining``
    (HubSpot sends them to private apps); None when an answer lacks them."""
    limit, left = headers.get("X-HubSpot-RateLimit-Daily"), headers.get("X-HubSpot-RateLimit-Daily-Remaining")
    if not (limit and left and limit.isdigit() and left.isdigit()):
        return None
    return max(0, int(limit) - int(left)), int(limit)


def rate_windows(headers: Mapping[str, str], buckets: Sequence[str]) -> dict[str, WindowReport]:
    """What an answer says of the windows (HubSpot "API usage guidelines"): ``X-HubSpot-RateLimit-Max``,
    ``-Remaining`` and ``-Interval-Milliseconds`` of the app's rolling window (bucket ``"default"``) and,
    on a search answer (bucket ``"search"`` taken), ``-Secondly`` and ``-Secondly-Remaining`` of the 1 s
    search window. Values that are not whole numbers are ignored."""

    def number(name: str) -> int | None:
        value = headers.get(name)
        return int(value) if value is not None and value.isdigit() else None

    reports: dict[str, WindowReport] = {}
    limit, left, interval = (number(f"X-HubSpot-RateLimit-{n}") for n in ("Max", "Remaining", "Interval-Milliseconds"))
    if limit is not None or left is not None:
        reports["default"] = WindowReport(limit, left, interval / 1000 if interval else None)
    if "search" in buckets:
        limit, left = number("X-HubSpot-RateLimit-Secondly"), number("X-HubSpot-RateLimit-Secondly-Remaining")
        if limit is not None or left is not None:
            reports["search"] = WindowReport(limit, left, 1.0)
    return reports
