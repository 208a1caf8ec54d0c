"""Who may see a contact, and why: the owner, CRM visibility (teams; admins see all), smart lists
shared to a user, to-dos assigned to a user, and the contact's creator.

The CRM's visibility rule followed here is HubSpot's team-based access ("team" permission: a user
sees records owned by members of their teams; super admins see everything).
"""

from __future__ import annotations

from typing import Any

from leadsync.agent.contacts import get_contact
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.queries import owners as owner_rows
from leadsync.agent.store.queries import smart_lists as list_rows
from leadsync.agent.store.queries import todos as todo_rows
from leadsync.agent.store.queries.contact_filter import filter_sql
from leadsync.agent.store.queries.owners import OwnerRow
from leadsync.agent.store.queries.todos import ASSIGNED_SQL
from leadsync.agent.store.store import Store
from leadsync.agent.users import find_user, list_users
from leadsync.common.answers import SharedUser, ShareReason, Sharing
from leadsync.common.errors import NotFoundError
from leadsync.common.models import User


def _owner_teams(owners: list[OwnerRow]) -> dict[str, set[str]]:
    return {o.crm_id: {str(t["id"]) for t in o.teams} for o in owners}


def _team_names(owners: list[OwnerRow]) -> dict[str, str]:
    names: dict[str, str] = {}
    for owner in owners:
        for team in owner.teams:
            names[str(team["id"])] = team.get("name", "")
    return names


async def visible_owner_ids(store: Store, user: User) -> list[str]:
    """CRM owners whose contacts ``user`` sees through CRM teams (their own owner id included)."""
    if user.crm_owner_id is None:
        return []
    teams = _owner_teams(await owner_rows.owner_rows(store))
    mine = teams.get(user.crm_owner_id, set())
    return sorted(o for o, t in teams.items() if o == user.crm_owner_id or (mine & t))


async def visibility_condition(store: Store, user_ref: int | str) -> tuple[str, list[Any]] | None:
    """SQL condition (on ``contacts c``) for what a user sees; None for an admin (everything).

    Raises NotFoundError for an unknown user."""
    user = await find_user(store, user_ref)
    if user.role == "admin":
        return None
    owners = await visible_owner_ids(store, user)
    parts = ["c.created_by = ?", ASSIGNED_SQL]
    params: list[Any] = [user.id, user.id]
    if owners:
        parts.append(f"c.owner_id IN ({','.join('?' * len(owners))})")
        params += owners
    for flt in await list_rows.filters_shared_to(store, user.id):
        where, list_params = filter_sql(flt)
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
    owners = await owner_rows.owner_rows(store)
    teams, team_names = _owner_teams(owners), _team_names(owners)
    owner_row = await owner_rows.owner_state(store, contact.owner_id) if contact.owner_id else None
    users = await list_users(store)
    owner: dict[str, Any] | None = None
    if contact.owner_id is not None:
        matched = next((u for u in users if u.crm_owner_id == contact.owner_id), None)
        owner = {"crm_owner_id": contact.owner_id,
                 "email": owner_row.email if owner_row else None,
                 "active": owner_row.active if owner_row else None,
                 "user_id": matched.id if matched else None}
    contact_teams = teams.get(contact.owner_id or "", set())
    todos = await todo_rows.open_todos(store, contact_id)
    lists = await list_rows.all_shares(store)
    matching_lists: dict[int, bool] = {}
    for share in lists:
        if share.id not in matching_lists:
            where, params = filter_sql(share.filter)
            matching_lists[share.id] = await contact_rows.matches(store, contact_id,
                                                                   (" AND ".join(where) or "1=1", params))
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
        for share in lists:
            if share.user_id == user.id and matching_lists[share.id]:
                reasons.append(ShareReason(kind="smart_list", detail=share.name))
        for todo in todos:
            if todo.assignee == user.id:
                reasons.append(ShareReason(kind="todo", detail=todo.title))
        if contact.created_by == user.id:
            reasons.append(ShareReason(kind="creator"))
        if reasons:
            shared.append(SharedUser(user_id=user.id, email=user.email, name=user.name, reasons=reasons))
    return Sharing(contact_id=contact_id, owner=owner, shared_to=shared)
