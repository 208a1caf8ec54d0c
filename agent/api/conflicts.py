"""``conflicts.*``: fields changed on both sides, as the merge decided them, and their resolution."""

from __future__ import annotations

from typing import Literal

from leadsync.agent import conflicts, contacts, pushes
from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.common.answers import Conflict


class ConflictsList(Params):
    contact_id: int | None = None
    include_resolved: bool = False
    limit: int = 100


class ConflictsResolve(Params):
    id: int
    choice: Literal["keep", "restore", "local", "crm"]


@method("conflicts.list", ConflictsList)
async def conflicts_list(ctx: ApiContext, p: ConflictsList) -> list[Conflict]:
    """Fields changed on both sides, with both values, the policy and the winner (open ones by default)."""
    return await conflicts.list_conflicts(ctx.store, contact_id=p.contact_id, include_resolved=p.include_resolved,
                                          limit=p.limit)


@method("conflicts.resolve", ConflictsResolve)
async def conflicts_resolve(ctx: ApiContext, p: ConflictsResolve) -> Conflict:
    """Resolve a conflict: keep the winner, restore the losing value, or pick local/crm."""
    before = await contacts.get_contact(ctx.store, (await conflicts.get_conflict(ctx.store, p.id)).contact_id)
    resolved = await conflicts.resolve_conflict(ctx.store, p.id, p.choice)
    after = await contacts.get_contact(ctx.store, resolved.contact_id)
    await pushes.score_changed(ctx.agent, after.id, before.lead_score, after.lead_score)
    return resolved
