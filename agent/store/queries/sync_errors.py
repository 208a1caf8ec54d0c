"""``sync_errors``: records that failed alone. An open error holds its contact until the contact changes
(``local_rev``); clearing ``local_rev`` lets the next run retry it unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.models import SyncError


async def list_errors(store: Store, *, include_resolved: bool, contact_id: int | None, limit: int) -> list[SyncError]:
    """Newest first: open errors (all with ``include_resolved``), of one contact or of every record."""
    where = ["1=1"] if include_resolved else ["resolved_at IS NULL"]
    params: list[Any] = []
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    rows = await store.fetchall(
        f"SELECT * FROM sync_errors WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*params, limit])
    return [to_struct(r, SyncError) for r in rows]


async def count_held_contacts(store: Store) -> int:
    """Contacts with an open error (held until they change)."""
    return int(await store.scalar("SELECT count(DISTINCT contact_id) FROM sync_errors WHERE resolved_at IS NULL "
                                  "AND contact_id IS NOT NULL"))


async def retry_contacts(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> None:
    """Let the next run retry these contacts' open errors even if the contacts did not change."""
    await db.execute(f"UPDATE sync_errors SET local_rev = NULL WHERE resolved_at IS NULL AND contact_id IN "
                     f"({','.join('?' * len(contact_ids))})", list(contact_ids))


async def retry_no_owner(db: aiosqlite.Connection) -> None:
    """Let the next run retry every contact held for want of a CRM owner (code ``no_owner``)."""
    await db.execute("UPDATE sync_errors SET local_rev = NULL WHERE code = 'no_owner' AND resolved_at IS NULL")
