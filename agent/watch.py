"""The watch pull: between interval syncs, every ``watch_interval_seconds`` (default 60 s, 15..600, 0 off) a
pull-only sync run (trigger ``watch``) asks the CRM only for the records changed since the cursor, so a
CRM edit reaches the store within about a minute. It is an incremental pull with the interval runs'
cached directory (owners, properties, archived list refreshed every 10 minutes), so when nothing changed it
costs one search or query call (HubSpot ``POST /crm/v3/objects/contacts/search``, a Salesforce SOQL query, a
Zoho ``/search`` or Autotask ``query`` page), and it goes through the connector's rate limiter like
every call.

It never waits in the queue: a tick while a run is running or queued, or while the CRM's daily quota is
spent, is skipped (that run pulls anyway); urgent pushes and hot leads run between its pages like any
run's. A quiet watch run (nothing pulled changed anything, no error) is kept :data:`QUIET_KEEP_MS` for its
cost figures (:func:`watch_cost`) and left out of ``sync.history`` unless asked."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import sync_runs
from leadsync.agent.store.store import Store
from leadsync.common.errors import LeadsyncError
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncRun

WATCH_JOB: Final = "watch-pull"
"""The scheduler job of the watch pull."""
QUIET_KEEP_MS: Final = 24 * 3600 * 1000
"""How long a quiet watch run is kept (ms): the cost figures cover the last 24 hours."""

log = logging.getLogger("leadsync.agent")


class WatchCost(msgspec.Struct, kw_only=True):
    """The watch pull over the last 24 hours: ``interval_s`` (0: off), runs, API calls, calls per run,
    runs that brought changes, and the last run's start (epoch ms UTC, None before the first)."""

    interval_s: int
    runs_24h: int
    api_calls_24h: int
    calls_per_run: float | None
    changed_runs_24h: int
    last_at: int | None


class Watch:
    """Schedules and runs the watch pull of ``agent`` on ``scheduler`` (``enabled`` False: never, for
    embedders and tests that drive runs themselves)."""

    def __init__(self, agent: Runtime, scheduler: AsyncIOScheduler, *, enabled: bool = True) -> None:
        self.agent = agent
        self.scheduler = scheduler
        self.enabled = enabled

    def schedule(self) -> None:
        """(Re)schedule the job from the settings; removed when the interval is 0."""
        seconds = self.agent.settings.watch_interval_seconds
        job = self.scheduler.get_job(WATCH_JOB)
        if not self.enabled or seconds == 0:
            if job is not None:
                job.remove()
            return
        trigger = IntervalTrigger(seconds=seconds, timezone=dt.UTC)
        if job is None:
            self.scheduler.add_job(self.tick, trigger, id=WATCH_JOB, coalesce=True, max_instances=1,
                                   misfire_grace_time=None)
        else:
            self.scheduler.reschedule_job(WATCH_JOB, trigger=trigger)

    async def tick(self) -> SyncRun | None:
        """One watch pull, or None when skipped (no CRM, a run running or queued, the quota spent)."""
        agent = self.agent
        blocked = agent.quota_blocked_until_ms is not None and now_ms() < agent.quota_blocked_until_ms
        if agent.connector is None or agent.busy() or blocked:
            return None
        try:
            run = await agent.request_sync("watch", wait=True, push=False)
        except LeadsyncError as exc:
            log.info("watch pull not run: %s", exc.message)
            return None
        async with agent.store.transaction() as db:
            await sync_runs.prune_quiet_watch_runs(db, before_ms=now_ms() - QUIET_KEEP_MS)
        return run


async def watch_cost(store: Store, interval_s: int) -> WatchCost:
    """The watch pull's figures over the last 24 hours (see :class:`WatchCost`)."""
    runs, calls, changed, last = await sync_runs.watch_totals(store, since_ms=now_ms() - QUIET_KEEP_MS)
    return WatchCost(interval_s=interval_s, runs_24h=runs, api_calls_24h=calls,
                     calls_per_run=round(calls / runs, 2) if runs else None, changed_runs_24h=changed, last_at=last)
