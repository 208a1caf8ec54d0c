"""``run_changes``: what each sync run changed, field by field on either side, so that it can be undone.

A pull's change of a local field and a push's confirmed write of a CRM property are recorded in the same
transaction as the change itself (one ``executemany`` per page or batch), in local terms: the local field,
its value before and the value the run wrote (the CRM property and object written, for the CRM side). A CRM
record the run created is one ``op = 'create'`` row. Times are epoch ms UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.queries.contacts import ContactValues
from leadsync.agent.store.store import chunks, dumps, loads
from leadsync.common.models import STANDARD_FIELDS


class RunChange(msgspec.Struct, frozen=True):
    """Sync run ``sync_run_id`` changed contact ``contact_id`` on ``side`` (``local`` or ``crm``): ``op``
    ``update`` of local ``field`` from ``before`` to ``after`` (local values; on the CRM side through
    ``property`` of the ``object_type`` record ``crm_id``), or ``create`` of that CRM record (``field`` "")."""

    sync_run_id: int
    contact_id: int
    side: str
    op: str
    field: str
    property: str | None
    object_type: str | None
    crm_id: str | None
    before: Any
    after: Any
    changed_at: int


async def insert_run_changes(db: aiosqlite.Connection, changes: Sequence[RunChange]) -> None:
    """Record ``changes`` (one ``executemany``)."""
    await db.executemany(
        "INSERT INTO run_changes(sync_run_id, contact_id, side, op, field, property, object_type, crm_id, before, "
        "after, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.sync_run_id, c.contact_id, c.side, c.op, c.field, c.property, c.object_type, c.crm_id, dumps(c.before),
          dumps(c.after), c.changed_at) for c in changes],
    )


async def changes_of_run(db: aiosqlite.Connection, run_id: int) -> list[RunChange]:
    """Every change sync run ``run_id`` recorded, in the order it made them."""
    async with db.execute("SELECT * FROM run_changes WHERE sync_run_id = ? ORDER BY id", (run_id,)) as cur:
        rows = await cur.fetchall()
    return [RunChange(r["sync_run_id"], r["contact_id"], r["side"], r["op"], r["field"], r["property"],
                      r["object_type"], r["crm_id"], loads(r["before"]), loads(r["after"]), r["changed_at"])
            for r in rows]


async def mark_undo(db: aiosqlite.Connection, undo_run: int, undone: int) -> None:
    """Sync run ``undo_run`` undid run ``undone``."""
    await db.execute("UPDATE sync_runs SET undoes = ? WHERE id = ?", (undone, undo_run))


class UndoTarget(ContactValues, kw_only=True):
    """A contact as an undo finds it now: its values, CRM state, link (``crm_id`` None: not linked) and base."""

    crm_state: str
    crm_id: str | None
    object_type: str | None
    base: dict[str, Any]


async def undo_targets(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> dict[int, UndoTarget]:
    """The contacts ``contact_ids`` as they are now, by id (missing ones left out; one statement per 500)."""
    found: dict[int, UndoTarget] = {}
    cols = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
    for ids in chunks(contact_ids, 500):
        async with db.execute(
                f"SELECT c.id, {cols}, c.fields, c.crm_state, l.crm_id, l.object_type, b.vals FROM contacts c "
                "LEFT JOIN crm_links l ON l.contact_id = c.id LEFT JOIN base_values b ON b.contact_id = c.id "
                f"WHERE c.id IN ({','.join('?' * len(ids))})", list(ids)) as cur:
            for r in await cur.fetchall():
                found[r["id"]] = UndoTarget(id=r["id"], standard={f: r[f] for f in STANDARD_FIELDS},
                                            fields=loads(r["fields"]) or {}, crm_state=r["crm_state"],
                                            crm_id=r["crm_id"], object_type=r["object_type"],
                                            base=loads(r["vals"]) or {})
    return found
