"""``owners``: the CRM's owners (users who can own records), matched to local users by email.

These are the sync engine's statements; saving the owners a CRM lists is ``leadsync.agent.users``'."""

from __future__ import annotations

import aiosqlite


async def active_owner_ids(db: aiosqlite.Connection) -> set[str]:
    """The CRM ids of the owners active in the CRM (a contact can be pushed with them as owner)."""
    async with db.execute("SELECT crm_id FROM owners WHERE active = 1") as cur:
        return {row[0] for row in await cur.fetchall()}
