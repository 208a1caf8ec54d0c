"""``sync_runs``: past runs for ``sync.history`` and ``sync.status`` (runs are written by the engine)."""

from __future__ import annotations

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.models import SyncRun


async def last_finished(store: Store) -> SyncRun | None:
    """The newest run that is not running; None before the first."""
    row = await store.fetchone("SELECT * FROM sync_runs WHERE status NOT IN ('running') ORDER BY id DESC LIMIT 1")
    return None if row is None else to_struct(row, SyncRun)


async def history(store: Store, *, before: int | None, limit: int) -> list[SyncRun]:
    """Up to ``limit`` runs with an id below ``before`` (None: the newest), newest first."""
    rows = await store.fetchall("SELECT * FROM sync_runs WHERE id < ? ORDER BY id DESC LIMIT ?",
                                (before or 2**62, limit))
    return [to_struct(r, SyncRun) for r in rows]
