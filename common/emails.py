"""Email addresses as leadsync matches them: users to CRM owners, CRM records to local contacts (case B11)."""

from __future__ import annotations


def normalize_email(email: str | None) -> str:
    """The match key of an email address: trimmed and lower-cased; ``""`` for None or a blank address (no key:
    where a key is stored, ``normalize_email(e) or None`` keeps the column NULL)."""
    return "" if email is None else email.strip().lower()
