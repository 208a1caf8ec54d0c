"""``contacts`` (with ``crm_links`` and ``base_values``) as the API's calls use them: counts, visibility,
push requests, the backlog, deletes and restores. Contact reads with their link live in
``agent/contacts.py`` (``SELECT_CONTACT``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.engine.push import PENDING_SQL
from leadsync.agent.store.store import Store


class PendingPush(msgspec.Struct, frozen=True):
    """Contacts waiting for a push: how many, and the oldest local change among them (epoch ms UTC)."""

    count: int
    oldest_changed_at: int | None


async def count_contacts(store: Store) -> int:
    """Every local contact."""
    return int(await store.scalar("SELECT count(*) FROM contacts"))


async def matches(store: Store, contact_id: int, condition: tuple[str, Sequence[Any]]) -> bool:
    """Whether contact ``contact_id`` meets ``condition`` (SQL on ``contacts c`` and its params)."""
    sql, params = condition
    return await store.fetchone(f"SELECT 1 FROM contacts c WHERE c.id = ? AND {sql}", [contact_id, *params]) \
        is not None


async def pending_push(store: Store) -> PendingPush:
    """The push backlog as the engine defines it (``PENDING_SQL``)."""
    row = await store.fetchone(f"SELECT count(*), min(c.updated_at) FROM contacts c WHERE {PENDING_SQL}")
    return PendingPush(0, None) if row is None else PendingPush(int(row[0]), row[1])


async def want_push(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> None:
    """Mark contacts to be pushed when the rules allow (a new lead, a manual or threshold push)."""
    await db.execute(f"UPDATE contacts SET push_wanted = 1 WHERE id IN ({','.join('?' * len(contact_ids))})",
                     list(contact_ids))


async def delete(db: aiosqlite.Connection, contact_id: int) -> None:
    """Delete a contact locally; its link, base values, ownership history, to-dos, conflicts and provenance
    go with it (ON DELETE CASCADE)."""
    await db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))


async def unlink_for_recreate(db: aiosqlite.Connection, contact_id: int) -> None:
    """Forget a contact's CRM record and base values and mark it a new local contact to push."""
    await db.execute("DELETE FROM crm_links WHERE contact_id = ?", (contact_id,))
    await db.execute("DELETE FROM base_values WHERE contact_id = ?", (contact_id,))
    await db.execute("UPDATE contacts SET crm_state = 'none', crm_note = NULL, push_wanted = 1, "
                     "local_rev = local_rev + 1 WHERE id = ?", (contact_id,))
