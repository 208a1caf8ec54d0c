"""Recording how a sync run ended, even on a full disk.

The outcome is one small write. When the disk is full that write fails too: the run's answer is then built
from what the run knows (status ``failed``, "disk full at PATH, nothing was written"), and the write is tried
again every :data:`RECORD_RETRY_S` seconds until space returns (or the store closes; the next agent start
marks a run left ``running`` as ``interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from leadsync.agent.store.disk import disk_full
from leadsync.agent.store.queries import sync_runs
from leadsync.agent.store.store import Store
from leadsync.common.models import SyncRun

log = logging.getLogger("leadsync.sync")
RECORD_RETRY_S = 5.0
_later: set[asyncio.Task[None]] = set()


async def record_outcome(store: Store, run_id: int, *, status: str, finished_at: int, error: str | None,
                         api_calls: int, counts: Mapping[str, int]) -> SyncRun:
    """Record the end of run ``run_id`` (see ``sync_runs.finish_run`` for the fields) and return the run as
    recorded; on a full disk, the run as it ended (not yet recorded; retried in the background). Any other
    error of the write is raised."""
    outcome = _Outcome(status, finished_at, error, api_calls, dict(counts))
    try:
        await _write(store, run_id, outcome)
    except (sqlite3.Error, OSError) as exc:
        if disk_full(exc, store.path) is None:
            raise
        log.warning("sync run %s: its outcome (%s) waits for disk space to be recorded", run_id, status)
        task = asyncio.create_task(_write_later(store, run_id, outcome))
        _later.add(task)
        task.add_done_callback(_later.discard)
        started = await store.fetchone("SELECT * FROM sync_runs WHERE id = ?", (run_id,))
        base = sync_runs.run_from_row(started) if started is not None else SyncRun(
            id=run_id, trigger="", status=status, started_at=finished_at, finished_at=finished_at)
        return msgspec.structs.replace(base, status=status, finished_at=finished_at, error=error,
                                       api_calls=api_calls, **{k: v for k, v in counts.items()
                                                               if k in SyncRun.__struct_fields__})
    run = await sync_runs.run_by_id(store.reader, run_id)
    assert run is not None  # just written
    return run


@dataclass(frozen=True)
class _Outcome:
    status: str
    finished_at: int
    error: str | None
    api_calls: int
    counts: dict[str, int]


async def _write(store: Store, run_id: int, o: _Outcome) -> None:
    async with store.transaction() as db:
        await sync_runs.finish_run(db, run_id, status=o.status, finished_at=o.finished_at, error=o.error,
                                   api_calls=o.api_calls, counts=o.counts)


async def _write_later(store: Store, run_id: int, outcome: _Outcome) -> None:
    while True:
        await asyncio.sleep(RECORD_RETRY_S)
        try:
            await _write(store, run_id, outcome)
        except (sqlite3.Error, OSError) as exc:
            if disk_full(exc, store.path) is not None:
                continue
            log.warning("sync run %s: its outcome could not be recorded: %s", run_id, exc)
            return
        except ValueError:  # the store was closed: the next start marks the run interrupted
            return
        log.info("sync run %s: outcome recorded now that there is disk space", run_id)
        return
