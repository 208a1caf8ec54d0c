"""``errors.*``: records that failed alone in a sync run, with the reason."""

from __future__ import annotations

from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.agent.store.queries import sync_errors
from leadsync.common.models import SyncError


class ErrorsList(Params):
    include_resolved: bool = False
    contact_id: int | None = None
    limit: int = 100


@method("errors.list", ErrorsList)
async def errors_list(ctx: ApiContext, p: ErrorsList) -> list[SyncError]:
    """Records that failed alone, with the reason; open ones unless include_resolved."""
    return await sync_errors.list_errors(ctx.store, include_resolved=p.include_resolved, contact_id=p.contact_id,
                                         limit=p.limit)
