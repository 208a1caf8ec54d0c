"""``cursors``: each CRM object type's saved pull checkpoint (connector-defined JSON)."""

from __future__ import annotations

from typing import Any

import aiosqlite

from leadsync.agent.store.store import dumps, loads


async def load_cursor(db: aiosqlite.Connection, crm: str, object_type: str) -> dict[str, Any] | None:
    """The saved cursor of ``crm``'s ``object_type`` pull, or None (a full pull is due)."""
    async with db.execute("SELECT value FROM cursors WHERE crm = ? AND object_type = ?", (crm, object_type)) as cur:
        row = await cur.fetchone()
    return loads(row[0]) if row else None


async def save_cursor(db: aiosqlite.Connection, crm: str, object_type: str, cursor: dict[str, Any],
                      stamp: int) -> None:
    """Save (insert or replace) the cursor of ``crm``'s ``object_type`` pull; ``stamp`` epoch ms UTC."""
    await db.execute(
        "INSERT INTO cursors(crm, object_type, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(crm, object_type) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (crm, object_type, dumps(cursor), stamp),
    )
