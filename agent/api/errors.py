"""``errors.*``: records that failed alone in a sync run, with the reason, and retrying them."""

from __future__ import annotations

import msgspec

from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.agent.retries import retry_errors
from leadsync.agent.store.queries import sync_errors
from leadsync.common.models import SyncError
from leadsync.common.recovery import RetryAnswer


class ErrorsList(Params):
    include_resolved: bool = False
    contact_id: int | None = None
    limit: int = 100
    code: str | None = None


class ErrorsRetry(Params):
    id: int | None = None
    ids: list[int] | None = None
    code: str | None = None
    every: bool = msgspec.field(default=False, name="all")
    wait: bool = False


@method("errors.list", ErrorsList)
async def errors_list(ctx: ApiContext, p: ErrorsList) -> list[SyncError]:
    """Records that failed alone, with the reason; open ones unless include_resolved.

    Each: the reason as a sentence, the CRM's raw answer (detail), how often (count) and when last
    (last_seen_at), and when an automatic retry is due (next_retry_at); of one contact or code when given,
    most recently seen first."""
    return await sync_errors.list_errors(ctx.store, include_resolved=p.include_resolved, contact_id=p.contact_id,
                                         limit=p.limit, code=p.code)


@method("errors.retry", ErrorsRetry)
async def errors_retry(ctx: ApiContext, p: ErrorsRetry) -> RetryAnswer:
    """Retry open errors now: one (id), a list (ids), or every open one of a code (code) or of any (all):
    contacts are pushed again, CRM records of pull errors read again (trigger retry); a record that succeeds
    closes its error. wait=true answers once done, with the errors closed and still open."""
    ids = p.ids if p.id is None else [p.id, *(p.ids or [])]
    return await retry_errors(ctx.agent, ids=ids, code=p.code, every=p.every, wait=p.wait)
