"""Who a CRM owner id is: built from ``users.list`` (``{users, unmatched_owners}``).

Users are matched to CRM owners by email, so a matched owner is known through its user
(``crm_owner_id``); owners no user matches are listed as ``unmatched_owners``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from leadsync.common.models import Owner, User
from leadsync.tui.formatting import MISSING, person


class UsersAnswer(msgspec.Struct, kw_only=True):
    """The shape of ``users.list`` (``owners``: every CRM owner with its matched user and contact count; an
    older agent sends only ``unmatched_owners``)."""

    users: list[User]
    unmatched_owners: list[Owner] = []
    owners: list[Owner] = []


@dataclass(frozen=True)
class OwnerInfo:
    """A CRM owner as the TUI shows it: ``name`` and ``email``; ``user_id`` when a user matches."""

    crm_id: str
    name: str
    email: str
    user_id: int | None
    active: bool | None


@dataclass
class OwnerDirectory:
    """Owners by CRM owner id, and users by id (for ``created_by``)."""

    owners: dict[str, OwnerInfo] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    crm_owners: list[Owner] = field(default_factory=list)
    """Every CRM owner as ``users.list`` gave it (with ``contacts_owned``), for the owners screen."""

    @classmethod
    def from_answer(cls, answer: Any) -> OwnerDirectory:
        parsed = msgspec.convert(answer, UsersAnswer)
        directory = cls(users={u.id: u for u in parsed.users}, crm_owners=parsed.owners or parsed.unmatched_owners)
        for o in parsed.unmatched_owners:
            directory.owners[o.crm_id] = OwnerInfo(o.crm_id, person(o.first_name, o.last_name) or o.email,
                                                   o.email, None, o.active)
        for u in parsed.users:
            if u.crm_owner_id:
                directory.owners[u.crm_owner_id] = OwnerInfo(u.crm_owner_id, u.name or u.email, u.email, u.id,
                                                             u.owner_active)
        return directory

    def label(self, owner_id: str | None) -> str:
        """The owner's name (or their id when the owner is not known yet)."""
        if owner_id is None:
            return MISSING
        info = self.owners.get(owner_id)
        return info.name if info else f"#{owner_id}"

    def describe(self, owner_id: str | None) -> str:
        """``Name <email> (CRM owner 123)``; says so when the owner is unknown or unmatched."""
        if owner_id is None:
            return "no owner"
        info = self.owners.get(owner_id)
        if info is None:
            return f"CRM owner {owner_id} (not in the owner list yet: it arrives with the next sync)"
        matched = "" if info.user_id is not None else ", no leadsync user matches"
        inactive = ", inactive in the CRM" if info.active is False else ""
        return f"{info.name} <{info.email}> (CRM owner {owner_id}{matched}{inactive})"

    def user_label(self, user_id: int | None) -> str:
        if user_id is None:
            return MISSING
        user = self.users.get(user_id)
        return f"{user.name or user.email} <{user.email}>" if user else f"user #{user_id}"

    def owner_options(self) -> list[tuple[str, str]]:
        """(label, filter value) pairs for an owner filter: the CRM owner id."""
        return sorted(((f"{i.name} <{i.email}>", i.crm_id) for i in self.owners.values()),
                      key=lambda pair: pair[0].lower())

    def user_options(self, *, mark_unowned: bool = False) -> list[tuple[str, int]]:
        """(label, user id) pairs; with ``mark_unowned`` a user no active CRM owner matches says so (the
        CRM cannot make them an owner)."""
        def label(u: User) -> str:
            owned = bool(u.crm_owner_id) and u.owner_active is not False
            return f"{u.name or u.email} <{u.email}>" + ("" if owned or not mark_unowned else " — no CRM owner")

        return [(label(u), u.id) for u in self.users.values()]
