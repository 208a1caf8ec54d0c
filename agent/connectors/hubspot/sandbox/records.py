"""The records the sandbox CRM holds: contacts, owners, teams and settings users.

Shapes follow HubSpot CRM v3 ("Contacts", "Owners", "User provisioning" API guides). Times are
epoch ms (UTC); ids of contacts are ints inside the sandbox and decimal strings on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .timefmt import ms_to_iso

COMPUTED_PROPERTIES = frozenset({"createdate", "lastmodifieddate", "hs_object_id"})
"""Properties derived from the record itself rather than stored: ``createdate`` (= createdAt),
``lastmodifieddate`` (= updatedAt) and ``hs_object_id`` (= id)."""


class PropertySource(Protocol):
    """Lazily computed property values for seeded contacts (see ``seed.SeedRecipe``).

    Seeded contacts store no property dict of their own: their values are a pure function of
    (seed, contact id), which keeps a million contacts in modest memory.
    """

    def value(self, contact_id: int, name: str) -> str | None:
        """Return the seeded value of property ``name`` for ``contact_id`` (``None`` if unset)."""
        ...

    def values(self, contact_id: int) -> dict[str, str | None]:
        """Return all seeded property values for ``contact_id``."""
        ...


class Contact:
    """One CRM contact.

    ``own`` holds values written after creation (or all values for contacts created through the
    API); ``source`` supplies the seeded values underneath. A value of ``None`` in ``own`` hides a
    seeded value (property unset); ``""`` is a cleared value, as HubSpot returns it.
    """

    __slots__ = ("archived_at_ms", "created_ms", "id", "merged_into", "own", "source", "updated_ms")

    def __init__(
        self,
        contact_id: int,
        created_ms: int,
        updated_ms: int,
        own: dict[str, str | None] | None = None,
        source: PropertySource | None = None,
    ) -> None:
        self.id = contact_id
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.own = own
        self.source = source
        self.archived_at_ms: int | None = None
        self.merged_into: int | None = None

    @property
    def archived(self) -> bool:
        """True once the contact has been archived (deleted to the recycle bin)."""
        return self.archived_at_ms is not None

    def get(self, name: str) -> str | None:
        """Return the wire value of property ``name`` (computed, written or seeded)."""
        if name == "lastmodifieddate":
            return ms_to_iso(self.updated_ms)
        if name == "createdate":
            return ms_to_iso(self.created_ms)
        if name == "hs_object_id":
            return str(self.id)
        own = self.own
        if own is not None and name in own:
            return own[name]
        if self.source is not None:
            return self.source.value(self.id, name)
        return None

    def stored(self) -> dict[str, str | None]:
        """Return the stored (non-computed) property values, seeded and written, merged."""
        values = self.source.values(self.id) if self.source is not None else {}
        if self.own:
            values.update(self.own)
        return values

    def properties(self) -> dict[str, str | None]:
        """Return every property with its wire value, computed ones included."""
        values = self.stored()
        values["createdate"] = ms_to_iso(self.created_ms)
        values["lastmodifieddate"] = ms_to_iso(self.updated_ms)
        values["hs_object_id"] = str(self.id)
        return values

    def set(self, name: str, value: str | None) -> None:
        """Store ``value`` for property ``name`` (``None`` unsets it); does not touch times."""
        if self.own is None:
            self.own = {}
        self.own[name] = value

    def clone(self) -> Contact:
        """Return an independent copy with all stored values materialised (a search snapshot)."""
        copy = Contact(self.id, self.created_ms, self.updated_ms, self.stored(), None)
        copy.archived_at_ms = self.archived_at_ms
        copy.merged_into = self.merged_into
        return copy


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    """A read-only view of a contact for tests and admin tools.

    ``id`` and ``merged_into`` are decimal strings as on the wire; ``properties`` includes the
    computed ``createdate``, ``lastmodifieddate`` and ``hs_object_id``.
    """

    id: str
    properties: dict[str, str | None]
    created_at_ms: int
    updated_at_ms: int
    archived: bool
    archived_at_ms: int | None
    merged_into: str | None


@dataclass(slots=True)
class Team:
    """A HubSpot team: ``id`` (decimal string) and ``name``."""

    id: str
    name: str


@dataclass(slots=True)
class Owner:
    """A CRM owner (``GET /crm/v3/owners``).

    A deactivated owner is ``archived`` with ``user_id`` ``None``; ``user_id_including_inactive``
    keeps the former user id, as HubSpot does. ``team_ids[0]`` is the primary team.
    """

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int | None
    user_id_including_inactive: int | None
    created_ms: int
    updated_ms: int
    archived: bool = False
    team_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class User:
    """A settings user (``GET /settings/v3/users``); ``super_admin`` marks the account's admin."""

    id: str
    email: str
    first_name: str
    last_name: str
    role_ids: list[str] = field(default_factory=list)
    primary_team_id: str | None = None
    secondary_team_ids: list[str] = field(default_factory=list)
    super_admin: bool = False
