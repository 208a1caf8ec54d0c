"""Smart lists: saved contact filters (owner, lifecycle stage, interest level, text, created by, CRM
link state) that can be shared to users, which shares their contacts."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.contacts import filter_sql
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.common.answers import ContactFilter, SmartList
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms


async def get_smart_list(store: Store, list_id: int) -> SmartList:
    row = await store.fetchone("SELECT * FROM smart_lists WHERE id = ?", (list_id,))
    if row is None:
        raise NotFoundError(f"no smart list with id {list_id}")
    shares = await store.fetchall("SELECT user_id FROM smart_list_shares WHERE smart_list_id = ? ORDER BY user_id",
                                  (list_id,))
    return SmartList(id=row["id"], name=row["name"], filter=msgspec.convert(loads(row["filter"]), ContactFilter),
                     created_by=row["created_by"], shared_with=[r[0] for r in shares], created_at=row["created_at"])


async def narrowed_filter(store: Store, list_id: int, flt: ContactFilter) -> ContactFilter:
    """A smart list's saved filter with the fields ``flt`` sets on top; raises NotFoundError."""
    saved = (await get_smart_list(store, list_id)).filter
    return msgspec.structs.replace(saved, **{k: v for k, v in msgspec.structs.asdict(flt).items() if v is not None})


async def list_smart_lists(store: Store) -> list[SmartList]:
    return [await get_smart_list(store, r[0]) for r in await store.fetchall("SELECT id FROM smart_lists ORDER BY id")]


async def save_smart_list(store: Store, *, list_id: int | None, name: str | None, flt: ContactFilter | None,
                          created_by: int | None, shared_with: list[int] | None) -> SmartList:
    """Create (``list_id`` None) or update a smart list; ``shared_with`` replaces the share list."""
    if flt is not None:
        filter_sql(flt)  # validates
    if list_id is None and not (name or "").strip():
        raise ValidationError("name: a smart list needs a name")
    async with store.transaction() as db:
        if created_by is not None:
            async with db.execute("SELECT 1 FROM users WHERE id = ?", (created_by,)) as cur:
                if await cur.fetchone() is None:
                    raise ValidationError(f"created_by: no user with id {created_by}")
        if list_id is None:
            async with db.execute(
                "INSERT INTO smart_lists(name, filter, created_by, created_at) VALUES (?, ?, ?, ?)",
                ((name or "").strip(), dumps(flt or ContactFilter()), created_by, now_ms()),
            ) as cur:
                list_id = cur.lastrowid
        else:
            async with db.execute("SELECT 1 FROM smart_lists WHERE id = ?", (list_id,)) as cur:
                if await cur.fetchone() is None:
                    raise NotFoundError(f"no smart list with id {list_id}")
            if name is not None:
                await db.execute("UPDATE smart_lists SET name = ? WHERE id = ?", (name.strip(), list_id))
            if flt is not None:
                await db.execute("UPDATE smart_lists SET filter = ? WHERE id = ?", (dumps(flt), list_id))
        if shared_with is not None:
            async with db.execute(f"SELECT count(*) FROM users WHERE id IN ({','.join('?' * len(shared_with))})",
                                  shared_with) as cur:
                row = await cur.fetchone()
            if row is None or row[0] != len(set(shared_with)):
                raise ValidationError("shared_with: every entry must be an existing user id")
            await db.execute("DELETE FROM smart_list_shares WHERE smart_list_id = ?", (list_id,))
            await db.executemany("INSERT INTO smart_list_shares(smart_list_id, user_id) VALUES (?, ?)",
                                 [(list_id, u) for u in set(shared_with)])
    assert list_id is not None
    return await get_smart_list(store, list_id)


async def delete_smart_list(store: Store, list_id: int) -> dict[str, Any]:
    async with store.transaction() as db, db.execute("DELETE FROM smart_lists WHERE id = ?", (list_id,)) as cur:
        if cur.rowcount == 0:
            raise NotFoundError(f"no smart list with id {list_id}")
    return {"deleted": list_id}
