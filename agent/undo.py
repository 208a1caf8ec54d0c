"""Undoing a sync run (``sync.undo``): the plan first (``dry_run``), then the undo as a sync run of its own
(trigger ``undo``), queued like every run. The rules of what goes back and what stays are the engine's
(:mod:`leadsync.agent.engine.undo`); the ones here are about when an undo may run."""

from __future__ import annotations

from dataclasses import asdict

from leadsync.agent.connectors.base import Connector
from leadsync.agent.engine.context import RunCounts
from leadsync.agent.engine.records import records_context
from leadsync.agent.engine.runner import get_run
from leadsync.agent.engine.undo import apply_undo, plan_undo
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import sync_runs
from leadsync.agent.store.store import Store
from leadsync.common.errors import CrmError, NotFoundError, PushDisabledError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncRun
from leadsync.common.recovery import UndoAnswer


async def undo_run(agent: Runtime, run_id: int, *, dry_run: bool, archive_created: bool) -> UndoAnswer:
    """Undo sync run ``run_id`` (or, ``dry_run``, answer the plan): see :mod:`leadsync.agent.engine.undo`.

    With nothing to put back (every field changed since, or the run wrote nothing) no undo run is recorded
    (``undo_run`` None). Raises NotFoundError for an unknown run, ValidationError for a run still running
    or already undone (by an ``ok`` undo that was not undone in turn), PushDisabledError when
    push is disabled and the undo would write the CRM, CrmNotConnectedError without a CRM, the CRM's error
    when it cannot be read (the plan reads what the CRM holds now)."""
    connector = agent.require_connector()
    run = await sync_runs.run_by_id(agent.store.reader, run_id)
    if run is None:
        raise NotFoundError(f"no sync run {run_id}")
    if run.status == "running":
        raise ValidationError(f"sync run {run_id} is still running; undo it once it has finished")
    standing = await standing_undo(agent.store, run_id)
    if standing is not None:
        raise ValidationError(f"sync run {run_id} was already undone by sync run {standing.id}; to put its "
                              f"changes back, undo sync run {standing.id}")
    ctx = await records_context(connector, 0, agent.mappings(connector))
    plan = await plan_undo(agent.store, ctx, run_id, archive_created=archive_created)
    if dry_run:
        return plan.answer
    if not any(plan.answer.counts[side] for side in ("local", "crm", "archive")):
        plan.answer.dry_run = False
        return plan.answer  # nothing to put back: no undo run is recorded
    if not agent.settings.push_enabled and (plan.answer.counts["crm"] or plan.answer.counts["archive"]):
        raise PushDisabledError("push is disabled (settings push_enabled=false): this undo would write the CRM; "
                                "nothing was changed (dry_run shows the plan)")
    done: list[UndoAnswer] = []

    async def job(undo_id: int, undo_connector: Connector) -> SyncRun:
        calls = undo_connector.api_calls
        status, error, counts = "failed", None, RunCounts()
        try:  # planned again inside the queue: what the runs before it changed is seen
            undo_ctx = await records_context(undo_connector, undo_id, agent.mappings(undo_connector))
            counts = undo_ctx.counts
            again = await plan_undo(agent.store, undo_ctx, run_id, archive_created=archive_created)
            await apply_undo(agent.store, undo_ctx, again)
            done.append(again.answer)
            changed = sorted({i.contact_id for i in again.answer.restore if "local" in i.sides})
            if changed:
                agent.emit({"type": "contacts_changed", "run_id": undo_id, "ids": changed})
            status = "partial" if counts.failed else "ok"
        except CrmError as exc:
            error = f"{type(exc).__name__}: {exc.message}"
        finally:
            async with agent.store.transaction() as db:
                await sync_runs.finish_run(db, undo_id, status=status, finished_at=now_ms(), error=error,
                                           api_calls=undo_connector.api_calls - calls, counts=asdict(counts))
        return await get_run(agent.store, undo_id)

    finished = await agent.run_job("undo", job, wait=True)
    answer = done[0] if done else plan.answer
    answer.dry_run, answer.undo_run = False, finished
    return answer


async def standing_undo(store: Store, run_id: int) -> SyncRun | None:
    """The ``ok`` undo run of ``run_id`` that still stands (was not undone in turn), or None."""
    for undo in await sync_runs.undos_of(store.reader, run_id):
        if await standing_undo(store, undo.id) is None:
            return undo
    return None
