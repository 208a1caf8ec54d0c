"""``sync_runs``: one row per sync run, its trigger, status, counts and API calls.

These are the sync engine's statements (start a run, read it, record its outcome)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.models import SyncRun

RUN_COLUMNS = ("pulled", "created_local", "updated_local", "created_crm", "updated_crm", "linked", "failed")
"""The counts of a run, as columns (and :class:`~leadsync.common.models.SyncRun` fields)."""


def run_from_row(row: Any) -> SyncRun:
    """A ``sync_runs`` row (``SELECT *``) as the API's SyncRun."""
    return SyncRun(**{k: row[k] for k in row.keys() if k in SyncRun.__struct_fields__})


async def insert_run(db: aiosqlite.Connection, trigger: str, started_at: int) -> int:
    """Insert a ``running`` sync run started by ``trigger`` at ``started_at`` (epoch ms UTC); its id."""
    async with db.execute("INSERT INTO sync_runs(trigger, status, started_at) VALUES (?, 'running', ?)",
                          (trigger, started_at)) as cur:
        run_id = cur.lastrowid
    assert run_id is not None
    return run_id


async def run_by_id(db: aiosqlite.Connection, run_id: int) -> SyncRun | None:
    """Sync run ``run_id``, or None when there is none."""
    async with db.execute("SELECT * FROM sync_runs WHERE id = ?", (run_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else run_from_row(row)


async def finish_run(db: aiosqlite.Connection, run_id: int, *, status: str, finished_at: int, error: str | None,
                     api_calls: int, counts: Mapping[str, int]) -> None:
    """Record the outcome of sync run ``run_id``: ``status``, when it finished (epoch ms UTC), the error (None:
    none), the API calls it made and ``counts`` (one value per :data:`RUN_COLUMNS`)."""
    await db.execute(
        f"UPDATE sync_runs SET status = ?, finished_at = ?, error = ?, api_calls = ?, "
        f"{', '.join(f'{c} = ?' for c in RUN_COLUMNS)} WHERE id = ?",
        (status, finished_at, error, api_calls, *(counts[c] for c in RUN_COLUMNS), run_id),
    )

async def last_finished(store: Store) -> SyncRun | None:
    """The newest run that is not running; None before the first."""
    row = await store.fetchone("SELECT * FROM sync_runs WHERE status NOT IN ('running') ORDER BY id DESC LIMIT 1")
    return None if row is None else to_struct(row, SyncRun)


async def last_problem(store: Store) -> tuple[SyncRun | None, int | None]:
    """The newest run that ended ``partial`` or ``failed`` (None: none) and the id of the newest ``ok`` run
    (None: none)."""
    problem = await store.fetchone("SELECT * FROM sync_runs WHERE status IN ('partial', 'failed') "
                                   "ORDER BY id DESC LIMIT 1")
    ok = await store.scalar("SELECT max(id) FROM sync_runs WHERE status = 'ok'")
    return (None if problem is None else to_struct(problem, SyncRun)), (None if ok is None else int(ok))


async def history(store: Store, *, before: int | None, limit: int) -> list[SyncRun]:
    """Up to ``limit`` runs with an id below ``before`` (None: the newest), newest first."""
    rows = await store.fetchall("SELECT * FROM sync_runs WHERE id < ? ORDER BY id DESC LIMIT ?",
                                (before or 2**62, limit))
    return [to_struct(r, SyncRun) for r in rows]


class PushTotals(msgspec.Struct, frozen=True):
    """Totals over recent finished runs that called the CRM: contacts pushed (created, updated, linked or
    failed in the CRM), milliseconds elapsed and API calls; each None when no run qualifies."""

    pushed: int | None
    elapsed_ms: int | None
    api_calls: int | None


async def recent_push_totals(store: Store, runs: int = 20) -> PushTotals:
    """:class:`PushTotals` of the newest ``runs`` finished runs with at least one API call."""
    row = await store.fetchone(
        "SELECT sum(created_crm + updated_crm + linked + failed), sum(finished_at - started_at), sum(api_calls) "
        "FROM (SELECT * FROM sync_runs WHERE finished_at IS NOT NULL AND api_calls > 0 ORDER BY id DESC LIMIT ?)",
        (runs,))
    return PushTotals(None, None, None) if row is None else PushTotals(row[0], row[1], row[2])


async def calls_since(store: Store, since_ms: int) -> list[tuple[int, int]]:
    """``(started_at, api_calls)`` of the runs started at or after ``since_ms`` (epoch ms UTC) that called
    the CRM, oldest first (the sync-health chart of calls, read back after a restart)."""
    rows = await store.fetchall("SELECT started_at, api_calls FROM sync_runs WHERE started_at >= ? AND api_calls > 0 "
                                "ORDER BY started_at", (since_ms,))
    return [(int(r[0]), int(r[1])) for r in rows]
