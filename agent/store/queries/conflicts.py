"""``conflicts``: fields changed on both sides since the last sync, with both values and the decision.

The sync engine records conflicts (a pull) and skips the fields a person still has to decide (a pull and a
push); a person lists and resolves them (``leadsync.agent.conflicts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import IN_JSON, Store, dumps, json_list, loads
from leadsync.common.answers import Conflict


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
    async with db.execute(f"SELECT contact_id, field FROM conflicts WHERE contact_id IN {IN_JSON} "
                          "AND resolved_at IS NULL AND winner = 'none'", [json_list(contact_ids)]) as cur:
        return {(r[0], r[1]) for r in await cur.fetchall()}


def _conflict(row: aiosqlite.Row) -> Conflict:
    data = {k: row[k] for k in row.keys()}
    for key in ("base_value", "local_value", "crm_value"):
        data[key] = loads(data[key])
    return msgspec.convert(data, Conflict)


async def list_conflicts(store: Store, *, contact_id: int | None, include_resolved: bool, limit: int) -> list[Conflict]:
    """Up to ``limit`` conflicts (open ones unless ``include_resolved``; all, or those of ``contact_id``),
    newest first."""
    where: list[str] = ["1=1"] if include_resolved else ["resolved_at IS NULL"]
    params: list[Any] = []
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    rows = await store.fetchall(f"SELECT * FROM conflicts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                                [*params, limit])
    return [_conflict(r) for r in rows]


async def conflict_by_id(store: Store, conflict_id: int) -> Conflict | None:
    """Conflict ``conflict_id``, or None when there is none."""
    row = await store.fetchone("SELECT * FROM conflicts WHERE id = ?", (conflict_id,))
    return None if row is None else _conflict(row)


async def mark_resolved(db: aiosqlite.Connection, conflict_id: int, resolution: str, stamp: int) -> None:
    """Conflict ``conflict_id`` was resolved by ``resolution`` (the person's choice) at ``stamp`` (epoch ms UTC)."""
    await db.execute("UPDATE conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
                     (stamp, resolution, conflict_id))
