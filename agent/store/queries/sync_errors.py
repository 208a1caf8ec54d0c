"""``sync_errors``: records a sync could not write, with the reason; open until resolved.

These are the sync engine's statements (a pull or push records errors; a confirmed write resolves them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aiosqlite
import msgspec


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
