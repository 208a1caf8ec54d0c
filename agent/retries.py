"""Failed records tried again on request (``errors.retry``): the contacts of push-side errors are queued for
a push whatever their revision (a ``retry`` run), the CRM records of pull-side errors are read again and
merged (a ``retry`` run of its own, first). A retried record that succeeds closes its error; one that fails
again is counted on the same open error.

Failed writes of a transient kind are also retried on their own (:class:`AutoRetry`) when their
``next_retry_at`` comes by the store's clock (the backoff is in :mod:`~leadsync.agent.store.queries.sync_errors`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from leadsync.agent.connectors.base import Connector
from leadsync.agent.engine.context import RunCounts
from leadsync.agent.engine.records import records_context, reread
from leadsync.agent.engine.runner import get_run
from leadsync.agent.runtime import Job, Runtime
from leadsync.agent.store.queries import sync_errors, sync_runs
from leadsync.common.errors import CrmError, LeadsyncError, PushDisabledError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncError, SyncRun
from leadsync.common.recovery import RetryAnswer, RetrySkip

PULL_OPERATIONS: Final = frozenset({"pull", "link"})
"""Operations of errors found while reading the CRM (retried by reading the record again)."""
MAX_RETRY: Final = 10_000
"""Errors one ``errors.retry`` call may name."""
RETRY_JOB: Final = "auto-retry"
"""The scheduler job of the next automatic retry."""

log = logging.getLogger("leadsync.agent")


async def select_errors(agent: Runtime, *, ids: list[int] | None, code: str | None,
                        every: bool) -> tuple[list[SyncError], list[RetrySkip]]:
    """The open errors to retry: those named by ``ids``, or every open one (of ``code``, when given) with
    ``every`` or ``code``; and the ids skipped (unknown, resolved already). ValidationError for no choice,
    two choices, or more than :data:`MAX_RETRY` ids."""
    if (ids is not None) == (every or code is not None):
        raise ValidationError("give the errors to retry: id, ids, or code and/or all (one of them)")
    if ids is None:
        return await sync_errors.open_errors(agent.store, code), []
    if not ids or len(ids) > MAX_RETRY:
        raise ValidationError("ids: give 1..10000 error ids")
    found = {e.id: e for e in await sync_errors.errors_by_ids(agent.store, sorted(set(ids)))}
    skipped = [RetrySkip(id=i, reason="no such error") for i in sorted(set(ids)) if i not in found]
    skipped += [RetrySkip(id=e.id, reason="resolved already") for e in found.values() if e.resolved_at is not None]
    return [e for e in found.values() if e.resolved_at is None], skipped


async def retry_errors(agent: Runtime, *, ids: list[int] | None = None, code: str | None = None,
                       every: bool = False, wait: bool = False) -> RetryAnswer:
    """Retry the chosen open errors (see :func:`select_errors`): pull-side ones by reading their CRM records
    again, then push-side ones by pushing their contacts (trigger ``retry``). With push disabled the
    push-side ones are skipped (PushDisabledError when nothing else is left). ``wait``: answer once done,
    with which errors closed. CrmNotConnectedError without a CRM."""
    agent.require_connector()
    errors, skipped = await select_errors(agent, ids=ids, code=code, every=every)
    skipped += [RetrySkip(id=e.id, reason="an undo the CRM refused: run sync.undo again") for e in errors
                if e.operation == "undo"]
    skipped += [RetrySkip(id=e.id, reason="the CRM refuses this owner for good: assign the to-do to someone it "
                                          "accepts as owner")
                for e in errors if e.operation == sync_errors.OWNER_OPERATION]
    errors = [e for e in errors if e.operation not in ("undo", sync_errors.OWNER_OPERATION)]
    pulled = [e for e in errors if e.operation in PULL_OPERATIONS and e.crm_id]
    pushed = [e for e in errors if e not in pulled and e.contact_id is not None]
    if pushed and not agent.settings.push_enabled:
        if not pulled:
            raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was retried")
        skipped += [RetrySkip(id=e.id, reason="push is disabled") for e in pushed]
        pushed = []
    skipped += [RetrySkip(id=e.id, reason="names no contact or CRM record") for e in errors
                if e not in pulled and e not in pushed and e.contact_id is None]
    answer = RetryAnswer(retried=sorted(e.id for e in (*pulled, *pushed)),
                         contacts=sorted({e.contact_id for e in pushed if e.contact_id is not None}),
                         reread=sorted({e.crm_id for e in pulled if e.crm_id}), skipped=skipped)
    if answer.reread:
        answer.reread_run = await agent.run_job("retry", _rereader(agent, answer), wait=wait)
    if answer.contacts:
        async with agent.store.transaction() as db:
            await sync_errors.retry_contacts(db, answer.contacts)
        answer.run = await agent.request_sync("retry", wait=wait, pull=False, contact_ids=answer.contacts)
    if wait and answer.retried:
        now = {e.id: e for e in await sync_errors.errors_by_ids(agent.store, answer.retried)}
        answer.closed = [i for i in answer.retried if now[i].resolved_at is not None]
        answer.still_open = [i for i in answer.retried if now[i].resolved_at is None]
    return answer


def _rereader(agent: Runtime, answer: RetryAnswer) -> Job:
    """The job of the re-read run: read ``answer.reread`` again, note in ``answer.gone`` those the CRM no
    longer has (their errors resolved), record the run's outcome."""
    async def job(run_id: int, connector: Connector) -> SyncRun:
        calls = connector.api_calls
        counts = RunCounts()
        status, error = "failed", None
        try:
            ctx = await records_context(connector, run_id, agent.mappings(connector), agent.settings.fallback_owner)
            counts = ctx.counts
            answer.gone = await reread(agent.store, ctx, answer.reread)
            async with agent.store.transaction() as db:
                await sync_errors.resolve_gone(db, answer.gone, now_ms())
            status = "ok"
        except CrmError as exc:
            error = f"{type(exc).__name__}: {exc.message}"
        finally:
            async with agent.store.transaction() as db:
                await sync_runs.finish_run(db, run_id, status=status, finished_at=now_ms(), error=error,
                                           api_calls=connector.api_calls - calls, counts=asdict(counts))
        return await get_run(agent.store, run_id)
    return job


