"""``todos``: to-dos on contacts, each assigned to a local user (which shares the contact to them)."""

from __future__ import annotations

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.answers import Todo

ASSIGNED_SQL = "c.id IN (SELECT contact_id FROM todos WHERE assignee = ?)"
"""The condition (on ``contacts c``, one param: a user id) of a contact with a to-do assigned to that user."""


class OpenTodo(msgspec.Struct, frozen=True):
    """A to-do not done yet: its ``assignee`` (user id) and ``title``."""

    assignee: int
    title: str


async def insert_todo(db: aiosqlite.Connection, *, contact_id: int, assignee: int, title: str, due: str | None,
                      created_by: int | None, created_at: int) -> int:
    """Add a to-do on ``contact_id`` for user ``assignee`` (``created_at`` epoch ms UTC); its id."""
    async with db.execute(
        "INSERT INTO todos(contact_id, assignee, title, due, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (contact_id, assignee, title, due, created_by, created_at),
    ) as cur:
        todo_id = cur.lastrowid
    assert todo_id is not None
    return todo_id


async def list_todos(store: Store, *, assignee: int | None = None, contact_id: int | None = None) -> list[Todo]:
    """The to-dos (all, or those of ``assignee`` and/or on ``contact_id``), by id."""
    where: list[str] = ["1=1"]
    params: list[int] = []
    if assignee is not None:
        where.append("assignee = ?")
        params.append(assignee)
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    rows = await store.fetchall(f"SELECT * FROM todos WHERE {' AND '.join(where)} ORDER BY id", params)
    return [to_struct(r, Todo) for r in rows]


async def open_todos(store: Store, contact_id: int) -> list[OpenTodo]:
    """The to-dos on ``contact_id`` not done yet."""
    rows = await store.fetchall("SELECT assignee, title FROM todos WHERE contact_id = ? AND done = 0", (contact_id,))
    return [to_struct(r, OpenTodo) for r in rows]
