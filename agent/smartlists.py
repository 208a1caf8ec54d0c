"""Smart lists: saved contact filters (owner, lifecycle stage, interest level, text, created by, CRM
link state) that can be shared to users, which shares their contacts."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.store.queries import smart_lists as list_rows
from leadsync.agent.store.queries import users as user_rows
from leadsync.agent.store.queries.contact_filter import filter_sql
from leadsync.agent.store.store import Store
from leadsync.common.answers import ContactFilter, SmartList
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms


async def get_smart_list(store: Store, list_id: int) -> SmartList:
    """One smart list with the users it is shared to; raises NotFoundError."""
    found = await list_rows.smart_list(store, list_id)
    if found is None:
        raise NotFoundError(f"no smart list with id {list_id}")
    return found


async def narrowed_filter(store: Store, list_id: int, flt: ContactFilter) -> ContactFilter:
    """A smart list's saved filter with the fields ``flt`` sets on top; raises NotFoundError."""
    saved = (await get_smart_list(store, list_id)).filter
    return msgspec.structs.replace(saved, **{k: v for k, v in msgspec.structs.asdict(flt).items() if v is not None})


async def list_smart_lists(store: Store) -> list[SmartList]:
    """Every smart list, by id."""
    return [await get_smart_list(store, list_id) for list_id in await list_rows.smart_list_ids(store)]


async def save_smart_list(store: Store, *, list_id: int | None, name: str | None, flt: ContactFilter | None,
                          created_by: int | None, shared_with: list[int] | None) -> SmartList:
    """Create (``list_id`` None) or update a smart list; ``shared_with`` replaces the share list."""
    if flt is not None:
        filter_sql(flt)  # validates
    if list_id is None and not (name or "").strip():
        raise ValidationError("name: a smart list needs a name")
    async with store.transaction() as db:
        if created_by is not None and not await user_rows.user_exists(db, created_by):
            raise ValidationError(f"created_by: no user with id {created_by}")
        if list_id is None:
            list_id = await list_rows.insert_smart_list(db, name=(name or "").strip(), flt=flt or ContactFilter(),
                                                        created_by=created_by, created_at=now_ms())
        else:
            if not await list_rows.smart_list_exists(db, list_id):
                raise NotFoundError(f"no smart list with id {list_id}")
            if name is not None:
                await list_rows.rename(db, list_id, name.strip())
            if flt is not None:
                await list_rows.set_filter(db, list_id, flt)
        if shared_with is not None:
            if await user_rows.count_users(db, shared_with) != len(set(shared_with)):
                raise ValidationError("shared_with: every entry must be an existing user id")
            await list_rows.replace_shares(db, list_id, set(shared_with))
    return await get_smart_list(store, list_id)


async def delete_smart_list(store: Store, list_id: int) -> dict[str, Any]:
    """Delete a smart list (and its shares); raises NotFoundError."""
    async with store.transaction() as db:
        if not await list_rows.delete_smart_list(db, list_id):
            raise NotFoundError(f"no smart list with id {list_id}")
    return {"deleted": list_id}
