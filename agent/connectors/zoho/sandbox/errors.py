"""Zoho's error answers: ``{"code", "details", "message", "status": "error"}`` with the HTTP status."""

from __future__ import annotations

from typing import Any


class ZohoError(Exception):
    """An error answer; raise it from a route (the app turns it into the JSON body)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body Zoho sends."""
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def invalid_token() -> ZohoError:
    """401 for an expired, revoked or unknown access token."""
    return ZohoError(401, "INVALID_TOKEN", "invalid oauth token")


def authentication_failure() -> ZohoError:
    """401 for a request without an access token."""
    return ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")


def too_many_requests(*, daily: bool) -> ZohoError:
    """429: the API credits of the rolling 24 hours are spent (``daily``), or too many requests at once."""
    message = ("You have reached the API credits limit for the 24 hours window" if daily
               else "You have exceeded the concurrency limit. Please try again after some time")
    return ZohoError(429, "TOO_MANY_REQUESTS", message)


def invalid_data(message: str, **details: Any) -> ZohoError:
    """400 ``INVALID_DATA``."""
    return ZohoError(400, "INVALID_DATA", message, details)


def server_error(status: int) -> ZohoError:
    """A 5xx answer (injected faults)."""
    return ZohoError(status, "INTERNAL_ERROR", "Internal Server Error")
