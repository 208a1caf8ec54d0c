"""``write_log``: every confirmed outbound write, attributable to its sync run (invariant 7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import Store, dumps, loads


class NewWrite(msgspec.Struct, frozen=True):
    """Sync run ``sync_run_id`` wrote CRM record ``crm_id`` for contact ``contact_id``: ``op`` (create,
    update, link), the wire ``properties`` sent, a ``note`` (owner choice, defaults) and ``written_at``."""

    sync_run_id: int
    contact_id: int
    crm_id: str | None
    op: str
    properties: dict[str, str]
    note: str | None
    written_at: int


async def insert_write_log(db: aiosqlite.Connection, entries: Sequence[NewWrite]) -> None:
    """Record ``entries`` (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO write_log(sync_run_id, contact_id, crm_id, op, properties, note, written_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(e.sync_run_id, e.contact_id, e.crm_id, e.op, dumps(e.properties), e.note, e.written_at) for e in entries],
    )

class WriteLogEntry(msgspec.Struct, kw_only=True):
    """One confirmed write: ``op`` create, update or link; ``properties`` the wire values sent (the CRM's
    property names); ``note`` e.g. the fallback owner used and why; ``written_at`` epoch ms UTC; ``trigger``
    that of its sync run."""

    id: int
    sync_run_id: int
    contact_id: int
    crm_id: str | None
    op: str
    properties: dict[str, Any]
    note: str | None
    written_at: int
    trigger: str


async def recent(store: Store, *, contact_id: int | None, sync_run_id: int | None, limit: int) -> list[WriteLogEntry]:
    """Up to ``limit`` writes, newest first, of one contact and/or one sync run (None: any)."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if contact_id is not None:
        where.append("w.contact_id = ?")
        params.append(contact_id)
    if sync_run_id is not None:
        where.append("w.sync_run_id = ?")
        params.append(sync_run_id)
    rows = await store.fetchall(
        "SELECT w.*, r.trigger FROM write_log w JOIN sync_runs r ON r.id = w.sync_run_id "
        f"WHERE {' AND '.join(where)} ORDER BY w.id DESC LIMIT ?", [*params, limit])
    return [msgspec.convert({**{k: r[k] for k in r.keys()}, "properties": loads(r["properties"])}, WriteLogEntry)
            for r in rows]
