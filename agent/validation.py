"""Validation of contact data coming in through the API, imports and forms.

Each check raises :class:`leadsync.common.errors.ValidationError` naming the field and the reason, so
one bad record fails alone with a message a person can act on.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email

from leadsync.common.errors import ValidationError
from leadsync.common.models import FIELD_NAME, RESERVED_FIELDS, STANDARD_FIELDS

MAX_FIELD_CHARS = 1000
MAX_EMAIL_CHARS = 254
TEXT_FIELDS = frozenset(STANDARD_FIELDS) - {"lead_score", "email"}


def clean_email(raw: str) -> str:
    """The address trimmed, checked for syntax (RFC 5322 via email-validator, no DNS lookups).

    Returns it as written (trimmed); raises ValidationError with the reason otherwise.
    """
    email = raw.strip()
    if not email:
        raise ValidationError("email: is required")
    if len(email) > MAX_EMAIL_CHARS:
        raise ValidationError(f"email: longer than {MAX_EMAIL_CHARS} characters")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"email: {email!r} is not a valid address: {exc}") from None
    return email


def clean_text(field: str, value: Any) -> str | None:
    """A text field: None stays None (blank); control characters other than tab and newline are refused,
    as is anything over ``MAX_FIELD_CHARS``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field}: expected text, got {type(value).__name__}")
    if len(value) > MAX_FIELD_CHARS:
        raise ValidationError(f"{field}: longer than {MAX_FIELD_CHARS} characters ({len(value)})")
    for char in value:
        if char not in "\t\n" and unicodedata.category(char) == "Cc":
            raise ValidationError(f"{field}: contains the control character U+{ord(char):04X}")
    return value


def clean_score(value: Any) -> int | None:
    """A lead score: a whole number from 0 to 1,000,000, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"lead_score: expected a whole number, got {value!r}")
    if not 0 <= value <= 1_000_000:
        raise ValidationError(f"lead_score: {value} is outside 0..1000000")
    return value


def clean_contact_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate standard contact fields (see ``STANDARD_FIELDS``); other keys are passed through as
    custom fields after the text checks. Returns a new dict; raises ValidationError on the first bad field."""
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field in RESERVED_FIELDS:
            raise ValidationError(f"{field}: is managed by leadsync and cannot be set"
                                  + ("; the owner comes from the CRM" if field.startswith("owner") else ""))
        if not FIELD_NAME.fullmatch(field):
            raise ValidationError(f"{field[:80]!r}: a field name is lower-case letters, digits and _ (at most 64)")
        if field == "email":
            out[field] = None if value is None else clean_email(_as_text(field, value))
        elif field == "lead_score":
            out[field] = clean_score(value)
        elif field in TEXT_FIELDS:
            out[field] = clean_text(field, value)
        elif isinstance(value, str) or value is None:
            out[field] = clean_text(field, value)
        elif isinstance(value, (bool, int, float)):
            out[field] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[field] = [clean_text(field, v) for v in value]
        else:
            raise ValidationError(f"{field}: unsupported value {value!r}")
    return out


def _as_text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: expected text, got {type(value).__name__}")
    return value
