"""Conflicts: a field changed on both sides to different values since the last sync. Each one is
recorded with both values; a person can keep the winner or restore the losing value."""

from __future__ import annotations

from typing import Literal

from leadsync.agent.contacts import update_contact
from leadsync.agent.store.queries import base_values
from leadsync.agent.store.queries import conflicts as conflict_rows
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.store import Store
from leadsync.common.answers import Conflict
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms

Choice = Literal["keep", "restore", "local", "crm"]


async def list_conflicts(store: Store, *, contact_id: int | None = None, include_resolved: bool = False,
                         limit: int = 100) -> list[Conflict]:
    """Up to ``limit`` conflicts (open ones unless ``include_resolved``; all, or those of ``contact_id``),
    newest first."""
    return await conflict_rows.list_conflicts(store, contact_id=contact_id, include_resolved=include_resolved,
                                              limit=limit)


async def get_conflict(store: Store, conflict_id: int) -> Conflict:
    """One conflict by id; raises NotFoundError."""
    conflict = await conflict_rows.conflict_by_id(store, conflict_id)
    if conflict is None:
        raise NotFoundError(f"no conflict with id {conflict_id}")
    return conflict


async def resolve_conflict(store: Store, conflict_id: int, choice: Choice) -> Conflict:
    """Resolve a conflict: ``keep`` the winner, ``restore`` the losing value, or pick ``local`` / ``crm``.

    The chosen value becomes the local value (a local edit, so it is pushed if it differs from the
    CRM's). Raises NotFoundError, ValidationError (already resolved; keep/restore on an undecided one).
    """
    conflict = await get_conflict(store, conflict_id)
    if conflict.resolved_at is not None:
        raise ValidationError(f"conflict {conflict_id} was already resolved ({conflict.resolution})")
    side: str
    if choice in ("local", "crm"):
        side = choice
    elif conflict.winner == "none":
        raise ValidationError("this conflict was not decided by a policy: choose 'local' or 'crm'")
    elif choice == "keep":
        side = conflict.winner
    else:
        side = "local" if conflict.winner == "crm" else "crm"
    value = conflict.local_value if side == "local" else conflict.crm_value
    stamp = now_ms()
    async with store.transaction() as db:
        # the CRM's value is now the common ground: only a local value that differs from it is pushed
        await base_values.set_base_field(db, conflict.contact_id, conflict.field, conflict.crm_value)
        await conflict_rows.mark_resolved(db, conflict_id, choice, stamp)
    # a person chose this value: a lifecycle stage it sets back is deliberate
    await update_contact(store, conflict.contact_id, {conflict.field: value}, source="conflict", force=True)
    async with store.transaction() as db:
        await contact_rows.bump_local_rev(db, conflict.contact_id)
    return await get_conflict(store, conflict_id)
