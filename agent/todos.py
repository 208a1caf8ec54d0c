"""To-dos: assigning one shares the contact to the assignee and writes the assignee as the contact's
owner to the CRM (the one exception to "ownership comes from the CRM")."""

from __future__ import annotations

import msgspec

from leadsync.agent.contacts import get_contact
from leadsync.agent.store.store import Store
from leadsync.agent.users import find_user
from leadsync.agent.validation import clean_text
from leadsync.common.answers import Todo
from leadsync.common.errors import ValidationError
from leadsync.common.instants import now_ms


async def assign_todo(store: Store, contact_id: int, assignee_ref: int | str, title: str, due: str | None,
                      created_by: int | str | None) -> Todo:
    """Create a to-do and ask for the assignee's CRM owner id to be written as the contact's owner.

    Raises NotFoundError (contact, user) and ValidationError (no title; the assignee has no active CRM
    owner, so ownership could not move to them)."""
    await get_contact(store, contact_id)
    assignee = await find_user(store, assignee_ref)
    creator = await find_user(store, created_by) if created_by is not None else None
    clean_title = (clean_text("title", title) or "").strip()
    if not clean_title:
        raise ValidationError("title: a to-do needs a title")
    if assignee.crm_owner_id is None or not assignee.owner_active:
        raise ValidationError(
            f"assignee: {assignee.email} has no active CRM owner with the same email, so the contact cannot be "
            "owned by them in the CRM; add the user in the CRM (or fix the email) and sync first")
    stamp = now_ms()
    async with store.transaction() as db:
        async with db.execute(
            "INSERT INTO todos(contact_id, assignee, title, due, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (contact_id, assignee.id, clean_title, due, creator.id if creator else None, stamp),
        ) as cur:
            todo_id = cur.lastrowid
        await db.execute(
            "UPDATE contacts SET owner_push = ?, push_wanted = 1, local_rev = local_rev + 1, updated_at = ? "
            "WHERE id = ?", (assignee.crm_owner_id, stamp, contact_id))
    assert todo_id is not None
    return Todo(id=todo_id, contact_id=contact_id, assignee=assignee.id, title=clean_title, due=due, done=False,
                created_by=creator.id if creator else None, created_at=stamp)


async def list_todos(store: Store, *, assignee: int | None = None, contact_id: int | None = None) -> list[Todo]:
    where: list[str] = ["1=1"]
    params: list[int] = []
    if assignee is not None:
        where.append("assignee = ?")
        params.append(assignee)
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    rows = await store.fetchall(f"SELECT * FROM todos WHERE {' AND '.join(where)} ORDER BY id", params)
    return [msgspec.convert({k: (bool(r[k]) if k == "done" else r[k]) for k in r.keys()}, Todo) for r in rows]
