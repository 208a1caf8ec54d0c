"""Salesforce's error bodies and the sandbox's one exception for answering with them.

REST API failures are a JSON array ``[{"message", "errorCode", "fields"?}]`` ("Status Codes and Error
Responses"); inside sObject Collections answers each record's errors are ``{"statusCode", "message",
"fields"}`` instead; the OAuth endpoints answer ``{"error", "error_description"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_FOUND_MESSAGE = "The requested resource does not exist"
SESSION_MESSAGE = "Session expired or invalid"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a record was refused: ``code`` (``REQUIRED_FIELD_MISSING``...), ``message``, ``fields``."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    duplicate_result: dict[str, Any] | None = field(default=None, compare=False)
    """A duplicate rule's ``duplicateResult`` (``DUPLICATES_DETECTED`` only)."""

    def rest_item(self) -> dict[str, Any]:
        """As an item of a REST error array (``errorCode``)."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        item["fields"] = list(self.fields)
        if self.duplicate_result is not None:
            item["duplicateResult"] = self.duplicate_result
        return item

    def collection_item(self) -> dict[str, Any]:
        """As an item of an sObject Collections result's ``errors`` (``statusCode``)."""
        item: dict[str, Any] = {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}
        if self.duplicate_result is not None:
            item["duplicateResult"] = self.duplicate_result
        return item


@dataclass(slots=True)
class SalesforceError(Exception):
    """An error answer: HTTP ``status`` and the problems of its body; ``headers`` go on the answer."""

    status: int
    problems: Sequence[Problem]
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> list[dict[str, Any]]:
        """The JSON array Salesforce sends."""
        return [p.rest_item() for p in self.problems]


def error(status: int, code: str, message: str, fields: Sequence[str] = (), **headers: str) -> SalesforceError:
    """A one-problem error answer."""
    return SalesforceError(status, [Problem(code, message, tuple(fields))], dict(headers))


def not_found(message: str = NOT_FOUND_MESSAGE) -> SalesforceError:
    """404 ``NOT_FOUND``."""
    return error(404, "NOT_FOUND", message)


def malformed_query(message: str) -> SalesforceError:
    """400 ``MALFORMED_QUERY``."""
    return error(400, "MALFORMED_QUERY", message)


def invalid_field(message: str) -> SalesforceError:
    """400 ``INVALID_FIELD``."""
    return error(400, "INVALID_FIELD", message)


def invalid_session() -> SalesforceError:
    """401 ``INVALID_SESSION_ID``: the session timed out, was revoked, or never existed."""
    return error(401, "INVALID_SESSION_ID", SESSION_MESSAGE)


def request_limit_exceeded() -> SalesforceError:
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's rolling 24-hour API quota is spent."""
    return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def server_error(status: int) -> SalesforceError:
    """A 5xx answer: 503 ``SERVER_UNAVAILABLE``, otherwise ``UNKNOWN_EXCEPTION``."""
    if status == 503:
        return error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later.")
    return error(status, "UNKNOWN_EXCEPTION",
                 "An unexpected error occurred. Please include this ErrorId if you contact support: "
                 "1234567890-12345 (-123456789)")


def too_many_requests() -> SalesforceError:
    """429 (injected): Salesforce answers bursts it will not take with a Retry-After."""
    return error(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests; retry later.")
