"""Who may see a contact, and why: the owner, CRM visibility (teams; admins see all), smart lists
shared to a user, to-dos assigned to a user, and the contact's creator.

The CRM's visibility rule followed here is HubSpot's team-based access ("team" permission: a user
sees records owned by members of their teams; super admins see everything).
"""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.contacts import filter_sql, get_contact
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.store import Store, loads
from leadsync.agent.users import find_user, list_users
from leadsync.common.answers import ContactFilter, SharedUser, ShareReason, Sharing
from leadsync.common.errors import NotFoundError
from leadsync.common.models import User


async def _owner_teams(store: Store) -> dict[str, set[str]]:
    rows = await store.fetchall("SELECT crm_id, teams FROM owners")
    return {r["crm_id"]: {str(t["id"]) for t in loads(r["teams"]) or []} for r in rows}


async def _team_names(store: Store) -> dict[str, str]:
    names: dict[str, str] = {}
    for row in await store.fetchall("SELECT teams FROM owners"):
        for team in loads(row["teams"]) or []:
            names[str(team["id"])] = team.get("name", "")
    return names


async def visible_owner_ids(store: Store, user: User) -> list[str]:
    """CRM owners whose contacts ``user`` sees through CRM teams (their own owner id included)."""
    if user.crm_owner_id is None:
        return []
    teams = await _owner_teams(store)
    mine = teams.get(user.crm_owner_id, set())
    return sorted(o for o, t in teams.items() if o == user.crm_owner_id or (mine & t))


async def visibility_condition(store: Store, user_ref: int | str) -> tuple[str, list[Any]] | None:
    """SQL condition (on ``contacts c``) for what a user sees; None for an admin (everything).

    Raises NotFoundError for an unknown user."""
    user = await find_user(store, user_ref)
    if user.role == "admin":
        return None
    owners = await visible_owner_ids(store, user)
    parts = ["c.created_by = ?", "c.id IN (SELECT contact_id FROM todos WHERE assignee = ?)"]
    params: list[Any] = [user.id, user.id]
    if owners:
        parts.append(f"c.owner_id IN ({','.join('?' * len(owners))})")
        params += owners
    for row in await store.fetchall(
        "SELECT s.filter FROM smart_lists s JOIN smart_list_shares h ON h.smart_list_id = s.id WHERE h.user_id = ?",
        (user.id,),
    ):
        where, list_params = filter_sql(msgspec.convert(loads(row["filter"]), ContactFilter))
        parts.append("(" + (" AND ".join(where) or "1=1") + ")")
        params += list_params
    return "(" + " OR ".join(parts) + ")", params


async def require_visible(store: Store, contact_id: int, user_ref: int | str) -> None:
    """Raise NotFoundError unless user ``user_ref`` may see contact ``contact_id`` (an unknown user too):
    to someone who may not see it, a contact does not exist."""
    visible = await visibility_condition(store, user_ref)
    if visible is not None and not await contact_rows.matches(store, contact_id, visible):
        raise NotFoundError(f"no contact with id {contact_id} visible to {user_ref}")


async def contact_sharing(store: Store, contact_id: int) -> Sharing:
    """Owner and shared-to users of one contact with the reasons; raises NotFoundError."""
    contact = await get_contact(store, contact_id)
    teams = await _owner_teams(store)
    team_names = await _team_names(store)
    owner_row = await store.fetchone("SELECT * FROM owners WHERE crm_id = ?", (contact.owner_id,)) \
        if contact.owner_id else None
    users = await list_users(store)
    owner: dict[str, Any] | None = None
    if contact.owner_id is not None:
        matched = next((u for u in users if u.crm_owner_id == contact.owner_id), None)
        owner = {"crm_owner_id": contact.owner_id,
                 "email": owner_row["email"] if owner_row else None,
                 "active": bool(owner_row["active"]) if owner_row else None,
                 "user_id": matched.id if matched else None}
    contact_teams = teams.get(contact.owner_id or "", set())
    todos = await store.fetchall("SELECT assignee, title FROM todos WHERE contact_id = ? AND done = 0", (contact_id,))
    lists = await store.fetchall(
        "SELECT s.id, s.name, s.filter, h.user_id FROM smart_lists s "
        "JOIN smart_list_shares h ON h.smart_list_id = s.id")
    matching_lists: dict[int, bool] = {}
    for row in lists:
        if row["id"] not in matching_lists:
            where, params = filter_sql(msgspec.convert(loads(row["filter"]), ContactFilter))
            hit = await store.fetchone(
                "SELECT 1 FROM contacts c WHERE c.id = ?" + "".join(f" AND {w}" for w in where), [contact_id, *params])
            matching_lists[row["id"]] = hit is not None
    shared: list[SharedUser] = []
    for user in users:
        reasons: list[ShareReason] = []
        if user.crm_owner_id is not None and user.crm_owner_id == contact.owner_id:
            reasons.append(ShareReason(kind="owner"))
        if user.role == "admin":
            reasons.append(ShareReason(kind="admin", detail="admins see every contact"))
        if user.crm_owner_id is not None and user.crm_owner_id != contact.owner_id:
            common = teams.get(user.crm_owner_id, set()) & contact_teams
            for team in sorted(common):
                reasons.append(ShareReason(kind="team", detail=team_names.get(team, team)))
        for row in lists:
            if row["user_id"] == user.id and matching_lists[row["id"]]:
                reasons.append(ShareReason(kind="smart_list", detail=row["name"]))
        for todo in todos:
            if todo["assignee"] == user.id:
                reasons.append(ShareReason(kind="todo", detail=todo["title"]))
        if contact.created_by == user.id:
            reasons.append(ShareReason(kind="creator"))
        if reasons:
            shared.append(SharedUser(user_id=user.id, email=user.email, name=user.name, reasons=reasons))
    return Sharing(contact_id=contact_id, owner=owner, shared_to=shared)
