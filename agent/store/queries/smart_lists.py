"""``smart_lists`` and ``smart_list_shares``: saved contact filters (``filter``: a ContactFilter as JSON) and
the users each is shared to (which shares them the contacts it matches)."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite
import msgspec

from leadsync.agent.store.store import Store, dumps, loads
from leadsync.common.answers import ContactFilter, SmartList


class ListShare(msgspec.Struct, frozen=True):
    """Smart list ``id`` (``name``, ``filter``) is shared to user ``user_id``."""

    id: int
    name: str
    filter: ContactFilter
    user_id: int


def _filter(text: str) -> ContactFilter:
    return msgspec.convert(loads(text), ContactFilter)


async def smart_list(store: Store, list_id: int) -> SmartList | None:
    """Smart list ``list_id`` with the users it is shared to (by id), or None when there is none."""
    row = await store.fetchone("SELECT * FROM smart_lists WHERE id = ?", (list_id,))
    if row is None:
        return None
    shares = await store.fetchall("SELECT user_id FROM smart_list_shares WHERE smart_list_id = ? ORDER BY user_id",
                                  (list_id,))
    return SmartList(id=row["id"], name=row["name"], filter=_filter(row["filter"]), created_by=row["created_by"],
                     shared_with=[r[0] for r in shares], created_at=row["created_at"])


async def smart_list_ids(store: Store) -> list[int]:
    """Every smart list's id, ascending."""
    return [int(r[0]) for r in await store.fetchall("SELECT id FROM smart_lists ORDER BY id")]


async def insert_smart_list(db: aiosqlite.Connection, *, name: str, flt: ContactFilter, created_by: int | None,
                            created_at: int) -> int:
    """Add a smart list (``created_at`` epoch ms UTC), shared to nobody; its id."""
    async with db.execute("INSERT INTO smart_lists(name, filter, created_by, created_at) VALUES (?, ?, ?, ?)",
                          (name, dumps(flt), created_by, created_at)) as cur:
        list_id = cur.lastrowid
    assert list_id is not None
    return list_id


async def smart_list_exists(db: aiosqlite.Connection, list_id: int) -> bool:
    """Whether there is a smart list ``list_id``."""
    async with db.execute("SELECT 1 FROM smart_lists WHERE id = ?", (list_id,)) as cur:
        return await cur.fetchone() is not None


async def rename(db: aiosqlite.Connection, list_id: int, name: str) -> None:
    """Smart list ``list_id`` is called ``name`` now."""
    await db.execute("UPDATE smart_lists SET name = ? WHERE id = ?", (name, list_id))


async def set_filter(db: aiosqlite.Connection, list_id: int, flt: ContactFilter) -> None:
    """Smart list ``list_id`` matches ``flt`` now."""
    await db.execute("UPDATE smart_lists SET filter = ? WHERE id = ?", (dumps(flt), list_id))


async def replace_shares(db: aiosqlite.Connection, list_id: int, user_ids: Iterable[int]) -> None:
    """Smart list ``list_id`` is shared to exactly ``user_ids`` (one ``executemany``)."""
    await db.execute("DELETE FROM smart_list_shares WHERE smart_list_id = ?", (list_id,))
    await db.executemany("INSERT INTO smart_list_shares(smart_list_id, user_id) VALUES (?, ?)",
                         [(list_id, u) for u in user_ids])


async def delete_smart_list(db: aiosqlite.Connection, list_id: int) -> bool:
    """Delete smart list ``list_id`` and its shares; False when there was none."""
    async with db.execute("DELETE FROM smart_lists WHERE id = ?", (list_id,)) as cur:
        return cur.rowcount != 0


async def filters_shared_to(store: Store, user_id: int) -> list[ContactFilter]:
    """The filters of the smart lists shared to user ``user_id``."""
    rows = await store.fetchall(
        "SELECT s.filter FROM smart_lists s JOIN smart_list_shares h ON h.smart_list_id = s.id WHERE h.user_id = ?",
        (user_id,),
    )
    return [_filter(r["filter"]) for r in rows]


async def all_shares(store: Store) -> list[ListShare]:
    """Every share of every smart list."""
    rows = await store.fetchall("SELECT s.id, s.name, s.filter, h.user_id FROM smart_lists s "
                                "JOIN smart_list_shares h ON h.smart_list_id = s.id")
    return [ListShare(id=r["id"], name=r["name"], filter=_filter(r["filter"]), user_id=r["user_id"]) for r in rows]
