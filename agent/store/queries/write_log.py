"""``write_log``: every confirmed outbound write, attributable to its sync run (invariant 7)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

from leadsync.agent.store.store import dumps


class WriteLogEntry(msgspec.Struct, frozen=True):
    """Sync run ``sync_run_id`` wrote CRM record ``crm_id`` for contact ``contact_id``: ``op`` (create,
    update, link), the wire ``properties`` sent, a ``note`` (owner choice, defaults) and ``written_at``."""

    sync_run_id: int
    contact_id: int
    crm_id: str | None
    op: str
    properties: dict[str, str]
    note: str | None
    written_at: int


async def insert_write_log(db: aiosqlite.Connection, entries: Sequence[WriteLogEntry]) -> None:
    """Record ``entries`` (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO write_log(sync_run_id, contact_id, crm_id, op, properties, note, written_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(e.sync_run_id, e.contact_id, e.crm_id, e.op, dumps(e.properties), e.note, e.written_at) for e in entries],
    )
