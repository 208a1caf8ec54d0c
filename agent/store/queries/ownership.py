"""A contact's owner (``contacts.owner_id``) and its ``ownership_history``: every change of the one is
appended to the other."""

from __future__ import annotations

import aiosqlite


async def record_owner_change(db: aiosqlite.Connection, contact_id: int, new_owner: str | None, source: str,
                              run_id: int | None, stamp: int) -> None:
    """Set a contact's owner (a CRM owner id) and, when it changes, append to its ownership history the old
    and new owner, ``source`` (crm, create, todo), the sync run and ``stamp`` (epoch ms UTC)."""
    async with db.execute("SELECT owner_id FROM contacts WHERE id = ?", (contact_id,)) as cur:
        row = await cur.fetchone()
    old = row[0] if row else None
    if old == new_owner:
        return
    await db.execute("UPDATE contacts SET owner_id = ? WHERE id = ?", (new_owner, contact_id))
    await db.execute(
        "INSERT INTO ownership_history(contact_id, old_owner, new_owner, source, sync_run_id, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (contact_id, old, new_owner, source, run_id, stamp))
