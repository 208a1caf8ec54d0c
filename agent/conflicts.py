"""Conflicts: a field changed on both sides to different values since the last sync. Each one is
recorded with both values; a person can keep the winner or restore the losing value."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from leadsync.agent.contacts import update_contact
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.common.answers import Conflict
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms

Choice = Literal["keep", "restore", "local", "crm"]


def _conflict(row: Any) -> Conflict:
    data = {k: row[k] for k in row.keys()}
    for key in ("base_value", "local_value", "crm_value"):
        data[key] = loads(data[key])
    return msgspec.convert(data, Conflict)


async def list_conflicts(store: Store, *, contact_id: int | None = None, include_resolved: bool = False,
                         limit: int = 100) -> list[Conflict]:
    where: list[str] = ["1=1"] if include_resolved else ["resolved_at IS NULL"]
    params: list[Any] = []
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    rows = await store.fetchall(f"SELECT * FROM conflicts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                                [*params, limit])
    return [_conflict(r) for r in rows]


async def get_conflict(store: Store, conflict_id: int) -> Conflict:
    """One conflict by id; raises NotFoundError."""
    row = await store.fetchone("SELECT * FROM conflicts WHERE id = ?", (conflict_id,))
    if row is None:
        raise NotFoundError(f"no conflict with id {conflict_id}")
    return _conflict(row)


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
        await db.execute("UPDATE base_values SET vals = json_set(vals, ?, json(?)) WHERE contact_id = ?",
                         (f"$.{conflict.field}", dumps(conflict.crm_value), conflict.contact_id))
        await db.execute("UPDATE conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
                         (stamp, choice, conflict_id))
    # a person chose this value: a lifecycle stage it sets back is deliberate
    await update_contact(store, conflict.contact_id, {conflict.field: value}, source="conflict", force=True)
    async with store.transaction() as db:
        await db.execute("UPDATE contacts SET local_rev = local_rev + 1 WHERE id = ?", (conflict.contact_id,))
    return await get_conflict(store, conflict_id)
