"""``sync_errors``: records a sync could not write, with the reason; open until resolved.

These are the sync engine's statements (a pull or push records errors; a confirmed write resolves them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.models import SyncError


class NewSyncError(msgspec.Struct, frozen=True):
    """Sync run ``sync_run_id`` could not ``operation`` (pull, link, create, update, ...) contact
    ``contact_id`` / CRM record ``crm_id``: ``code`` (the CRM's or leadsync's) and ``reason``; ``local_rev``
    is the contact's revision then (retried once it changes); ``created_at`` epoch ms UTC."""

    sync_run_id: int
    contact_id: int | None
    crm_id: str | None
    operation: str
    code: str | None
    reason: str
    local_rev: int | None
    created_at: int


async def insert_sync_errors(db: aiosqlite.Connection, errors: Sequence[NewSyncError]) -> None:
    """Record ``errors`` (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, local_rev, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.sync_run_id, e.contact_id, e.crm_id, e.operation, e.code, e.reason, e.local_rev, e.created_at)
         for e in errors],
    )


async def resolve_open_errors(db: aiosqlite.Connection, contact_ids: Iterable[int | None], stamp: int) -> None:
    """Mark every open error of each of ``contact_ids`` resolved at ``stamp`` (one ``executemany``)."""
    await db.executemany("UPDATE sync_errors SET resolved_at = ? WHERE contact_id = ? AND resolved_at IS NULL",
                         [(stamp, contact_id) for contact_id in contact_ids])

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
