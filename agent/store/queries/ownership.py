"""A contact's owner (``contacts.owner_id``) and its ``ownership_history``: every change of the one is
appended to the other."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from leadsync.agent.store.store import IN_JSON, chunks, json_list


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


OWNER_CHUNK = 500
"""Contacts per ``SELECT ... IN`` when reading the owners a batch of changes replaces."""


async def record_owner_changes(db: aiosqlite.Connection, changes: Sequence[tuple[int, str | None, str]],
                               run_id: int | None, stamp: int) -> None:
    """:func:`record_owner_change` for each ``(contact id, new owner, source)`` in order, with one SELECT per
    :data:`OWNER_CHUNK` contacts instead of one per change: each contact whose owner changes gets its
    ``owner_id`` set and one ``ownership_history`` row (old, new, source, run, ``stamp`` epoch ms UTC); a
    contact named twice changes from the first new owner to the second. A contact that does not exist
    fails its history row's foreign key (sqlite3.IntegrityError), as one by one."""
    ids = list(dict.fromkeys(contact_id for contact_id, _, _ in changes))
    current: dict[int, str | None] = {}
    for part in chunks(ids, OWNER_CHUNK):
        async with db.execute(f"SELECT id, owner_id FROM contacts WHERE id IN {IN_JSON}", [json_list(part)]) as cur:
            current.update((int(r[0]), r[1]) for r in await cur.fetchall())
    updates: dict[int, str | None] = {}
    history: list[tuple[int, str | None, str | None, str, int | None, int]] = []
    for contact_id, new_owner, source in changes:
        old = current.get(contact_id)
        if old == new_owner:
            continue
        history.append((contact_id, old, new_owner, source, run_id, stamp))
        current[contact_id] = updates[contact_id] = new_owner
    if not history:
        return
    await db.executemany("UPDATE contacts SET owner_id = ? WHERE id = ?",
                         [(owner, contact_id) for contact_id, owner in updates.items()])
    await db.executemany(
        "INSERT INTO ownership_history(contact_id, old_owner, new_owner, source, sync_run_id, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", history)
