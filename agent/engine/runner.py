"""A sync run from start to end: owners, then pull (page by page), then push (batch by batch).

Each pulled page is applied in one transaction together with its cursor checkpoint, and each pushed
batch's confirmed results in one transaction, so a crash at any point resumes without skipping or
duplicating anything (invariants 3-5). A pull into a store with no contact leaves the search index to
one bulk build after it (:func:`~leadsync.agent.store.search_index.deferred`, progress phase ``search_index``),
which goes on in the background once the run has ended (``ok``, ``partial``, or ``failed`` after its pull): its
progress events come after the run's ``run_finished`` and carry the run's id. A dry run (``plan``) never defers
it, so never starts one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.connectors.base import Connector, CrmRecord, ObjectType, PropertyMeta, PullPage
from leadsync.agent.engine import push_phase
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.outcome import record_outcome
from leadsync.agent.engine.page_groups import page_groups
from leadsync.agent.engine.planning import PlanRecorder
from leadsync.agent.engine.pull import PulledValues, apply_pull_page, page_values
from leadsync.agent.engine.relink import conversion_targets
from leadsync.agent.store import search_index
from leadsync.agent.store.disk import disk_full
from leadsync.agent.store.queries import cursors, owners, sync_runs
from leadsync.agent.store.queries.contacts import any_contact
from leadsync.agent.store.queries.sync_runs import run_from_row as run_from_row
from leadsync.agent.store.store import Store
from leadsync.agent.users import save_owners
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import CrmError, CrmQuotaExhaustedError, LeadsyncError
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncRun

log = logging.getLogger("leadsync.sync")


async def start_run(store: Store, trigger: str) -> int:
    """Insert a ``running`` sync run and return its id."""
    async with store.transaction() as db:
        return await sync_runs.insert_run(db, trigger, now_ms())


async def get_run(store: Store, run_id: int) -> SyncRun:
    """Sync run ``run_id``; LeadsyncError when there is none."""
    run = await sync_runs.run_by_id(store.reader, run_id)
    if run is None:
        raise LeadsyncError(f"no sync run {run_id}")
    return run


async def execute_run(
    store: Store,
    connector: Connector,
    run_id: int,
    *,
    mappings: tuple[FieldMapping, ...],
    fallback_owner: str | None = None,
    pull: bool = True,
    push: bool = True,
    contact_ids: list[int] | None = None,
    progress: Callable[[dict[str, Any]], None] = lambda e: None,
    plan: PlanRecorder | None = None,
    between_batches: Callable[[], Awaitable[None]] | None = None,
    directory: Directory | None = None,
    on_quota_spent: Callable[[float | None], None] | None = None,
) -> SyncRun:
    """Run sync run ``run_id`` (already started) and record its outcome; returns the finished run.

    CRM failures end the run as ``failed`` with the reason (nothing half-applied: each page and batch
    is its own transaction); records refused alone, and pushed batches that could not get through (left
    queued for the next run, see :mod:`~leadsync.agent.engine.push_phase`), make it ``partial``.
    """
    calls_before = connector.api_calls
    ctx = RunContext(run_id=run_id, connector=connector, mappings=mappings, properties={},
                     fallback_owner=fallback_owner, progress=progress, plan=plan)
    if between_batches is not None:
        ctx.between_batches = between_batches
    status, error = "ok", None
    directory = directory or Directory()
    index_deferred = False  # the pull left the search index to a bulk build (never in a dry run)
    try:
        if directory.stale(now_ms()):
            await _refresh_directory(store, ctx, directory, archived=pull)
        ctx.properties = directory.properties
        ctx.object_fields = directory.fields
        if pull:
            async with search_index.deferred(store, enabled=plan is None,
                                             progress=partial(_indexing, ctx)) as index_deferred:
                for object_type in connector.capabilities.object_types:
                    await _pull(store, ctx, object_type)
        if push:
            active = await owners.active_owner_ids(store.reader)
            await push_phase.push(store, ctx, active, contact_ids)
        if ctx.counts.failed:
            status = "partial"
        if ctx.not_sent:
            error = (f"{ctx.not_sent} writes could not get through to the CRM (unavailable or rate limited after "
                     "retries); they stay queued for the next run")
    except CrmError as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc.message}"
        log.warning("sync run %s failed: %s", run_id, error)
        if isinstance(exc, CrmQuotaExhaustedError) and on_quota_spent is not None:
            on_quota_spent(exc.retry_after_s)
    except asyncio.CancelledError:  # the agent is stopping: committed pages and batches stay, cursors resume
        status, error = "interrupted", "stopped before the end; the next run goes on from the saved cursors"
        raise
    except Exception as exc:
        if (full := disk_full(exc, store.path)) is None:
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            log.exception("sync run %s failed", run_id)
            raise
        status, error = "failed", full.message  # the page or batch that hit it was rolled back
        log.error("sync run %s failed: %s", run_id, error)
    finally:
        finished = await record_outcome(store, run_id, status=status, finished_at=now_ms(), error=error,
                                        api_calls=connector.api_calls - calls_before, counts=asdict(ctx.counts))
    progress({"type": "run_finished", "run": {k: getattr(finished, k) for k in finished.__struct_fields__}})
    if index_deferred:  # its backlog, or what a build already running leaves of it (then 0 more to do)
        search_index.build_in_background(store, partial(_indexing, ctx))
    return finished


@dataclass
class DirectoryCache:
    """What a :class:`Directory` holds, shared by every view of it: property metadata (``fields``: each
    object type's property names in lower case) and owners, refreshed together at ``refreshed_at_ms``, and
    the archived-records check, last made at ``archived_at_ms``."""

    properties: dict[str, PropertyMeta] = field(default_factory=dict)
    fields: dict[str, frozenset[str]] = field(default_factory=dict)
    refreshed_at_ms: int | None = None
    archived_at_ms: int | None = None


class Directory:
    """CRM metadata a run needs, reused for a while so that an incremental sync with nothing to do costs
    few API calls: property metadata and owners are refreshed at most every ``ttl_ms`` (ms), the
    archived-records check at most every ``archived_ttl_ms`` (default: ``ttl_ms``; 0: on every pull run).
    :meth:`view` gives the same cache under other limits (a manual run wants fresher deletions than an
    interval run). A push-only run refreshes what it needs and leaves the archived check to pull runs."""

    def __init__(self, ttl_ms: int = 0, *, archived_ttl_ms: int | None = None,
                 cache: DirectoryCache | None = None) -> None:
        self.ttl_ms = ttl_ms
        self.archived_ttl_ms = ttl_ms if archived_ttl_ms is None else archived_ttl_ms
        self.cache = cache if cache is not None else DirectoryCache()

    def view(self, *, ttl_ms: int | None = None, archived_ttl_ms: int | None = None) -> Directory:
        """This directory's cache under other limits (None: this directory's)."""
        return Directory(self.ttl_ms if ttl_ms is None else ttl_ms,
                         archived_ttl_ms=self.archived_ttl_ms if archived_ttl_ms is None else archived_ttl_ms,
                         cache=self.cache)

    @property
    def properties(self) -> dict[str, PropertyMeta]:
        return self.cache.properties

    @property
    def fields(self) -> dict[str, frozenset[str]]:
        return self.cache.fields

    @property
    def refreshed_at_ms(self) -> int | None:
        return self.cache.refreshed_at_ms

    def metadata_stale(self, now: int) -> bool:
        at = self.cache.refreshed_at_ms
        return at is None or now - at >= self.ttl_ms

    def archived_stale(self, now: int) -> bool:
        at = self.cache.archived_at_ms
        return at is None or now - at >= self.archived_ttl_ms

    def stale(self, now: int) -> bool:
        """Whether a run may need a refresh (:func:`_refresh_directory` then does only the stale parts)."""
        return self.metadata_stale(now) or self.archived_stale(now)


async def _refresh_directory(store: Store, ctx: RunContext, directory: Directory, *, archived: bool) -> None:
    """Refresh the stale parts of ``directory``: property metadata and owners, and (``archived``: a pull
    run) the archived-records check, skipped (no call) while the store has no contact. Each part's time is
    the time its refresh started."""
    caps = ctx.connector.capabilities
    cache = directory.cache
    started = now_ms()
    if directory.metadata_stale(started):
        properties: dict[str, PropertyMeta] = {}
        fields: dict[str, frozenset[str]] = {}
        for object_type in dict.fromkeys((*caps.object_types, caps.new_lead_object, *caps.link_first)):
            metas = await ctx.connector.list_properties(object_type)
            fields[object_type] = frozenset(m.name.lower() for m in metas)
            for meta in metas:
                properties.setdefault(meta.name, meta)
        owners = await ctx.connector.list_owners()
        async with store.transaction() as db:
            await save_owners(db, owners)
        cache.properties, cache.fields, cache.refreshed_at_ms = properties, fields, started
        ctx.properties = properties
        for local, name in ctx.unknown_properties():  # once per metadata refresh, not on every run
            log.warning("the mapping of %s names %s, which %s does not have: that field is not synced "
                        "(mappings.check reports it; fix it with mappings.update)", local, name, ctx.crm)
    ctx.object_fields = cache.fields
    if archived and directory.archived_stale(started):
        if await any_contact(store):  # an empty store (a first pull) has nothing a deletion could concern
            for object_type in caps.object_types:
                await _mark_archived(store, ctx, object_type)
        cache.archived_at_ms = started


async def _mark_archived(store: Store, ctx: RunContext, object_type: ObjectType) -> None:
    """Contacts whose CRM record is archived (deleted) are marked, never recreated by a push (case B22);
    one merged away into another record (Salesforce ``MasterRecordId``) follows the survivor (case B21)."""
    email = ctx.connector.capabilities.email_property
    async for batch in ctx.connector.list_archived(object_type, properties=[email]):
        if batch:
            async with store.transaction() as db:
                await apply_pull_page(db, ctx, [r if r.archived else msgspec.structs.replace(r, archived=True)
                                                for r in batch], None, object_type)


async def _pull(store: Store, ctx: RunContext, object_type: ObjectType) -> None:
    cursor = await cursors.load_cursor(store.reader, ctx.crm, object_type)
    pages = ctx.connector.pull_changes(object_type, cursor, properties=ctx.crm_properties(object_type))
    async for page in page_groups(pages):  # the pages waiting when the store is free: one transaction
        followed = await conversion_targets(ctx, page.records)
        values = page_values(ctx, [*page.records, *(r for records in followed.values() for r in records)])
        changed = await store.write(partial(_apply_page, ctx=ctx, page=page, object_type=object_type,
                                            followed=followed, values=values))  # on the writer's thread
        if changed and ctx.plan is None:
            ctx.progress({"type": "contacts_changed", "run_id": ctx.run_id, "ids": changed})
        ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "pull", "object_type": object_type,
                      "done": ctx.counts.pulled, "total": page.total})
        await ctx.between_batches()


def _indexing(ctx: RunContext, done: int, total: int) -> None:
    """Progress of the search index's bulk build after a large pull (:mod:`~leadsync.agent.store.search_index`:
    a first full pull into an empty store leaves it to the end; after a pull that ended, these events follow
    the run's ``run_finished``)."""
    ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "search_index", "done": done, "total": total})


async def _apply_page(db: aiosqlite.Connection, *, ctx: RunContext, page: PullPage, object_type: ObjectType,
                      followed: dict[ObjectType, list[CrmRecord]], values: dict[tuple[str, str], PulledValues]
                      ) -> list[int]:
    """Apply a pulled ``page`` and the records its converted leads became (``followed``) in ``db``'s
    transaction (``values``: their :func:`~leadsync.agent.engine.pull.page_values`); the ids of the contacts
    changed."""
    changed = await apply_pull_page(db, ctx, page.records, page.cursor, object_type, values=values)
    for target_type, records in followed.items():
        changed += await apply_pull_page(db, ctx, records, None, target_type, values=values)
    return changed
