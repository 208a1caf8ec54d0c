"""``leadsync export``: contacts to a CSV file that is safe to open in a spreadsheet and imports back
unchanged.

- **Formula injection** (OWASP "CSV Injection"): a cell starting with ``=``, ``+``, ``-``, ``@``, tab
  or carriage return is written with a leading ``'`` so a spreadsheet shows it as text instead of
  running it; a real number or phone number (``-5``, ``+44 20 7946 0958``) is left as it is. The
  importer removes that apostrophe again (:func:`leadsync.common.importfile.excel.strip_guard`).
- Columns: the contact's own (``id`` first, as always), the owner's name and email next to its CRM
  id, then every custom field (lists joined with ``;``, as they are read back).
- Filters are checked first: an unknown ``--stage`` or ``--owner`` is refused (exit 2) instead of
  writing an empty file.

Contacts are read page by page through ``contacts.list`` (twice: once to collect the custom field
names, once to write), so memory does not grow with the number of contacts.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from leadsync.agent import lifecycle
from leadsync.common.errors import ValidationError
from leadsync.common.importfile.excel import strip_guard

LIFECYCLE_STAGES = lifecycle.STAGES
CONTACT_COLUMNS = ("id", "email", "first_name", "last_name", "company", "job_title", "phone", "lifecycle_stage",
                   "lead_score", "owner_id", "owner", "owner_email", "created_by", "crm_id", "sync_state")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^[+-]?\d[\d\s().\-/]*$|^[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?$")
Call = Callable[[str, dict[str, Any]], Any]


def plain_text(value: Any) -> str:
    """A stored value as CSV text: None -> ``""``, lists joined with ``;``, booleans ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(plain_text(v) for v in value)
    return str(value)


def escape_cell(text: str) -> str:
    """``text`` safe to open in a spreadsheet (see the module doc)."""
    if (text.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(text)) or strip_guard(text) != text:
        return "'" + text  # the second case: an apostrophe of the value's own survives the importer removing one
    return text


def write_contacts(handle: IO[str], contacts: Iterable[dict[str, Any]], custom_fields: list[str],
                   owners: dict[str, tuple[str, str]]) -> int:
    """Write a header and one row per contact (``contacts.list`` items); ``owners`` maps a CRM owner
    id to (name, email). Returns the number of contacts written."""
    writer = csv.writer(handle)
    writer.writerow([*CONTACT_COLUMNS, *custom_fields])
    count = 0
    for contact in contacts:
        name, email = owners.get(contact.get("owner_id") or "", ("", ""))
        own = {**contact, "owner": name, "owner_email": email}
        fields = contact.get("fields") or {}
        writer.writerow([escape_cell(plain_text(own.get(c))) for c in CONTACT_COLUMNS]
                        + [escape_cell(plain_text(fields.get(f))) for f in custom_fields])
        count += 1
    return count


def owner_names(call: Call) -> dict[str, tuple[str, str]]:
    """CRM owner id -> (name, email), from ``users.list`` (users with a CRM owner, and unmatched owners)."""
    answer = call("users.list", {})
    names = {u["crm_owner_id"]: (u["name"] or u["email"], u["email"]) for u in answer["users"] if u["crm_owner_id"]}
    for owner in answer["unmatched_owners"]:
        full = " ".join(p for p in (owner["first_name"], owner["last_name"]) if p)
        names[owner["crm_id"]] = (full or owner["email"], owner["email"])
    return names


def check_filter(flt: dict[str, Any], owners: dict[str, tuple[str, str]]) -> None:
    """Raises ValidationError for a lifecycle stage or owner no contact can have."""
    stage = flt.get("lifecycle_stage")
    if stage is not None and stage not in LIFECYCLE_STAGES:
        raise ValidationError(f"--stage: {stage!r} is not a lifecycle stage; one of {', '.join(LIFECYCLE_STAGES)}")
    owner = flt.get("owner")
    emails = {email.lower() for _, email in owners.values()}
    if owner is not None and owner not in owners and owner.strip().lower() not in emails:
        raise ValidationError(f"--owner: {owner!r} is no CRM owner (an owner id or email from: leadsync call "
                              "users.list)")


def export_file(call: Call, path: str, flt: dict[str, Any]) -> int:
    """Export the contacts matching ``flt`` (a ``contacts.list`` filter) to a UTF-8 file at ``path``;
    returns the count. Raises ValidationError (see :func:`check_filter`) before the file is created."""
    owners = owner_names(call)
    check_filter(flt, owners)

    def pages() -> Iterator[dict[str, Any]]:
        after = None
        while True:
            page = call("contacts.list", {"filter": flt, "after": after, "limit": 500})
            yield from page["contacts"]
            after = page["next_after"]
            if after is None:
                return

    custom: dict[str, None] = {}
    for contact in pages():
        custom.update(dict.fromkeys(contact.get("fields") or {}))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        return write_contacts(handle, pages(), sorted(custom), owners)
