"""``conflicts``: fields changed on both sides since the last sync, with both values and the decision.

These are the sync engine's statements (a pull records conflicts; a pull and a push skip the fields a
person still has to decide)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import dumps


class NewConflict(msgspec.Struct, frozen=True):
    """A conflict on ``field`` of ``contact_id``: the base, local and CRM values (local types), when each side
    changed it (epoch ms UTC; ``local_changed_at`` None: never edited locally), the ``policy`` that decided
    and its ``winner`` (``crm``, ``local``, ``none``: undecided), found by sync run ``sync_run_id``."""

    contact_id: int
    field: str
    base_value: Any
    local_value: Any
    crm_value: Any
    local_changed_at: int | None
    crm_changed_at: int
    policy: str
    winner: str | None
    sync_run_id: int
    created_at: int


async def insert_conflicts(db: aiosqlite.Connection, conflicts: Sequence[NewConflict]) -> None:
    """Record ``conflicts`` (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO conflicts(contact_id, field, base_value, local_value, crm_value, local_changed_at, "
        "crm_changed_at, policy, winner, sync_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.contact_id, c.field, dumps(c.base_value), dumps(c.local_value), dumps(c.crm_value), c.local_changed_at,
          c.crm_changed_at, c.policy, c.winner, c.sync_run_id, c.created_at) for c in conflicts],
    )


async def undecided_fields(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> set[tuple[int, str]]:
    """(contact id, field) pairs of ``contact_ids`` with an open conflict no policy could decide."""
    if not contact_ids:
        return set()
    async with db.execute(f"SELECT contact_id, field FROM conflicts WHERE contact_id IN "
                          f"({','.join('?' * len(contact_ids))}) AND resolved_at IS NULL AND winner = 'none'",
                          list(contact_ids)) as cur:
        return {(r[0], r[1]) for r in await cur.fetchall()}
