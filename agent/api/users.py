"""``users.*``: local users and the CRM owners they are matched to by email."""

from __future__ import annotations

from typing import Any

from leadsync.agent import users
from leadsync.agent.api.registry import ApiContext, NoParams, Params, method
from leadsync.common.models import User


class UsersCreate(Params):
    email: str
    name: str = ""
    role: str = "user"


@method("users.list", NoParams)
async def users_list(ctx: ApiContext, _: NoParams) -> dict[str, Any]:
    """Users with their CRM owner id and status, the CRM owners no user matches, and every CRM owner (``owners``:
    with the matched ``user_id`` and ``contacts_owned``, how many contacts each owns)."""
    owners = await users.list_owners(ctx.store)
    return {"users": await users.list_users(ctx.store),
            "unmatched_owners": [o for o in owners if o.user_id is None], "owners": owners}


@method("users.create", UsersCreate)
async def users_create(ctx: ApiContext, p: UsersCreate) -> User:
    """Add a user (email, name, role user|admin)."""
    user = await users.create_user(ctx.store, p.email, p.name, p.role)
    ctx.agent.emit({"type": "users_changed", "user_id": user.id})
    return user
