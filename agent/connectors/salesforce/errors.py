"""Salesforce error bodies -> leadsync errors.

The REST API answers a failed request with a JSON array ``[{message, errorCode, fields?}]`` ("Status
Codes and Error Responses", REST API Developer Guide); the OAuth endpoints answer ``{error,
error_description}`` instead ("OAuth 2.0 Refresh Token Flow"). sObject Collections report each
record's failure inside a 200 answer as ``{id: null, success: false, errors: [{statusCode, message,
fields}]}`` (case B23 c) — :func:`record_error_reason` reads one of those.

Statuses: 401 ``INVALID_SESSION_ID`` (session expired or revoked) -> CrmAuthError, which the HTTP layer
answers with one token refresh and one retry; 403 ``REQUEST_LIMIT_EXCEEDED`` -> CrmQuotaExhaustedError
when the org's rolling 24-hour API quota is spent ("TotalRequests Limit exceeded."), CrmRateLimitedError
when it is the concurrent long-running request limit ("ConcurrentPerOrgLongTxn Limit exceeded"); 404 ->
CrmNotFoundError; 5xx -> CrmUnavailableError; any other status (400 ``MALFORMED_QUERY``,
``INVALID_FIELD``, ``JSON_PARSER_ERROR`` ...) -> CrmError with the errorCode as ``category``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import httpx
import msgspec

from leadsync.agent.connectors.http import error_for_status
from leadsync.agent.connectors.refusals import refusal_reason
from leadsync.common.errors import CrmError, CrmQuotaExhaustedError, CrmRateLimitedError

CRM: Final = "salesforce"
REQUEST_LIMIT_EXCEEDED: Final = "REQUEST_LIMIT_EXCEEDED"
ROLLING_QUOTA_RETRY_S: Final = 3600.0
"""How long (s) syncs wait after the rolling 24-hour API allocation is spent before trying again."""
INVALID_SESSION_ID: Final = "INVALID_SESSION_ID"


def _decode(response: httpx.Response) -> Any:
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return None


def error_items(body: Any) -> list[dict[str, Any]]:
    """The ``[{message, errorCode|statusCode, fields}]`` items of an error body (a lone object counts
    as one item); [] when the body has none."""
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [item for item in items if isinstance(item, dict)]


def _code(item: Mapping[str, Any]) -> str | None:
    code = item.get("errorCode") or item.get("statusCode") or item.get("error")
    return code if isinstance(code, str) and code else None


def _message(item: Mapping[str, Any]) -> str | None:
    message = item.get("message") or item.get("error_description")
    return message if isinstance(message, str) and message else None


def salesforce_error(response: httpx.Response) -> CrmError:
    """The CrmError a failed Salesforce response means (an :data:`~leadsync.agent.connectors.http.ErrorMapper`).

    The message is ``Salesforce <status> <errorCode>: <message>`` (every item's message when there are
    several); ``category`` is the first errorCode (OAuth: the ``error`` value); ``data`` keeps the
    items (``{"errors": [...]}``) for a person to read.
    """
    status = response.status_code
    items = error_items(_decode(response))
    code = next((c for item in items if (c := _code(item)) is not None), None)
    messages = list(dict.fromkeys(m for item in items if (m := _message(item)) is not None))
    text = "; ".join(messages) or response.reason_phrase or "error"
    message = f"Salesforce {status} {code}: {text}" if code else f"Salesforce {status}: {text}"
    data = {"errors": items} if items else None
    if status == 403 and code == REQUEST_LIMIT_EXCEEDED:
        if "concurrent" in text.lower():
            return CrmRateLimitedError(message, crm=CRM, status=status, category=code, policy="CONCURRENT",
                                       data=data)
        # a rolling 24-hour allocation frees up as old calls age out, not at midnight: try again in an hour
        return CrmQuotaExhaustedError(message, crm=CRM, status=status, category=code, policy="DAILY", data=data,
                                      retry_after_s=ROLLING_QUOTA_RETRY_S)
    request_id = response.headers.get("Sforce-Call-Id") or response.headers.get("X-Request-Id")
    return error_for_status(status, message, crm=CRM, category=code, correlation_id=request_id, data=data)


def record_error_reason(errors: Any) -> tuple[str, str | None]:
    """``(reason, statusCode)`` of one sObject Collections result's ``errors`` list (or an error body's items).

    The reason is a sentence (:func:`~leadsync.agent.connectors.refusals.refusal_reason`) naming every
    field blamed with every message: ``"Salesforce refused the Company: required fields are missing:
    [Company]"``; the code is the first ``statusCode``.
    """
    items = error_items(errors)
    fields = [f for item in items if isinstance(item.get("fields"), list) for f in item["fields"] if isinstance(f, str)]
    messages = list(dict.fromkeys(m for item in items if (m := _message(item)) is not None))
    code = next((c for item in items if (c := _code(item)) is not None), None)
    return refusal_reason("Salesforce", "; ".join(messages) or "no reason given", fields), code


def error_reason(error: CrmError) -> tuple[str, str | None]:
    """``(reason, code)`` of a request Salesforce refused for the sake of one record (its items are in
    ``error.data["errors"]``), as :func:`record_error_reason` words it."""
    items = error.data.get("errors") if isinstance(error.data, dict) else None
    if not items:
        return refusal_reason("Salesforce", error.message), error.category
    return record_error_reason(items)


_USAGE: Final = re.compile(r"api-usage=(\d+)/(\d+)")


def daily_quota(headers: Mapping[str, str]) -> tuple[int, int] | None:
    """``(used, limit)`` of the org's rolling 24-hour request allocation from ``Sforce-Limit-Info:
    api-usage=N/M`` (on every API answer); None when an answer lacks it."""
    match = _USAGE.search(headers.get("Sforce-Limit-Info") or "")
    return None if match is None else (int(match.group(1)), int(match.group(2)))

