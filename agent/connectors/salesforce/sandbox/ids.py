"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case checksum (18 in all).

The first three characters are the object's key prefix (``00Q`` Lead, ``003`` Contact, ``005`` User,
``00e`` Profile, ``00E`` UserRole, ``00D`` Organization, ``01g`` a query locator). The suffix encodes,
for each 5-character block, which characters are upper-case letters, so the 18-character form
survives case-insensitive systems. The sandbox numbers records in decimal after the prefix, so ids
sort in creation order.
"""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")

LEAD_PREFIX = "00Q"
CONTACT_PREFIX = "003"
USER_PREFIX = "005"
PROFILE_PREFIX = "00e"
ROLE_PREFIX = "00E"
ORG_PREFIX = "00D"
LOCATOR_PREFIX = "01g"
QUEUE_PREFIX = "00G"
POD = "Dn"


def checksum(id15: str) -> str:
    """The 3-character case checksum of a 15-character id."""
    suffix = ""
    for block in range(3):
        chunk = id15[block * 5:block * 5 + 5]
        bits = sum(1 << n for n, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id."""
    return record_id if len(record_id) == 18 else record_id + checksum(record_id)


def make_id(prefix: str, number: int) -> str:
    """The 18-character id number ``number`` of key prefix ``prefix``."""
    return to18(f"{prefix}{POD}{number:010d}")


def is_id(text: str) -> bool:
    """True for a well-formed 15- or 18-character id (with a correct checksum when 18)."""
    if not _ID.fullmatch(text):
        return False
    return len(text) == 15 or checksum(text[:15]) == text[15:]


def key15(record_id: str) -> str:
    """The case-sensitive 15-character identity of an id (15- and 18-character forms compare equal)."""
    return record_id[:15]
