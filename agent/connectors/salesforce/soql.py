"""Building SOQL safely: quoted string literals, datetime literals, checked field names (case B13).

Every value that reaches a SOQL statement built by leadsync goes through this module; nothing is
ever pasted into a query as it came in.

- :func:`quote` makes a string literal. SOQL escapes with a backslash ("Quoted String Escape
  Sequences", SOQL and SOSL Reference): backslash first, then ``'`` as ``\\'``; ``"`` as ``\\"``; line
  breaks, tabs, backspace and form feed as ``\\n \\r \\t \\b \\f``; any other control character as
  ``\\uXXXX``, so no raw control character ever reaches the query. ``o'brien@example.com`` ->
  ``'o\\'brien@example.com'``.
- :func:`quote_like` additionally escapes ``%`` and ``_`` so they match themselves in ``LIKE``.
- :func:`datetime_literal` writes an instant (epoch ms) in UTC as ``2024-03-11T07:00:00.000Z``,
  unquoted, as SOQL wants ("Date Formats and Date Literals in WHERE"); never local time (case B09).
- :func:`field_name` / :func:`object_name` accept only API names (``Email``, ``Owner.Email``,
  ``Lead_Score__c``), so a field list cannot smuggle SOQL either.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Final

from leadsync.common.errors import ValidationError

__all__ = [
    "datetime_literal",
    "field_list",
    "field_name",
    "in_list",
    "object_name",
    "quote",
    "quote_like",
]

_ESCAPES: Final = {
    "\\": "\\\\",  # first: every backslash added below must stay an escape
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_CONTROL: Final = re.compile(r"[\x00-\x07\x0b\x0e-\x1f\x7f]")
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATH: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _escape(value: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"a SOQL string literal needs text, not {type(value).__name__}")
    out = value.replace("\\", _ESCAPES["\\"])  # backslash first
    for char, escaped in _ESCAPES.items():
        if char != "\\":
            out = out.replace(char, escaped)
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def quote(value: str) -> str:
    """``value`` as a quoted SOQL string literal: ``o'brien`` -> ``'o\\'brien'``.

    Raises ValidationError when ``value`` is not a string.
    """
    return f"'{_escape(value)}'"


def quote_like(value: str) -> str:
    """``value`` as a ``LIKE`` pattern matching exactly itself (``%`` and ``_`` escaped too)."""
    return "'" + _escape(value).replace("%", "\\%").replace("_", "\\_") + "'"


def in_list(values: Iterable[str]) -> str:
    """``('a', 'b\\'c')``: a parenthesised list of quoted literals for ``IN``. Raises ValidationError
    when ``values`` is empty (``IN ()`` is not SOQL)."""
    quoted = [quote(v) for v in values]
    if not quoted:
        raise ValidationError("an IN list needs at least one value")
    return "(" + ", ".join(quoted) + ")"


def datetime_literal(ms: int) -> str:
    """Epoch milliseconds as an unquoted SOQL dateTime literal in UTC: ``2024-03-11T07:00:00.000Z``.

    Computed from the instant alone, so the text is the same whatever the machine's time zone.
    """
    instant = _EPOCH + dt.timedelta(milliseconds=int(ms))
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def field_name(name: str) -> str:
    """``name`` if it is a field API name or a relationship path (``Owner.Email``), else ValidationError."""
    text = name.strip() if isinstance(name, str) else ""
    if not _PATH.fullmatch(text):
        raise ValidationError(f"{name!r} is not a Salesforce field name")
    return text


def object_name(name: str) -> str:
    """``name`` if it is an sObject API name (``Lead``, ``Custom__c``), else ValidationError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(f"{name!r} is not a Salesforce object name")
    return name


def field_list(first: Sequence[str], *more: Sequence[str]) -> list[str]:
    """Checked field names from all arguments, in order, without duplicates; SOQL refuses a field
    selected twice ("duplicate field selected") and compares names case-insensitively, so ``email``
    after ``Email`` is dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for names in (first, *more):
        for name in names:
            checked = field_name(name)
            if checked.lower() not in seen:
                seen.add(checked.lower())
                out.append(checked)
    return out
