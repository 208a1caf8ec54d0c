"""``crm_links``: which CRM record (CRM, object type, id) each local contact is linked to."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

from leadsync.agent.store.store import IN_JSON, json_list, row_chunks


class Link(msgspec.Struct, frozen=True):
    """Contact ``contact_id`` is CRM record ``crm_id`` (an ``object_type`` of ``crm``), last seen modified at
    ``crm_updated_at`` (epoch ms UTC; None: unknown), linked at ``linked_at``."""

    contact_id: int
    crm: str
    object_type: str
    crm_id: str
    crm_updated_at: int | None
    linked_at: int


def _rows(links: Sequence[Link]) -> list[tuple[int, str, str, str, int | None, int]]:
    return [(k.contact_id, k.crm, k.object_type, k.crm_id, k.crm_updated_at, k.linked_at) for k in links]


UPSERT_ROWS = 128
"""Rows of one multi-row upsert at most (power-of-two slices; 6 parameters each, far below SQLite's 32,766)."""


async def upsert_pulled_links(db: aiosqlite.Connection, links: Sequence[Link]) -> None:
    """Link each contact as a pull saw it: a contact already linked takes the record's id, object type and
    modified time (a merge or conversion in the CRM moves it); ``linked_at`` stays the first link's. One
    multi-row statement per slice of at most :data:`UPSERT_ROWS` (a contact twice: the later row wins, as in order)."""
    for part in row_chunks(_rows(links), UPSERT_ROWS):
        await db.execute(
            "INSERT INTO crm_links(contact_id, crm, object_type, crm_id, crm_updated_at, linked_at) "
            f"VALUES {','.join(['(?, ?, ?, ?, ?, ?)'] * len(part))} ON CONFLICT(contact_id) DO UPDATE SET "
            "crm_id = excluded.crm_id, object_type = excluded.object_type, crm_updated_at = excluded.crm_updated_at",
            [v for row in part for v in row],
        )


async def upsert_pushed_links(db: aiosqlite.Connection, links: Sequence[Link]) -> None:
    """Link each contact to the record a confirmed create (or upsert) made; a contact already linked takes
    only the new id."""
    await db.executemany(
        "INSERT INTO crm_links(contact_id, crm, object_type, crm_id, crm_updated_at, linked_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET crm_id = excluded.crm_id",
        _rows(links),
    )


async def contact_linked_to(db: aiosqlite.Connection, crm: str, crm_id: str) -> int | None:
    """The local contact linked to ``crm``'s record ``crm_id`` (any object type), or None."""
    async with db.execute("SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id = ?", (crm, crm_id)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def move_link(db: aiosqlite.Connection, contact_id: int, crm_id: str, object_type: str | None) -> None:
    """Point ``contact_id``'s link at record ``crm_id`` (of ``object_type``; None: the same type), its
    modified time unknown until the next pull sees it."""
    await db.execute("UPDATE crm_links SET crm_id = ?, object_type = coalesce(?, object_type), "
                     "crm_updated_at = NULL WHERE contact_id = ?", (crm_id, object_type, contact_id))


async def unlink(db: aiosqlite.Connection, contact_id: int) -> None:
    """Remove ``contact_id``'s link."""
    await db.execute("DELETE FROM crm_links WHERE contact_id = ?", (contact_id,))


async def object_types_of(db: aiosqlite.Connection, crm: str, crm_ids: Sequence[str]) -> dict[str, str]:
    """The object type each of ``crm``'s records ``crm_ids`` is linked as, by CRM id (records not linked are
    left out)."""
    if not crm_ids:
        return {}
    async with db.execute(f"SELECT crm_id, object_type FROM crm_links WHERE +crm = ? AND crm_id IN {IN_JSON}",
                          [crm, json_list(crm_ids)]) as cur:
        return {str(r[0]): str(r[1]) for r in await cur.fetchall()}