class AutoRetry:
    """The automatic retries of failed writes of a transient kind: one scheduler job (:data:`RETRY_JOB`) at the
    next ``next_retry_at`` (by the store's clock), rescheduled after every run; when it comes, the contacts due
    are pushed again (trigger ``auto_retry``)."""

    def __init__(self, agent: Runtime, scheduler: AsyncIOScheduler) -> None:
        self.agent = agent
        self.scheduler = scheduler

    async def schedule(self) -> None:
        """(Re)schedule the job for when the next retry is due (none due: no job)."""
        due = await sync_errors.next_retry_at(self.agent.store)
        if not self.scheduler.running:
            return
        if due is None:
            if self.scheduler.get_job(RETRY_JOB) is not None:
                self.scheduler.remove_job(RETRY_JOB)
            return
        wait_ms = max(due - self.agent.store.clock(), 0)
        when = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=wait_ms + 50)
        self.scheduler.add_job(self._fire, DateTrigger(when, timezone=dt.UTC), id=RETRY_JOB, replace_existing=True,
                               misfire_grace_time=None, coalesce=True)

    async def _fire(self) -> None:
        try:
            await self.run_due()
        except LeadsyncError as exc:
            log.warning("automatic retry not run: %s", exc.message)

    async def run_due(self) -> SyncRun | None:
        """Push again the contacts whose retry is due (an ``auto_retry`` run, waited for); None when none is
        due, no CRM is connected or push is disabled (they stay due). What is still due afterwards (the CRM
        was unreachable) waits the delay of its count again: a retry never spins."""
        agent = self.agent
        due = await sync_errors.due_retries(agent.store)
        if not due or agent.connector is None or not agent.settings.push_enabled:
            return None
        try:
            return await agent.request_sync("auto_retry", wait=True, pull=False, contact_ids=due)
        finally:
            async with agent.store.transaction() as db:
                await sync_errors.postpone_due(db)
            await self.schedule()
