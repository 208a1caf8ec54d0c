"""Keeping credentials out of messages: :class:`Secret` (never shows itself), :func:`redact` (text),
:func:`redact_data` (an error body) and :data:`LOG_REDACTOR`, a log filter redacting every live
connection's secrets from loggers we do not own (httpx logs full request URLs, a token in a path included).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

REDACTED: Final = "***"

MIN_SECRET_CHARS: Final = 8
"""Shorter strings are no credential any CRM issues: replacing them would garble every message
(a "token" ``tok`` would turn "access-tokens" into "access-***ens") and protect nothing."""


class Secret:
    """A credential that never shows itself in ``repr``/``str`` (only :meth:`reveal` gives it)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself: use it only to build a request."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of each secret (of ``MIN_SECRET_CHARS`` or more) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):  # a token before its own prefixes
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return text


def redact_data(data: Any, secrets: Sequence[str]) -> Any:
    """``data`` (JSON-like: str, dict, list, tuple, anything else kept) with its strings redacted;
    tuples come back as lists."""
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, dict):
        return {k: redact_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v, secrets) for v in data]
    return data


class RedactingFilter(logging.Filter):
    """Redacts live secrets from log records; ``secrets`` maps an owner's ``id()`` to its secrets (an owner
    adds its own and removes them when it closes)."""

    def __init__(self) -> None:
        super().__init__("leadsync-redact")
        self.secrets: dict[int, tuple[str, ...]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        all_secrets = [s for group in self.secrets.values() for s in group]
        if all_secrets:
            message = record.getMessage()
            cleaned = redact(message, all_secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


LOG_REDACTOR: Final = RedactingFilter()
"""The one filter every HTTP client registers its secrets with (installed by :mod:`.http`)."""
