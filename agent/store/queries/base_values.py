"""``base_values``: each linked contact's base, the field values both sides last agreed on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import dumps, loads, row_chunks


class BaseValue(msgspec.Struct, frozen=True):
    """One contact's base: ``vals`` {local field: value}, set by sync run ``sync_run_id`` at ``synced_at``
    (epoch ms UTC)."""

    contact_id: int
    vals: dict[str, Any]
    sync_run_id: int | None
    synced_at: int


UPSERT_ROWS = 128
"""Rows of one multi-row upsert at most (power-of-two slices; 4 parameters each, far below SQLite's 32,766)."""


async def upsert_base_values(db: aiosqlite.Connection, bases: Sequence[BaseValue]) -> None:
    """Insert or replace the base of every contact in ``bases`` (one multi-row statement per slice of at
    most :data:`UPSERT_ROWS`; a contact twice: the later base wins, as in order)."""
    for part in row_chunks(bases, UPSERT_ROWS):
        await db.execute(
            f"INSERT INTO base_values(contact_id, vals, sync_run_id, synced_at) VALUES "
            f"{','.join(['(?, ?, ?, ?)'] * len(part))} ON CONFLICT(contact_id) DO UPDATE SET vals = excluded.vals, "
            "sync_run_id = excluded.sync_run_id, synced_at = excluded.synced_at",
            [v for b in part for v in (b.contact_id, dumps(b.vals), b.sync_run_id, b.synced_at)],
        )


async def base_of(db: aiosqlite.Connection, contact_id: int) -> dict[str, Any] | None:
    """The base values of ``contact_id``, or None when it has none."""
    async with db.execute("SELECT vals FROM base_values WHERE contact_id = ?", (contact_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else loads(str(row[0]))


async def set_base_field(db: aiosqlite.Connection, contact_id: int, field: str, value: Any) -> None:
    """Set ``field`` of the base of ``contact_id`` to ``value`` (a contact without a base keeps none)."""
    await db.execute("UPDATE base_values SET vals = json_set(vals, ?, json(?)) WHERE contact_id = ?",
                     (f"$.{field}", dumps(value), contact_id))
