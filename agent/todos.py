"""To-dos: assigning one shares the contact to the assignee and writes the assignee as the contact's
owner to the CRM (the one exception to "ownership comes from the CRM")."""

from __future__ import annotations

from leadsync.agent.contacts import get_contact
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.queries import todos as todo_rows
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
        todo_id = await todo_rows.insert_todo(db, contact_id=contact_id, assignee=assignee.id, title=clean_title,
                                              due=due, created_by=creator.id if creator else None, created_at=stamp)
        await contact_rows.ask_owner_push(db, contact_id, assignee.crm_owner_id, stamp)
    return Todo(id=todo_id, contact_id=contact_id, assignee=assignee.id, title=clean_title, due=due, done=False,
                created_by=creator.id if creator else None, created_at=stamp)


async def list_todos(store: Store, *, assignee: int | None = None, contact_id: int | None = None) -> list[Todo]:
    """The to-dos (all, or those of ``assignee`` and/or on ``contact_id``), by id."""
    return await todo_rows.list_todos(store, assignee=assignee, contact_id=contact_id)
