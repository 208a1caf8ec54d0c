"""A sync run from start to end: owners, then pull (page by page), then push (batch by batch).

Each pulled page is applied in one transaction together with its cursor checkpoint, and each pushed
batch's confirmed results in one transaction, so a crash at any point resumes without skipping or
duplicating anything (invariants 3-5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from leadsync.agent.connectors.base import Connector, CrmRecord, ObjectType, PropertyMeta, WriteInput, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.planning import PlanRecorder
from leadsync.agent.engine.pull import apply_pull_page
from leadsync.agent.engine.push import SCAN_BATCH, PushPlan, apply_push_results, plan_push, write_inputs
from leadsync.agent.store.queries import conflicts, contacts, cursors, owners, sync_runs
from leadsync.agent.store.queries.contacts import PushCandidate
from leadsync.agent.store.queries.sync_runs import run_from_row as run_from_row
from leadsync.agent.store.store import Store
from leadsync.agent.users import save_owners
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import CrmError, CrmQuotaExhaustedError, LeadsyncError
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncRun

log = logging.getLogger("leadsync.sync")

WRITE_BATCHES_PER_CHUNK = 5
"""Write batches (of the CRM's batch size) planned and recorded together in one transaction."""



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
    is its own transaction); records refused alone make it ``partial``.
    """
    calls_before = connector.api_calls
    ctx = RunContext(run_id=run_id, connector=connector, mappings=mappings, properties={},
                     fallback_owner=fallback_owner, progress=progress, plan=plan)
    if between_batches is not None:
        ctx.between_batches = between_batches
    status, error = "ok", None
    directory = directory or Directory()
    try:
        if directory.stale(now_ms()):
            await _refresh_directory(store, ctx, directory, archived=pull)
        ctx.properties = directory.properties
        ctx.object_fields = directory.fields
        if pull:
            for object_type in connector.capabilities.object_types:
                await _pull(store, ctx, object_type)
        if push:
            active = await owners.active_owner_ids(store.reader)
            await _push(store, ctx, active, contact_ids)
        if ctx.counts.failed:
            status = "partial"
    except CrmError as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc.message}"
        log.warning("sync run %s failed: %s", run_id, error)
        if isinstance(exc, CrmQuotaExhaustedError) and on_quota_spent is not None:
            on_quota_spent(exc.retry_after_s)
    except asyncio.CancelledError:  # the agent is stopping: committed pages and batches stay, cursors resume
        status, error = "interrupted", "stopped before the end; the next run goes on from the saved cursors"
        raise
    except Exception as exc:
        status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.exception("sync run %s failed", run_id)
        raise
    finally:
        async with store.transaction() as db:
            await sync_runs.finish_run(db, run_id, status=status, finished_at=now_ms(), error=error,
                                       api_calls=connector.api_calls - calls_before, counts=asdict(ctx.counts))
    finished = await get_run(store, run_id)
    progress({"type": "run_finished", "run": {k: getattr(finished, k) for k in finished.__struct_fields__}})
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
    run) the archived-records check. Each part's time is the time its refresh started."""
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
    async for page in ctx.connector.pull_changes(object_type, cursor, properties=ctx.crm_properties(object_type)):
        followed = await _conversion_targets(ctx, page.records)
        async with store.transaction() as db:
            changed = await apply_pull_page(db, ctx, page.records, page.cursor, object_type)
            for target_type, records in followed.items():
                changed += await apply_pull_page(db, ctx, records, None, target_type)
        if changed and ctx.plan is None:
            ctx.progress({"type": "contacts_changed", "run_id": ctx.run_id, "ids": changed})
        ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "pull", "object_type": object_type,
                      "done": ctx.counts.pulled, "total": page.total})
        await ctx.between_batches()


async def _conversion_targets(ctx: RunContext, records: Sequence[CrmRecord]) -> dict[ObjectType, list[CrmRecord]]:
    """The records that converted leads among ``records`` became (Salesforce ``ConvertedContactId``), read
    now so that the relinked local contacts are merged with them in the same transaction."""
    wanted: dict[ObjectType, list[str]] = {}
    for record in records:
        if record.converted_to_type is not None and record.converted_to_id and not record.archived:
            wanted.setdefault(record.converted_to_type, []).append(record.converted_to_id)
    found: dict[ObjectType, list[CrmRecord]] = {}
    for target_type, ids in wanted.items():
        read = await ctx.connector.read(target_type, sorted(set(ids)), properties=ctx.crm_properties(target_type))
        found[target_type] = [r for r in read.values() if r is not None]
    return found


