"""Autotask's error answers: ``{"errors": ["message", ...]}`` with the status Autotask uses.

Business-rule refusals of a create or update (a required field missing, a value too long, a reference
that does not resolve) and malformed queries are HTTP 500 on Autotask; a missing or wrong credential is
401; an unknown route 404; a wrong method (a GET on a POST query's ``nextPageUrl``) 405; the request
threshold 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any


class AutotaskError(Exception):
    """An error answer: ``status``, the ``messages`` of its body and extra ``headers``."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(messages))
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """``{"errors": [...]}``."""
        return {"errors": self.messages}


def refused(*messages: str) -> AutotaskError:
    """A business-rule refusal (500)."""
    return AutotaskError(500, *messages)


def unauthorized() -> AutotaskError:
    return AutotaskError(401, "User is not authorized: the UserName, Secret or ApiIntegrationCode header is "
                              "missing or wrong.")


def threshold_exceeded(retry_after_s: int, limit: int, window_s: int = 3600) -> AutotaskError:
    span = f"{window_s // 60} minutes" if window_s % 60 == 0 else f"{window_s} seconds"
    return AutotaskError(429, f"API request threshold of {limit} requests per {span} exceeded for this "
                              f"database. Try again in {retry_after_s} seconds.",
                         headers={"Retry-After": str(retry_after_s)})


def error_for(status: int) -> AutotaskError:
    """The error an injected fault answers."""
    if status == 401:
        return unauthorized()
    if status == 429:  # the middleware adds the Retry-After of the fault
        return AutotaskError(429, "API request threshold exceeded for this database (injected by the sandbox).")
    if status >= 500:
        return AutotaskError(status, "An internal error occurred (injected by the sandbox).") if status == 500 \
            else AutotaskError(status)
    return AutotaskError(status, f"Error {status} (injected by the sandbox).")
