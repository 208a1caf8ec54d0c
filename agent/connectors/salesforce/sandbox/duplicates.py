"""The Standard Lead Duplicate Rule, when its action on create is Block (``faults.duplicate_rule_blocks``).

Salesforce's standard lead duplicate rule matches a new Lead against Leads (Standard Lead Matching Rule)
and Contacts (Standard Contact Matching Rule, cross-object since Summer '17); with the Block action a
create it matches is refused with ``DUPLICATES_DETECTED`` and the alert text "Use one of these records?",
the error carrying a ``duplicateResult`` whose ``matchResults[].matchRecords[].record`` name the matches
("DuplicateResult", "MatchResult", "MatchRecord" in the SOAP/REST API Developer Guide). The sandbox
applies two terms of the standard matching equation, exact rather than fuzzy: (First Name AND Last Name
AND Email) OR (First Name AND Last Name AND Phone); names compare without case, the email by its
standard match key (punctuation dropped from the local part, only the last two labels of the domain:
``john_doe@us.ibm.com`` = ``johndoe@ibm.com``), the phone by its digits; blank fields never match.
Converted and deleted Leads are not matched.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .errors import Problem
from .schema import ObjectDef
from .state import Row, SandboxState
from .validation import Values

ALERT: Final = "Use one of these records?"
RULE: Final = "Standard_Rule_for_Leads_with_Duplicate_Leads"
MATCHING_RULES: Final = {"Lead": "Standard_Lead_Match_Rule_v1_0", "Contact": "Standard_Contact_Match_Rule_v1_1"}
_PUNCTUATION: Final = re.compile(r"[._\-+']")


def email_key(email: Any) -> str | None:
    """The standard matching rules' email match key (None for a blank)."""
    if not isinstance(email, str) or "@" not in email.strip():
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{_PUNCTUATION.sub('', local)}@{'.'.join(domain.split('.')[-2:])}"


def _text(value: Any) -> str | None:
    return value.strip().lower() or None if isinstance(value, str) else None


def _digits(value: Any) -> str | None:
    return "".join(c for c in value if c.isdigit()) or None if isinstance(value, str) else None


def _matches(new: Values, row: Row) -> bool:
    first, last = _text(new.get("FirstName")), _text(new.get("LastName"))
    if first is None or last is None or (first, last) != (_text(row.get("FirstName")), _text(row.get("LastName"))):
        return False
    email = email_key(new.get("Email"))
    phone = _digits(new.get("Phone"))
    return bool((email and email == email_key(row.get("Email"))) or (phone and phone == _digits(row.get("Phone"))))


def duplicate_problem(state: SandboxState, obj: ObjectDef, values: Values, version: str) -> Problem | None:
    """The ``DUPLICATES_DETECTED`` refusal of creating a Lead with ``values`` when the rule blocks and
    records match (up to 5 per object, oldest first); None otherwise. The caller holds ``state.lock``."""
    if obj.name != "Lead":
        return None
    results = []
    for name in ("Lead", "Contact"):
        found = [row for row in state.table(name).all_rows(include_deleted=False)
                 if not row.get("IsConverted") and _matches(values, row)][:5]
        if found:
            results.append({
                "entityType": name, "errors": [], "matchEngine": "FuzzyMatchEngine", "rule": MATCHING_RULES[name],
                "size": len(found), "success": True,
                "matchRecords": [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                                  "record": {"attributes": {"type": name, "url": f"/services/data/v{version}"
                                                                                 f"/sobjects/{name}/{row['Id']}"},
                                             "Id": str(row["Id"])}} for row in found]})
    if not results:
        return None
    return Problem("DUPLICATES_DETECTED", ALERT, (), duplicate_result={
        "allowSave": False, "duplicateRule": RULE, "duplicateRuleEntityType": "Lead", "errorMessage": ALERT,
        "matchResults": results})
