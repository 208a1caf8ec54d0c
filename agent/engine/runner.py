"""A sync run from start to end: owners, then pull (page by page), then push (batch by batch).

Each pulled page is applied in one transaction together with its cursor checkpoint, and each pushed
batch's confirmed results in one transaction, so a crash at any point resumes without skipping or
duplicating anything (invariants 3-5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from leadsync.agent.connectors.base import Connector, CrmRecord, ObjectType, PropertyMeta, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.planning import PlanRecorder
from leadsync.agent.engine.pull import apply_pull_page
from leadsync.agent.engine.push import (
    SCAN_BATCH,
    apply_push_results,
    count_push_candidates,
    plan_push,
    push_candidates,
    undecided_fields,
    write_inputs,
)
from leadsync.agent.store.store import Store, loads, now_ms
from leadsync.agent.users import save_owners
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import CrmError, CrmQuotaExhaustedError, LeadsyncError
from leadsync.common.models import SyncRun

log = logging.getLogger("leadsync.sync")

RUN_COLUMNS = ("pulled", "created_local", "updated_local", "created_crm", "updated_crm", "linked", "failed")


async def start_run(store: Store, trigger: str) -> int:
    """Insert a ``running`` sync run and return its id."""
    async with store.transaction() as db, db.execute(
        "INSERT INTO sync_runs(trigger, status, started_at) VALUES (?, 'running', ?)", (trigger, now_ms())
    ) as cur:
        run_id = cur.lastrowid
    assert run_id is not None
    return run_id


async def get_run(store: Store, run_id: int) -> SyncRun:
    row = await store.fetchone("SELECT * FROM sync_runs WHERE id = ?", (run_id,))
    if row is None:
        raise LeadsyncError(f"no sync run {run_id}")
    return run_from_row(row)


def run_from_row(row: Any) -> SyncRun:
    """A ``sync_runs`` row as the API's SyncRun."""
    return SyncRun(**{k: row[k] for k in row.keys() if k in SyncRun.__struct_fields__})


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
        if pull:
            for object_type in connector.capabilities.object_types:
                await _pull(store, ctx, object_type)
        if push:
            active = {r[0] for r in await store.fetchall("SELECT crm_id FROM owners WHERE active = 1")}
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
        counts = ctx.counts
        async with store.transaction() as db:
            await db.execute(
                f"UPDATE sync_runs SET status = ?, finished_at = ?, error = ?, api_calls = ?, "
                f"{', '.join(f'{c} = ?' for c in RUN_COLUMNS)} WHERE id = ?",
                (status, now_ms(), error, connector.api_calls - calls_before,
                 *(getattr(counts, c) for c in RUN_COLUMNS), run_id),
            )
    finished = await get_run(store, run_id)
    progress({"type": "run_finished", "run": {k: getattr(finished, k) for k in finished.__struct_fields__}})
    return finished


@dataclass
class Directory:
    """CRM metadata a run needs, refreshed at most every ``ttl_ms`` (ms) so that an incremental sync with
    nothing to do costs one API call: property metadata, owners, and the archived-records check."""

    ttl_ms: int = 0
    properties: dict[str, PropertyMeta] = field(default_factory=dict)
    refreshed_at_ms: int | None = None

    def stale(self, now: int) -> bool:
        return self.refreshed_at_ms is None or now - self.refreshed_at_ms >= self.ttl_ms


async def _refresh_directory(store: Store, ctx: RunContext, directory: Directory, *, archived: bool) -> None:
    caps = ctx.connector.capabilities
    properties: dict[str, PropertyMeta] = {}
    for object_type in dict.fromkeys((*caps.object_types, caps.new_lead_object)):
        for meta in await ctx.connector.list_properties(object_type):
            properties.setdefault(meta.name, meta)
    owners = await ctx.connector.list_owners()
    async with store.transaction() as db:
        await save_owners(db, owners)
    if archived:
        for object_type in caps.object_types:
            await _mark_archived(store, ctx, object_type)
    directory.properties = properties
    directory.refreshed_at_ms = now_ms()


async def _mark_archived(store: Store, ctx: RunContext, object_type: ObjectType) -> None:
    """Contacts whose CRM record is archived (deleted) are marked, never recreated by a push (case B22)."""
    async for batch in ctx.connector.list_archived(object_type, properties=[ctx.connector.capabilities.email_property]):
        ids = [r.id for r in batch]
        if not ids:
            continue
        marks = ",".join("?" * len(ids))
        async with store.transaction() as db:
            await db.execute(
                f"UPDATE contacts SET crm_state = 'archived', crm_note = 'archived (deleted) in the CRM; '"
                f" || 'contacts.restore re-creates it' WHERE crm_state = 'linked' AND id IN "
                f"(SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id IN ({marks}))", [ctx.crm, *ids])


async def _pull(store: Store, ctx: RunContext, object_type: ObjectType) -> None:
    row = await store.fetchone("SELECT value FROM cursors WHERE crm = ? AND object_type = ?",
                               (ctx.crm, object_type))
    cursor = loads(row[0]) if row else None
    async for page in ctx.connector.pull_changes(object_type, cursor, properties=ctx.crm_properties()):
        async with store.transaction() as db:
            changed = await apply_pull_page(db, ctx, page.records, page.cursor, object_type)
        if changed and ctx.plan is None:
            ctx.progress({"type": "contacts_changed", "run_id": ctx.run_id, "ids": changed})
        ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "pull", "object_type": object_type,
                      "done": ctx.counts.pulled, "total": page.total})
        await ctx.between_batches()


async def _push(store: Store, ctx: RunContext, active_owners: set[str], contact_ids: list[int] | None) -> None:
    caps = ctx.connector.capabilities
    after = 0
    total = await count_push_candidates(store, contact_ids)
    while True:
        rows = await push_candidates(store, after, SCAN_BATCH, contact_ids)
        if not rows:
            return
        after = rows[-1]["id"]
        plan = plan_push(ctx, rows, active_owners, await undecided_fields(store, [r["id"] for r in rows]))
        results: dict[int, WriteResult] = {}
        creates = write_inputs(plan, "create")
        updates = write_inputs(plan, "update")
        if creates:
            for result in await ctx.connector.create(caps.new_lead_object, creates):
                results[int(result.ref)] = result
        if updates:
            for result in await ctx.connector.update(caps.new_lead_object, updates):
                results[int(result.ref)] = result
        # a create refused because the email exists in the CRM links to that record instead (never a
        # duplicate, and a replay after a crash is harmless): it is merged like a pulled record
        existing = {cid: r.existing_id for cid, r in results.items() if not r.ok and r.existing_id}
        found: list[CrmRecord] = []
        if existing:
            read = await ctx.connector.read(caps.new_lead_object, sorted(set(existing.values())),
                                            properties=ctx.crm_properties())
            found = [r for r in read.values() if r is not None]
            plan.writes = [w for w in plan.writes if w.contact_id not in existing]
        async with store.transaction() as db:
            if found:
                await apply_pull_page(db, ctx, found, None, caps.new_lead_object)
            await apply_push_results(db, ctx, plan, results, caps.new_lead_object)
        ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "push",
                      "done": ctx.counts.created_crm + ctx.counts.updated_crm + ctx.counts.linked + ctx.counts.failed,
                      "total": total})
        await ctx.between_batches()
