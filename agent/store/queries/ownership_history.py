"""``ownership_history``: every change of a contact's CRM owner."""

from __future__ import annotations

import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store


class OwnershipChange(msgspec.Struct, kw_only=True):
    """One owner change: old and new CRM owner id, ``source`` (crm: pulled, todo: pushed, create), the sync
    run that made it (None outside a run) and when (epoch ms UTC)."""

    id: int
    contact_id: int
    old_owner: str | None
    new_owner: str | None
    source: str
    sync_run_id: int | None
    changed_at: int


async def for_contact(store: Store, contact_id: int) -> list[OwnershipChange]:
    """A contact's owner changes, oldest first."""
    rows = await store.fetchall("SELECT * FROM ownership_history WHERE contact_id = ? ORDER BY id", (contact_id,))
    return [to_struct(r, OwnershipChange) for r in rows]