async def _push(store: Store, ctx: RunContext, active_owners: set[str], contact_ids: list[int] | None) -> None:
    total = await contacts.count_push_candidates(store.reader, contact_ids)
    ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "push", "done": 0, "total": total})
    retry = await _push_pass(store, ctx, active_owners, contact_ids, total)
    if retry:  # writes that went to a lead converted meanwhile: once more, now to the record it became
        await _push_pass(store, ctx, active_owners, sorted(retry), total)


async def _push_pass(store: Store, ctx: RunContext, active_owners: set[str], contact_ids: list[int] | None,
                     total: int) -> set[int]:
    """Push every candidate (among ``contact_ids``) once; returns the contacts whose update found their
    lead converted (relinked now, to be pushed again). Candidates go in chunks of a few write batches,
    each recorded in its own transaction, so a CRM failure mid-run loses no confirmed write."""
    chunk = max(ctx.connector.capabilities.batch_size * WRITE_BATCHES_PER_CHUNK, 20)
    after = 0
    retry: set[int] = set()
    while True:
        rows = await contacts.push_candidates(store.reader, after, SCAN_BATCH, contact_ids)
        if not rows:
            return retry
        after = rows[-1].id
        for start in range(0, len(rows), chunk):
            retry |= await _push_rows(store, ctx, rows[start:start + chunk], active_owners, total)


async def _push_rows(store: Store, ctx: RunContext, rows: list[PushCandidate], active_owners: set[str],
                     total: int) -> set[int]:
    """Plan, write and record one chunk of push candidates; returns the contacts to push again."""
    caps = ctx.connector.capabilities
    retry: set[int] = set()
    plan = plan_push(ctx, rows, active_owners, await conflicts.undecided_fields(store.reader, [r.id for r in rows]))
    results: dict[int, WriteResult] = {}
    found: dict[ObjectType, list[CrmRecord]] = {}
    creates = write_inputs(plan, "create")
    # an email already on an object checked first (Salesforce: a Contact) is linked, not made a lead
    for object_type in caps.link_first:
        if not creates:
            break
        emails = {w.ref: e for w in creates if (e := w.properties.get(caps.email_property))}
        matches = await ctx.connector.find_by_email(object_type, sorted(set(emails.values())),
                                                    properties=ctx.crm_properties(object_type))
        linked = {ref for ref, e in emails.items() if e in matches}
        found.setdefault(object_type, []).extend({matches[emails[r]].id: matches[emails[r]]
                                                  for r in linked}.values())
        creates = [w for w in creates if w.ref not in linked]
        plan.writes = [w for w in plan.writes if str(w.contact_id) not in linked]
    if creates:
        for result in await ctx.connector.create(caps.new_lead_object, creates):
            results[int(result.ref)] = result
    for object_type, updates in _updates_by_object(plan).items():
        for result in await ctx.connector.update(object_type, updates):
            results[int(result.ref)] = result
    # a create refused because the email exists in the CRM links to that record instead (never a
    # duplicate, and a replay after a crash is harmless): it is merged like a pulled record
    existing = {cid: r.existing_id for cid, r in results.items() if not r.ok and r.existing_id}
    if existing:
        read = await ctx.connector.read(caps.new_lead_object, sorted(set(existing.values())),
                                        properties=ctx.crm_properties(caps.new_lead_object))
        found.setdefault(caps.new_lead_object, []).extend(r for r in read.values() if r is not None)
        plan.writes = [w for w in plan.writes if w.contact_id not in existing]
    # an update refused because its lead was converted: relinked to what it became, then pushed again
    converted = {cid: r.record for cid, r in results.items()
                 if not r.ok and r.record is not None and r.record.converted_to_id}
    if converted:
        found.setdefault(caps.new_lead_object, []).extend(r for r in converted.values() if r is not None)
        plan.writes = [w for w in plan.writes if w.contact_id not in converted]
        retry |= set(converted)
    targets = await _conversion_targets(ctx, [r for records in found.values() for r in records])
    async with store.transaction() as db:
        for object_type, records in (*found.items(), *targets.items()):
            await apply_pull_page(db, ctx, records, None, object_type)
        await apply_push_results(db, ctx, plan, results, caps.new_lead_object)
    ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "push",
                  "done": ctx.counts.created_crm + ctx.counts.updated_crm + ctx.counts.linked + ctx.counts.failed,
                  "total": total})
    await ctx.between_batches()
    return retry


def _updates_by_object(plan: PushPlan) -> dict[ObjectType, list[WriteInput]]:
    """The plan's updates grouped by the object type each contact is linked to."""
    grouped: dict[ObjectType, list[WriteInput]] = {}
    for write in plan.writes:
        if write.op == "update":
            grouped.setdefault(write.object_type, []).append(
                WriteInput(ref=str(write.contact_id), properties=write.properties, id=write.crm_id,
                           clear_first=write.clear_first))
    return grouped
