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
QUIET_WATCH = ("trigger = 'watch' AND status = 'ok' AND created_local = 0 AND updated_local = 0 "
               "AND created_crm = 0 AND updated_crm = 0 AND linked = 0 AND failed = 0")
"""A watch pull that changed nothing and failed nothing."""


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


async def undos_of(db: aiosqlite.Connection, run_id: int) -> list[SyncRun]:
    """The undo runs that finished ``ok`` undoing sync run ``run_id``, newest first."""
    async with db.execute("SELECT * FROM sync_runs WHERE undoes = ? AND status = 'ok' ORDER BY id DESC",
                          (run_id,)) as cur:
        return [run_from_row(row) for row in await cur.fetchall()]


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
    """The newest run that is not running, quiet watch pulls (:data:`QUIET_WATCH`) left out; None before the
    first."""
    row = await store.fetchone(f"SELECT * FROM sync_runs WHERE status NOT IN ('running') AND NOT ({QUIET_WATCH}) "
                               "ORDER BY id DESC LIMIT 1")
    return None if row is None else to_struct(row, SyncRun)


async def last_problem(store: Store) -> tuple[SyncRun | None, int | None]:
    """The newest run that ended ``partial`` or ``failed`` (None: none) and the id of the newest ``ok`` run
    (None: none)."""
    problem = await store.fetchone("SELECT * FROM sync_runs WHERE status IN ('partial', 'failed') "
                                   "ORDER BY id DESC LIMIT 1")
    ok = await store.scalar("SELECT max(id) FROM sync_runs WHERE status = 'ok'")
    return (None if problem is None else to_struct(problem, SyncRun)), (None if ok is None else int(ok))




async def history(store: Store, *, before: int | None, limit: int, include_quiet: bool = False) -> list[SyncRun]:
    """Up to ``limit`` runs with an id below ``before`` (None: the newest), newest first; quiet watch pulls
    (:data:`QUIET_WATCH`) only with ``include_quiet``."""
    hide = "" if include_quiet else f" AND NOT ({QUIET_WATCH})"
    rows = await store.fetchall(f"SELECT * FROM sync_runs WHERE id < ?{hide} ORDER BY id DESC LIMIT ?",
                                (before or 2**62, limit))
    return [to_struct(r, SyncRun) for r in rows]


async def prune_quiet_watch_runs(db: aiosqlite.Connection, *, before_ms: int) -> None:
    """Delete the quiet watch pulls that started before ``before_ms`` (epoch ms UTC) and that nothing refers to
    (an error, a confirmed write or a recorded change)."""
    await db.execute(f"DELETE FROM sync_runs WHERE {QUIET_WATCH} AND started_at < ? "
                     "AND NOT EXISTS (SELECT 1 FROM sync_errors e WHERE e.sync_run_id = sync_runs.id) "
                     "AND NOT EXISTS (SELECT 1 FROM write_log w WHERE w.sync_run_id = sync_runs.id) "
                     "AND NOT EXISTS (SELECT 1 FROM run_changes r WHERE r.sync_run_id = sync_runs.id)", (before_ms,))


async def watch_totals(store: Store, *, since_ms: int) -> tuple[int, int, int, int | None]:
    """Watch pulls started since ``since_ms``: (runs, API calls, runs that were not quiet, last start)."""
    row = await store.fetchone(f"SELECT count(*), coalesce(sum(api_calls), 0), "
                               f"coalesce(sum(NOT ({QUIET_WATCH})), 0), max(started_at) FROM sync_runs "
                               "WHERE trigger = 'watch' AND started_at >= ? AND status != 'running'", (since_ms,))
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), None if row[3] is None else int(row[3])


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
