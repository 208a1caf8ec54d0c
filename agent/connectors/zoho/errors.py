"""Zoho CRM error bodies -> leadsync errors.

The CRM API answers a failed request with one JSON object ``{code, details, message, status: "error"}``
("Status Codes", Zoho CRM API v8): 401 ``INVALID_TOKEN`` (expired or revoked access token) or
``AUTHENTICATION_FAILURE``; 400 ``INVALID_DATA``, ``INVALID_MODULE``, ``INVALID_REQUEST``...; 404
``INVALID_URL_PATTERN``; 429 ``TOO_MANY_REQUESTS`` (the concurrency limit, or the organisation's API
credits of the rolling 24 hours are spent). A multi-record write that failed for every record answers 400
with ``{data: [{code, details, message, status}, ...]}`` instead: one result per record, in request order.
The accounts server answers ``{error, error_description?}`` (OAuth).

Mapping: 401 -> CrmAuthError (the HTTP layer refreshes the token once and retries once); 429 ->
CrmQuotaExhaustedError when the message speaks of credits or of the daily limit (no retry helps until the
window moves), CrmRateLimitedError otherwise (``policy`` ``CONCURRENCY``); 404 -> CrmNotFoundError; 5xx ->
CrmUnavailableError; other statuses -> CrmError with Zoho's ``code`` as ``category`` and the decoded body
as ``data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx
import msgspec

from leadsync.agent.connectors.base import ObjectType
from leadsync.agent.connectors.http import error_for_status
from leadsync.agent.connectors.refusals import refusal_reason
from leadsync.common.errors import CrmError, CrmQuotaExhaustedError, CrmRateLimitedError

CRM: Final = "zoho"
DISPLAY_NAME: Final = "Zoho CRM"
INVALID_TOKEN: Final = "INVALID_TOKEN"
TOO_MANY_REQUESTS: Final = "TOO_MANY_REQUESTS"
_QUOTA_WORDS: Final = ("credit", "per day", "daily", "24 hours")


def decode_body(response: httpx.Response) -> Any:
    """The JSON body of ``response``, or None when it has none or it is not JSON."""
    if not response.content:
        return None
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def zoho_error(response: httpx.Response) -> CrmError:
    """The CrmError a failed Zoho response means (an :data:`~leadsync.agent.connectors.http.ErrorMapper`).

    The message is ``Zoho <status> <code>: <message>``; ``category`` is the code (OAuth: ``error``);
    ``data`` is the decoded body, so a 400 carrying per-record results can still be read record by record.
    """
    status = response.status_code
    body = decode_body(response)
    item: Mapping[str, Any] = body if isinstance(body, dict) else {}
    records = item.get("data")
    if not _text(item.get("code")) and isinstance(records, list) and records and isinstance(records[0], dict):
        item = records[0]
    code = _text(item.get("code")) or _text(item.get("error"))
    text = _text(item.get("message")) or _text(item.get("error_description")) or response.reason_phrase or "error"
    message = f"Zoho {status} {code}: {text}" if code else f"Zoho {status}: {text}"
    if status == 429:
        daily = any(word in text.lower() for word in _QUOTA_WORDS)
        cls = CrmQuotaExhaustedError if daily else CrmRateLimitedError
        # credits are counted over a rolling 24 hours: they free up as old calls age out, so try again in an hour
        return cls(message, crm=CRM, status=status, category=code, policy="DAILY" if daily else "CONCURRENCY",
                   data=body, retry_after_s=3600.0 if daily else None)
    return error_for_status(status, message, crm=CRM, category=code, data=body)


def result_reason(result: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(reason, code)`` of one failed record result ``{code, details, message, status: "error"}``.

    The reason is a sentence (:func:`~leadsync.agent.connectors.refusals.refusal_reason`) naming the field
    Zoho blames (``details.api_name``) and, for a type error, the type it expected: ``"Zoho CRM refused the
    Email: invalid data (expected: email)"``; ``MANDATORY_NOT_FOUND`` reads ``"Zoho CRM refused the
    Last_Name: required field not found"`` (case S13).
    """
    code = _text(result.get("code"))
    message = _text(result.get("message")) or "no reason given"
    details = result.get("details")
    fields: list[str] = []
    if isinstance(details, dict):
        if field := _text(details.get("api_name")):
            fields.append(field)
        if expected := _text(details.get("expected_data_type")):
            message = f"{message.rstrip('. ')} (expected: {expected})"
    return refusal_reason(DISPLAY_NAME, message, fields), code


def error_reason(error: CrmError) -> tuple[str, str | None]:
    """``(reason, code)`` of a request Zoho refused for the sake of one record, as :func:`result_reason`
    words it (from the body's record result or error object in ``error.data``)."""
    body = error.data if isinstance(error.data, dict) else {}
    records = body.get("data")
    item = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else body
    if not item:
        return refusal_reason(DISPLAY_NAME, error.message), error.category
    reason, code = result_reason(item)
    return reason, code or error.category


MODULE_TYPES: Final[dict[str, ObjectType]] = {"Leads": "lead", "Contacts": "contact"}


def duplicate_of(result: Mapping[str, Any]) -> tuple[str, ObjectType | None] | None:
    """The id and object type of the record a ``DUPLICATE_DATA`` result names, or None: v4 and later say
    ``details.duplicate_record: {id, module: {api_name}}`` (the module may be another one: a Lead refused
    as a duplicate of a Contact), v2 ``details: {api_name, id}`` (the same module, type None)."""
    if result.get("code") != "DUPLICATE_DATA":
        return None
    details = result.get("details")
    if not isinstance(details, dict):
        return None
    duplicate = details.get("duplicate_record")
    if isinstance(duplicate, dict):
        found = _text(duplicate.get("id"))
        module = duplicate.get("module")
        name = module.get("api_name") if isinstance(module, dict) else None
        return (found, MODULE_TYPES.get(str(name))) if found else None
    found = _text(details.get("id"))
    return (found, None) if found else None


def oauth_error(answer: Any) -> str | None:
    """The ``error`` of an accounts-server answer (Zoho says ``{"error": "invalid_code"}`` with HTTP 200 for
    a refused refresh token), or None when the answer is no error."""
    return _text(answer.get("error")) if isinstance(answer, dict) else None
