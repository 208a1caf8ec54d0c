"""What ``sync.status`` reports: the running run and the queue, the push backlog, the contacts held by an
open sync error, the last finished run, when the next interval run starts, and the watch pull's cost."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.backlog import Backlog, measure
from leadsync.agent.engine.runner import get_run
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import sync_errors, sync_runs
from leadsync.agent.store.store import Store
from leadsync.agent.watch import WatchCost, watch_cost
from leadsync.common.models import SyncRun


class SyncStatus(msgspec.Struct, kw_only=True):
    """``queue``: the waiting requests (see ``Runtime.queue_status``); ``pending_push`` repeats
    ``backlog.pending_push`` for older scripts; ``held_with_errors``: contacts an open sync error holds
    (retried once they change; see errors.list); ``last_problem``: the newest run that ended partial or
    failed, while it matters (see :func:`last_problem`), so a later ok run does not hide it; ``last`` leaves
    out quiet watch pulls, whose cost is in ``watch`` (:class:`~leadsync.agent.watch.WatchCost`); times are
    epoch ms UTC."""

    running: SyncRun | None
    queue: list[dict[str, Any]]
    backlog: Backlog
    pending_push: int
    held_with_errors: int
    last: SyncRun | None
    last_problem: SyncRun | None = None
    push_enabled: bool
    quota_blocked_until: int | None
    interval_minutes: int
    next_interval_run: int | None
    watch: WatchCost | None = None


async def read_status(agent: Runtime) -> SyncStatus:
    """The agent's sync status now."""
    store = agent.store
    running = await get_run(store, agent.current_run) if agent.current_run else None
    backlog = await measure(store, agent.connector, agent.push_rate)
    held = await sync_errors.count_held_contacts(store)
    return SyncStatus(running=running, queue=agent.queue_status(), backlog=backlog,
                      pending_push=backlog.pending_push, held_with_errors=held,
                      last=await sync_runs.last_finished(store), last_problem=await last_problem(store, held),
                      push_enabled=agent.settings.push_enabled,
                      quota_blocked_until=agent.quota_blocked_until_ms,
                      interval_minutes=agent.settings.sync_interval_minutes,
                      next_interval_run=agent.next_interval_run_ms(),
                      watch=await watch_cost(store, agent.settings.watch_interval_seconds))


async def last_problem(store: Store, open_errors: int) -> SyncRun | None:
    """The newest run that ended partial or failed, when no ok run came after it or errors are still open
    (``open_errors``: contacts with one): what it left undone is not done yet. None otherwise."""
    problem, last_ok = await sync_runs.last_problem(store)
    if problem is None:
        return None
    return problem if last_ok is None or problem.id > last_ok or open_errors else None
