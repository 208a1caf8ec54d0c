"""``smartlists.*``: saved contact filters, shared to users."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent import smartlists
from leadsync.agent.api.contacts import ContactId  # smartlists.delete's params: the name is in its JSON Schema
from leadsync.agent.api.registry import ApiContext, NoParams, Params, method
from leadsync.common.answers import ContactFilter, SmartList


class SmartListCreate(Params):
    name: str
    filter: ContactFilter = msgspec.field(default_factory=ContactFilter)
    created_by: int | None = None
    shared_with: list[int] = msgspec.field(default_factory=list)


class SmartListUpdate(Params):
    id: int
    name: str | None = None
    filter: ContactFilter | None = None
    shared_with: list[int] | None = None


@method("smartlists.list", NoParams)
async def smartlists_list(ctx: ApiContext, _: NoParams) -> list[SmartList]:
    """Saved filters and who they are shared to."""
    return await smartlists.list_smart_lists(ctx.store)


@method("smartlists.create", SmartListCreate)
async def smartlists_create(ctx: ApiContext, p: SmartListCreate) -> SmartList:
    """Save a filter as a smart list; shared_with user ids see its contacts."""
    return await smartlists.save_smart_list(ctx.store, list_id=None, name=p.name, flt=p.filter,
                                            created_by=p.created_by, shared_with=p.shared_with)


@method("smartlists.update", SmartListUpdate)
async def smartlists_update(ctx: ApiContext, p: SmartListUpdate) -> SmartList:
    """Rename, refilter or reshare a smart list (shared_with replaces the list)."""
    return await smartlists.save_smart_list(ctx.store, list_id=p.id, name=p.name, flt=p.filter, created_by=None,
                                            shared_with=p.shared_with)


@method("smartlists.delete", ContactId)
async def smartlists_delete(ctx: ApiContext, p: ContactId) -> dict[str, Any]:
    """Delete a smart list (its contacts stay)."""
    return await smartlists.delete_smart_list(ctx.store, p.id)
