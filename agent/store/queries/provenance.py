"""``provenance``: for each contact field, who changed it last (``crm``, ``merge`` or a local source), in
which sync run, when, and the value before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import IN_JSON, Store, dumps, json_list, loads


class FieldChange(msgspec.Struct, frozen=True):
    """Field ``field`` of contact ``contact_id`` was changed by ``source`` in sync run ``sync_run_id`` at
    ``changed_at`` (epoch ms UTC); ``previous`` is the value it replaced."""

    contact_id: int
    field: str
    source: str
    sync_run_id: int | None
    changed_at: int
    previous: Any


async def upsert_field_changes(db: aiosqlite.Connection, changes: Sequence[FieldChange]) -> None:
    """Record each change as its field's provenance, replacing the one before (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO provenance(contact_id, field, source, sync_run_id, changed_at, previous) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(contact_id, field) DO UPDATE SET source = excluded.source, sync_run_id = excluded.sync_run_id, "
        "changed_at = excluded.changed_at, previous = excluded.previous",
        [(c.contact_id, c.field, c.source, c.sync_run_id, c.changed_at, dumps(c.previous)) for c in changes],
    )


async def local_edit_times(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    """When each field of ``contact_ids`` was last changed other than by the CRM: {(contact, field): epoch ms}."""
    if not contact_ids:
        return {}
    async with db.execute(f"SELECT contact_id, field, changed_at FROM provenance WHERE contact_id IN {IN_JSON} "
                          "AND source != 'crm'", [json_list(contact_ids)]) as cur:
        return {(r[0], r[1]): r[2] for r in await cur.fetchall()}


async def for_contact(store: Store, contact_id: int) -> list[FieldChange]:
    """The provenance of each field of ``contact_id`` changed since leadsync knew it, by field name."""
    rows = await store.fetchall("SELECT * FROM provenance WHERE contact_id = ? ORDER BY field", (contact_id,))
    return [FieldChange(contact_id=r["contact_id"], field=r["field"], source=r["source"],
                        sync_run_id=r["sync_run_id"], changed_at=r["changed_at"], previous=loads(r["previous"]))
            for r in rows]
