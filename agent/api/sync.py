"""``sync.*``: sync runs (now, planned, past), the sync status and the log of confirmed writes."""

from __future__ import annotations

from leadsync.agent.api.registry import ApiContext, NoParams, Params, method
from leadsync.agent.health import Health, read_health
from leadsync.agent.store.queries import sync_runs, write_log
from leadsync.agent.store.queries.write_log import WriteLogEntry
from leadsync.agent.sync_status import SyncStatus, read_status
from leadsync.agent.undo import undo_run
from leadsync.common.answers import Plan
from leadsync.common.errors import ValidationError
from leadsync.common.models import SyncRun
from leadsync.common.recovery import UndoAnswer

MAX_HISTORY = 500
MAX_LOG = 1000


class SyncRunParams(Params):
    wait: bool = False
    pull: bool = True
    push: bool = True


class SyncHistory(Params):
    limit: int = 20
    before: int | None = None
    include_quiet: bool = False


class SyncUndo(Params):
    run: int
    dry_run: bool = False
    archive_created: bool = False


class SyncLog(Params):
    contact_id: int | None = None
    sync_run_id: int | None = None
    limit: int = 100


@method("sync.run", SyncRunParams)
async def sync_run(ctx: ApiContext, p: SyncRunParams) -> SyncRun:
    """Run a sync now (or join the running one); wait=true answers with the finished run."""
    return await ctx.agent.request_sync("manual", wait=p.wait, pull=p.pull, push=p.push)


@method("sync.status", NoParams)
async def sync_status(ctx: ApiContext, _: NoParams) -> SyncStatus:
    """The running sync, the queue of requests, the push backlog (size, oldest, estimated seconds to
    drain), contacts held by an open sync error (``held_with_errors``: retried once they change; see
    errors.list), the last finished run, the last partial or failed run while its work is not done
    (``last_problem``: no ok run since, or errors still open) and the next interval run (epoch ms UTC)."""
    return await read_status(ctx.agent)


@method("sync.health", NoParams)
async def sync_health(ctx: ApiContext, _: NoParams) -> Health:
    """Sync health on one page: the connection (ok, needs_reauth, quota_spent until when, not_connected), the
    API budget (each rate-limit window used and left, the day's calls and the CRM's reported quota, calls per
    hour over 24 h), the push backlog and its drain estimate (s), the last runs (problem: partial, failed,
    interrupted), open errors grouped by code (count, a sample, the errors.retry params that retry them all)
    and every problem with its next step, as a sentence (epoch ms UTC)."""
    return await read_health(ctx.agent)


@method("sync.plan", NoParams)
async def sync_plan(ctx: ApiContext, _: NoParams) -> Plan:
    """A dry run: the writes a sync would make on each side, per record and field; nothing is written.
    With push off it still shows what a push would send, marked push_disabled (the plan and each CRM write)."""
    return await ctx.agent.plan()


@method("sync.history", SyncHistory)
async def sync_history(ctx: ApiContext, p: SyncHistory) -> list[SyncRun]:
    """Past sync runs, newest first, with counts and trigger; watch pulls that changed nothing only with
    include_quiet (they are kept 24 h; their cost is in sync.status watch)."""
    if not 1 <= p.limit <= MAX_HISTORY:
        raise ValidationError("limit: must be 1..500")
    return await sync_runs.history(ctx.store, before=p.before, limit=p.limit, include_quiet=p.include_quiet)


@method("sync.log", SyncLog)
async def sync_log(ctx: ApiContext, p: SyncLog) -> list[WriteLogEntry]:
    """Outbound writes the CRM confirmed, newest first: contact, CRM id, operation, properties sent,
    note (e.g. a fallback owner), sync run and its trigger."""
    return await write_log.recent(ctx.store, contact_id=p.contact_id, sync_run_id=p.sync_run_id,
                                  limit=min(p.limit, MAX_LOG))


@method("sync.undo", SyncUndo)
async def sync_undo(ctx: ApiContext, p: SyncUndo) -> UndoAnswer:
    """Undo a sync run: every field it wrote, on either side, back to its value before the run, unless it
    changed since (listed in changed_since, not touched); records it created in the CRM archived only with
    archive_created. dry_run=true answers the plan (per record and field) and changes nothing. The undo is
    a sync run (trigger undo, in undo_run): it shows in the history and can be undone."""
    return await undo_run(ctx.agent, p.run, dry_run=p.dry_run, archive_created=p.archive_created)
