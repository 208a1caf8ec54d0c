"""HubSpot's error body and the sandbox's one exception for answering with it.

Every error answer has HubSpot's shape (HubSpot "API error handling" guide; the client's
``Error`` model): ``{status: "error", message, correlationId (uuid), category, subCategory?,
errors?: [{message, code?, in?, context?}], context?: {name: [str]}, links?}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VALIDATION_ERROR = "VALIDATION_ERROR"
OBJECT_NOT_FOUND = "OBJECT_NOT_FOUND"
CONFLICT = "CONFLICT"
INVALID_AUTHENTICATION = "INVALID_AUTHENTICATION"
RATE_LIMITS = "RATE_LIMITS"
INTERNAL_ERROR = "INTERNAL_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def new_correlation_id() -> str:
    """Return a fresh correlation id (a random UUID, as HubSpot sends)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class PropertyProblem:
    """Why one property value was refused: ``code`` is HubSpot's ``error`` (``INVALID_EMAIL``,
    ``PROPERTY_DOESNT_EXIST``, ``INVALID_OPTION``, ``READ_ONLY_VALUE`` ...)."""

    name: str
    code: str
    message: str

    def to_wire(self) -> dict[str, Any]:
        """The item HubSpot embeds, JSON-encoded, in "Property values were not valid: [...]"."""
        return {
            "isValid": False,
            "message": self.message,
            "error": self.code,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }


class HubSpotError(Exception):
    """An error answer: HTTP ``status`` plus HubSpot's body fields.

    ``extra`` adds top-level fields (the 429 body's ``policyName``, ``errorType``).
    """

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        context: Mapping[str, list[str]] | None = None,
        sub_category: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = list(errors) if errors is not None else None
        self.context = dict(context) if context is not None else None
        self.sub_category = sub_category
        self.extra = dict(extra) if extra is not None else {}

    def body(self) -> dict[str, Any]:
        """Render the top-level error body (fresh ``correlationId``)."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": new_correlation_id(),
            "category": self.category,
        }
        if self.sub_category is not None:
            body["subCategory"] = self.sub_category
        if self.errors is not None:
            body["errors"] = self.errors
        if self.context is not None:
            body["context"] = self.context
        body.update(self.extra)
        return body

    def batch_item(self) -> dict[str, Any]:
        """Render as one entry of a batch answer's ``errors`` (the client's ``StandardError``)."""
        item: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context or {},
            "errors": self.errors or [],
            "links": {},
        }
        if self.sub_category is not None:
            item["subCategory"] = self.sub_category
        return item


def invalid_properties(
    problems: Sequence[PropertyProblem], context: Mapping[str, list[str]] | None = None
) -> HubSpotError:
    """400 ``VALIDATION_ERROR`` "Property values were not valid: [...]" for ``problems``."""
    detail = json.dumps([p.to_wire() for p in problems], separators=(",", ":"))
    ctx: dict[str, list[str]] = {"propertyName": [p.name for p in problems]}
    if context:
        ctx.update(context)
    return HubSpotError(
        400,
        VALIDATION_ERROR,
        f"Property values were not valid: {detail}",
        errors=[{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in problems],
        context=ctx,
    )


def bad_request(message: str, **kwargs: Any) -> HubSpotError:
    """400 ``VALIDATION_ERROR`` with ``message``."""
    return HubSpotError(400, VALIDATION_ERROR, message, **kwargs)


def not_found(message: str = "resource not found", **kwargs: Any) -> HubSpotError:
    """404 ``OBJECT_NOT_FOUND``."""
    return HubSpotError(404, OBJECT_NOT_FOUND, message, **kwargs)


def unauthorized() -> HubSpotError:
    """401 ``INVALID_AUTHENTICATION`` with HubSpot's message."""
    return HubSpotError(401, INVALID_AUTHENTICATION, AUTH_MESSAGE)


def expired_token(expired_ago_ms: int, expire_time_iso: str) -> HubSpotError:
    """401 ``EXPIRED_AUTHENTICATION`` for an OAuth access token past its lifetime, as HubSpot words it:
    "The OAuth token used to make this call expired 5 minute(s) ago." with ``context["expire time"]``."""
    seconds = max(expired_ago_ms, 0) // 1000
    amount, unit = seconds, "second"
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            amount, unit = seconds // size, name
            break
    return HubSpotError(
        401,
        "EXPIRED_AUTHENTICATION",
        f"The OAuth token used to make this call expired {amount} {unit}(s) ago.",
        context={"expire time": [expire_time_iso]},
    )


def rate_limited(policy: str) -> HubSpotError:
    """429 with HubSpot's rate-limit body: ``errorType: RATE_LIMIT``, ``policyName`` ``SECONDLY``
    or ``DAILY`` (HubSpot "API usage guidelines")."""
    which = "daily" if policy == "DAILY" else "secondly"
    return HubSpotError(
        429,
        RATE_LIMITS,
        f"You have reached your {which} limit.",
        extra={"errorType": "RATE_LIMIT", "policyName": policy, "requestId": new_correlation_id()},
    )


def server_error(status: int) -> HubSpotError:
    """A 5xx answer in HubSpot's shape."""
    if status == 503:
        return HubSpotError(503, SERVICE_UNAVAILABLE, "Service temporarily unavailable, please retry.")
    return HubSpotError(status, INTERNAL_ERROR, "internal error")
