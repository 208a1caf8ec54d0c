"""``users``: the local users (email unique by its match key ``email_norm``, name, role ``user`` or
``admin``), each matched to the CRM owner with the same email key (``owners``)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store
from leadsync.common.models import User

_USER_SQL = """
SELECT u.id, u.email, u.name, u.role, u.created_at, o.crm_id, o.active
FROM users u LEFT JOIN owners o ON o.email_norm = u.email_norm
"""


class UserOwner(msgspec.Struct, frozen=True):
    """The CRM owner matched to a user: its ``crm_id`` and whether it is ``active`` in the CRM."""

    crm_id: str
    active: bool


class UserKey(msgspec.Struct, frozen=True):
    """A user as an import matches owner cells: id, email match key and name."""

    id: int
    email_norm: str
    name: str


def _user(row: aiosqlite.Row) -> User:
    return User(
        id=row["id"], email=row["email"], name=row["name"], role=row["role"], created_at=row["created_at"],
        crm_owner_id=row["crm_id"], owner_active=None if row["active"] is None else bool(row["active"]),
    )


async def user_by_id(store: Store, user_id: int) -> User | None:
    """User ``user_id`` with its matched owner, or None when there is none."""
    row = await store.fetchone(_USER_SQL + " WHERE u.id = ?", (user_id,))
    return None if row is None else _user(row)


async def user_by_email(store: Store, email_norm: str) -> User | None:
    """The user whose email match key is ``email_norm``, with its matched owner, or None."""
    row = await store.fetchone(_USER_SQL + " WHERE u.email_norm = ?", (email_norm,))
    return None if row is None else _user(row)


async def all_users(store: Store) -> list[User]:
    """Every user with its matched owner, by id."""
    return [_user(r) for r in await store.fetchall(_USER_SQL + " ORDER BY u.id")]


async def user_keys(store: Store) -> list[UserKey]:
    """Every user's id, email match key and name."""
    return [to_struct(r, UserKey) for r in await store.fetchall("SELECT id, email_norm, name FROM users")]


async def user_id_with_email(db: aiosqlite.Connection, email_norm: str) -> int | None:
    """The id of the user whose email match key is ``email_norm``, or None."""
    async with db.execute("SELECT id FROM users WHERE email_norm = ?", (email_norm,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def insert_user(db: aiosqlite.Connection, *, email: str, email_norm: str, name: str, role: str,
                      created_at: int) -> int:
    """Add a user (``created_at`` epoch ms UTC); its id. Raises aiosqlite.IntegrityError for a used key."""
    async with db.execute("INSERT INTO users(email, email_norm, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
                          (email, email_norm, name, role, created_at)) as cur:
        user_id = cur.lastrowid
    assert user_id is not None
    return user_id


async def user_exists(db: aiosqlite.Connection, user_id: int) -> bool:
    """Whether there is a user ``user_id``."""
    async with db.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)) as cur:
        return await cur.fetchone() is not None


async def count_users(db: aiosqlite.Connection, user_ids: Sequence[int]) -> int:
    """How many of ``user_ids`` (distinct) are users."""
    async with db.execute(f"SELECT count(*) FROM users WHERE id IN ({','.join('?' * len(user_ids))})",
                          list(user_ids)) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def owner_of_user(store: Store, user_id: int) -> UserOwner | None:
    """The CRM owner matched to user ``user_id`` (same email key), or None when unmatched."""
    row = await store.fetchone(
        "SELECT o.crm_id, o.active FROM users u JOIN owners o ON o.email_norm = u.email_norm WHERE u.id = ?",
        (user_id,),
    )
    return None if row is None else to_struct(row, UserOwner)
