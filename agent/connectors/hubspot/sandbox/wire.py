"""Contacts, owners and users in HubSpot CRM v3 wire format.

A contact (``SimplePublicObject``): ``{id, properties: {name: str | null}, createdAt, updatedAt,
archived, archivedAt?}``; times ISO-8601 with ms and ``Z``; every property value a string or null.
Requested properties that exist but have no value come back as ``null``; unknown names are left
out; with no ``properties`` requested the defaults are firstname, lastname, email, createdate,
lastmodifieddate, hs_object_id (HubSpot contacts API / search guide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .properties import DEFAULT_LIST_PROPERTIES, PropertyDef
from .records import Contact, Owner, Team, User
from .timefmt import ms_to_iso


def requested_properties(raw: Sequence[str] | None) -> list[str] | None:
    """Flatten ``properties`` given as repeated and/or comma-separated names; ``None`` if empty."""
    if not raw:
        return None
    names = [part.strip() for item in raw for part in item.split(",")]
    names = [name for name in names if name]
    return names or None


def contact_to_wire(
    contact: Contact,
    names: Sequence[str] | None,
    defs: Mapping[str, PropertyDef],
    *,
    all_values: bool = False,
    history: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Render a contact; ``all_values`` returns every property that has a value (create/update
    answers); ``history`` adds ``propertiesWithHistory`` (current value only: the sandbox keeps
    no history)."""
    properties: dict[str, str | None]
    if all_values:
        properties = {k: v for k, v in contact.properties().items() if v is not None}
    else:
        wanted = DEFAULT_LIST_PROPERTIES if names is None else names
        properties = {name: contact.get(name) for name in wanted if name in defs}
    body: dict[str, Any] = {
        "id": str(contact.id),
        "properties": properties,
        "createdAt": ms_to_iso(contact.created_ms),
        "updatedAt": ms_to_iso(contact.updated_ms),
        "archived": contact.archived,
    }
    if contact.archived_at_ms is not None:
        body["archivedAt"] = ms_to_iso(contact.archived_at_ms)
    if history:
        stamp = ms_to_iso(contact.updated_ms)
        body["propertiesWithHistory"] = {
            name: [{"value": value, "timestamp": stamp, "sourceType": "API", "sourceId": "sandbox"}]
            for name in history
            if name in defs and (value := contact.get(name)) is not None
        }
    return body


def owner_to_wire(owner: Owner, teams: Mapping[str, Team]) -> dict[str, Any]:
    """Render an owner (``PublicOwner``): ``{id, email, firstName, lastName, userId,
    userIdIncludingInactive, type: "PERSON", createdAt, updatedAt, archived, teams}``."""
    return {
        "id": owner.id,
        "email": owner.email,
        "type": "PERSON",
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id_including_inactive,
        "createdAt": ms_to_iso(owner.created_ms),
        "updatedAt": ms_to_iso(owner.updated_ms),
        "archived": owner.archived,
        "teams": [
            {"id": tid, "name": teams[tid].name, "primary": n == 0}
            for n, tid in enumerate(owner.team_ids)
            if tid in teams
        ],
    }


def user_to_wire(user: User) -> dict[str, Any]:
    """Render a settings user (``PublicUser``): ``{id, email, roleIds, primaryTeamId?,
    secondaryTeamIds, superAdmin}``."""
    body: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "roleIds": user.role_ids,
        "secondaryTeamIds": user.secondary_team_ids,
        "superAdmin": user.super_admin,
    }
    if user.role_ids:
        body["roleId"] = user.role_ids[0]
    if user.primary_team_id is not None:
        body["primaryTeamId"] = user.primary_team_id
    return body
