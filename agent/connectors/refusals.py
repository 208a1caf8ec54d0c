"""How a CRM's refusal of one record reads, for every connector.

The reason is one sentence a person can act on, built from the CRM's own name, the fields it blamed and its
message: ``"HubSpot refused the phone: not a valid phone number"`` (:func:`refusal_reason`). The CRM's raw
answer about the record is kept beside it as the error's ``detail`` (:func:`raw_detail`), with every value
under a key that looks like a secret masked, so an answer that echoes a token never reaches an API answer.
The error's code stays the CRM's machine-readable one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_DETAIL_TEXT: Final = 4000
"""Characters of one text value kept in a detail (a CRM may echo a whole request)."""

_SECRET_KEY: Final = re.compile(r"token|secret|password|passwd|authori[sz]ation|api[_-]?key|session|cookie|"
                                r"credential", re.IGNORECASE)
_STATUS_PREFIX: Final = re.compile(r"^[A-Z][A-Za-z ]* \d{3}(?: [A-Z_]+)?: ")
"""``"HubSpot 400: "``, ``"Zoho 400 INVALID_DATA: "``: how a connector's CrmError message starts; the
sentence says it differently (the code stays the error's code)."""


def refusal_reason(crm: str, message: str | None, fields: Sequence[str] = ()) -> str:
    """``"<crm> refused the <fields>: <message>"`` (``the record`` when no field is named).

    ``crm`` is the CRM's display name, ``fields`` the fields (properties) the CRM blamed, in its own names,
    ``message`` its message: whitespace collapsed, a leading ``"<CRM> <status>: "`` or ``"<field>: "`` cut, a
    capital first letter of a sentence lowered and the final full stop dropped.
    """
    names = list(dict.fromkeys(f for f in fields if f))
    return f"{crm} refused the {_joined(names) if names else 'record'}: {_tidied(message or '', names)}"


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _tidied(message: str, names: Sequence[str]) -> str:
    text = _STATUS_PREFIX.sub("", " ".join(message.split()))
    for name in names:
        if text.lower().startswith(f"{name.lower()}: "):
            text = text[len(name) + 2:]
    text = text.rstrip(". ").strip()
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text or "no reason given"


def raw_detail(answer: Any) -> Any:
    """``answer`` (a decoded JSON value or text) fit to show: values under secret-looking keys (token,
    secret, password, authorization, api key, session, cookie, credential) replaced by ``"<redacted>"``,
    text longer than :data:`MAX_DETAIL_TEXT` cut; None stays None."""
    if isinstance(answer, Mapping):
        return {str(k): "<redacted>" if _SECRET_KEY.search(str(k)) else raw_detail(v) for k, v in answer.items()}
    if isinstance(answer, list | tuple):
        return [raw_detail(v) for v in answer]
    if isinstance(answer, str) and len(answer) > MAX_DETAIL_TEXT:
        return answer[:MAX_DETAIL_TEXT] + "…"
    if answer is None or isinstance(answer, str | int | float | bool):
        return answer
    return str(answer)
