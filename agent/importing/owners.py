"""Owners named in a file, matched to leadsync users and CRM owners.

CRM exports write the owner as an email, a full name (``Jane Doe`` or ``Doe, Jane``) or a CRM user id
in one of its forms: HubSpot's number, Salesforce's 15- or 18-character id (the 18-character form is
the 15 plus a case checksum: both match), Zoho's ``zcrm_``-prefixed id. A user matches by email or
name; a CRM owner by id, email or name, and through its email to its user.

The matched user becomes the contact's creator and owner (as if that user had created it). A
Salesforce queue (an id starting ``00G``), a deactivated owner, an owner with no leadsync user,
an ambiguous name or no match at all gives a per-line warning and the importing user instead.
"""

from __future__ import annotations

import re
from collections import defaultdict

import msgspec

from leadsync.agent.store.queries.owners import owner_rows
from leadsync.agent.store.queries.users import user_keys
from leadsync.agent.store.store import Store
from leadsync.common.emails import normalize_email

_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


class OwnerMatch(msgspec.Struct, frozen=True):
    """``user_id``: the user who becomes creator (None: the importing user); ``owner_id``: the CRM
    owner the file names, when known; ``problem``: ``(kind, message)`` to report, when any."""

    user_id: int | None
    owner_id: str | None = None
    problem: tuple[str, str] | None = None


def _id_keys(ref: str) -> list[str]:
    ref = ref.strip()
    keys = [ref]
    if ref.lower().startswith("zcrm_"):
        keys.append(ref[5:])
    if _SALESFORCE_ID.match(ref):
        keys.append(ref[:15])
    return keys


def _name_key(name: str) -> str:
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return " ".join(name.lower().split())


class OwnerIndex:
    """Every user and CRM owner, loaded once per import call, looked up by :meth:`match`."""

    def __init__(self) -> None:
        self.user_by_email: dict[str, int] = {}
        self.users_by_name: dict[str, set[int]] = defaultdict(set)
        self.owner_of_user: dict[int, tuple[str, bool]] = {}
        self.owner_by_key: dict[str, tuple[str, str, bool]] = {}  # key -> (crm id, email key, active)
        self.owners_by_name: dict[str, set[str]] = defaultdict(set)

    @classmethod
    async def load(cls, store: Store) -> OwnerIndex:
        index = cls()
        for user in await user_keys(store):
            index.user_by_email[user.email_norm] = user.id
            if user.name.strip():
                index.users_by_name[_name_key(user.name)].add(user.id)
        for owner in await owner_rows(store):
            entry = (owner.crm_id, owner.email_norm, owner.active)
            for key in [*_id_keys(owner.crm_id), owner.email_norm]:
                index.owner_by_key.setdefault(key, entry)
            name = _name_key(f"{owner.first_name} {owner.last_name}")
            if name:
                index.owners_by_name[name].add(owner.crm_id)
            user_id = index.user_by_email.get(owner.email_norm)
            if user_id is not None:
                index.owner_of_user[user_id] = (owner.crm_id, owner.active)
        return index

    def owner_for(self, user_id: int) -> str | None:
        """The CRM owner id matched to a user (by email), or None."""
        matched = self.owner_of_user.get(user_id)
        return matched[0] if matched else None

    def match(self, ref: str) -> OwnerMatch:
        """The owner a cell names (see the module doc)."""
        ref = ref.strip()
        if ref[:3] == "00G" and _SALESFORCE_ID.match(ref):
            return OwnerMatch(None, None, ("owner_queue", "a Salesforce queue owns this record, not a user: the "
                                           "importing user owns the contact"))
        email = normalize_email(ref) if "@" in ref else None
        if email and email in self.user_by_email:
            return self._from_user(self.user_by_email[email])
        names = self.users_by_name.get(_name_key(ref), set())
        if len(names) == 1:
            return self._from_user(next(iter(names)))
        owner = next((self.owner_by_key[k] for k in _id_keys(ref) if k in self.owner_by_key), None)
        if owner is None and email:
            owner = self.owner_by_key.get(email)
        by_name = self.owners_by_name.get(_name_key(ref), set())
        if owner is None and len(by_name) == 1:
            owner = self.owner_by_key[next(iter(by_name))]
        if owner is None:
            ambiguous = len(names) > 1 or len(by_name) > 1
            return OwnerMatch(None, None, ("owner_unmatched", (
                "names more than one user or CRM owner" if ambiguous else "matches no user or CRM owner")
                + ": the importing user owns the contact"))
        crm_id, email_key, active = owner
        if not active:
            return OwnerMatch(None, crm_id, ("owner_inactive", f"CRM owner {crm_id} is deactivated: the importing "
                                             "user owns the contact"))
        user_id = self.user_by_email.get(email_key)
        if user_id is None:
            return OwnerMatch(None, crm_id, ("owner_no_user", f"CRM owner {crm_id} has no leadsync user: the "
                                             "importing user owns the contact"))
        return OwnerMatch(user_id, crm_id)

    def _from_user(self, user_id: int) -> OwnerMatch:
        owner = self.owner_of_user.get(user_id)
        if owner is not None and not owner[1]:
            return OwnerMatch(None, owner[0], ("owner_inactive", f"this user's CRM owner {owner[0]} is deactivated: "
                                               "the importing user owns the contact"))
        return OwnerMatch(user_id, owner[0] if owner else None)
