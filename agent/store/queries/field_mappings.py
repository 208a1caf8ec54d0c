"""``field_mappings``: the configured field mappings (one row per local field, in the order saved); none
saved means the CRM's defaults apply (``leadsync.agent.mappings``)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

from leadsync.agent.store.store import Store, dumps, loads
from leadsync.common.answers import FieldMapping


async def saved_mappings(store: Store) -> list[FieldMapping]:
    """The saved mappings in the order saved (empty: none saved)."""
    rows = await store.fetchall("SELECT * FROM field_mappings ORDER BY rowid")
    return [msgspec.convert({"local": r["local"], "crm": r["crm"], "direction": r["direction"], "policy": r["policy"],
                             "skew_ms": r["skew_ms"], "value_map": loads(r["value_map"]) or {},
                             "default_value": loads(r["default_value"]),
                             "crm_by_object": loads(r["crm_by_object"]) or {}}, FieldMapping)
            for r in rows]


async def replace_mappings(db: aiosqlite.Connection, mappings: Sequence[FieldMapping]) -> None:
    """Save ``mappings`` in place of every saved one (one ``executemany``)."""
    await db.execute("DELETE FROM field_mappings")
    await db.executemany(
        "INSERT INTO field_mappings(local, crm, direction, policy, skew_ms, value_map, default_value, "
        "crm_by_object) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(m.local, m.crm, m.direction, m.policy, m.skew_ms, dumps(m.value_map), dumps(m.default_value),
          dumps(m.crm_by_object)) for m in mappings])
